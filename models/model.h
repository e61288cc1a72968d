// The Model interface every analysis runs against, and what a forward pass takes.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "hooks/hook_point.h"
#include "hooks/hook_registry.h"

namespace cs::models {

/// One batch. Language models take `tokens` (or `embeddings` instead, e.g. for gradients with
/// respect to the input); image models take `pixels`.
/// The `{}` initialisers let ModelInput{tokens} and {tokens, mask} compile without -Wextra
/// warnings about the members left out.
struct ModelInput {
  at::Tensor tokens{};         // [B, T] int64 token ids
  at::Tensor attentionMask{};  // [B, T] 1 = real token, 0 = padding; optional
  at::Tensor embeddings{};     // [B, T, D] token embeddings used instead of tokens; optional
  at::Tensor pixels{};         // [B, C, H, W] normalised images
};

class Model {
 public:
  virtual ~Model() = default;
  /// Logits: [B, T, V] for language models, [B, C] for classifiers.
  virtual at::Tensor forward(const ModelInput& input) = 0;
  virtual hooks::HookRegistry& hooks() = 0;
  /// Every hook point this model fires, in forward order.
  virtual std::vector<hooks::HookPoint> hookPoints() const = 0;
};

}  // namespace cs::models
