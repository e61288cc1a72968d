// Numeric health: while a NumericHealthGuard lives, every hook point of a model checks its
// activation and the first NaN or Inf stops the forward pass with a NumericError that names the
// point, so a user sees where non-finite values start instead of NaN logits at the end.
#pragma once

#include <ATen/core/Tensor.h>

#include "hooks/hook_point.h"
#include "hooks/hook_registry.h"
#include "models/model.h"

namespace cs::models {

/// NumericError naming `point`, the number of non-finite values, whether the first is NaN or
/// Inf and its batch row and position (query position for attention scores and patterns; no
/// position for classifier logits), unless every value of `x` is finite. Integer tensors pass.
/// Attention scores may hold -inf (masked keys in half precision): only NaN and +inf count there.
void requireFinite(const at::Tensor& x, const hooks::HookPoint& point);

/// Observes every hook point the model fires (except blocks.L.attn.hook_result, which is only
/// computed when hooked: a non-finite W_O shows at hook_attn_out instead) with requireFinite.
/// Observers only read, so a healthy forward pass gives bit-identical results; each point costs
/// one pass over its activation.
class NumericHealthGuard {
 public:
  explicit NumericHealthGuard(Model& model);
  NumericHealthGuard(const NumericHealthGuard&) = delete;
  NumericHealthGuard& operator=(const NumericHealthGuard&) = delete;

  /// Hook points being checked.
  std::size_t size() const { return m_hooks.size(); }

 private:
  hooks::ScopedHooks m_hooks;
};

}  // namespace cs::models
