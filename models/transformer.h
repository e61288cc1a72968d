// The config-driven Transformer: GPT-2, the Llama family (Mistral, Qwen2), ViT and the toys.
// Pre-norm blocks; every intermediate passes through its hook point (hooks/hook_point.h).
// Legend: B batch, T positions, D model width, H heads, Hkv key/value heads, E head width,
// F MLP width, V vocabulary or classes.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <optional>
#include <vector>

#include "hooks/hook_registry.h"
#include "models/model.h"
#include "models/relevance_rules.h"
#include "models/transformer_config.h"
#include "models/transformer_weights.h"

namespace cs::models {

enum class Sublayer { Attention, Mlp };

class Transformer final : public Model {
 public:
  /// Checks every weight's shape against the config (ShapeError naming the weight).
  Transformer(TransformerConfig config, TransformerWeights weights);

  at::Tensor forward(const ModelInput& input) override;
  hooks::HookRegistry& hooks() override { return m_hooks; }
  std::vector<hooks::HookPoint> hookPoints() const override;

  const TransformerConfig& config() const { return m_config; }
  /// Mutable for pruning and editing; keep shapes as they are.
  TransformerWeights& weights() { return m_weights; }
  const TransformerWeights& weights() const { return m_weights; }

  /// The forward pass from blocks.{firstLayer}.hook_resid_pre on: `residual` [B, T, D] takes the
  /// place of the embedding and the blocks before `firstLayer`, whose hooks do not fire.
  /// `input` gives what the remaining blocks need besides the residual (attention mask,
  /// positions); its tokens or pixels are not embedded. firstLayer == nLayers runs the tail only.
  /// Analyses that change nothing before a layer (patching sweeps) reuse the cached prefix.
  at::Tensor forwardFrom(int firstLayer, const at::Tensor& residual, const ModelInput& input);
  /// forwardFrom without the tail: the final residual stream [B, T, D] (what
  /// blocks.{L-1}.hook_resid_post holds), for callers that read out only some positions.
  at::Tensor runBlocks(int firstLayer, const at::Tensor& residual, const ModelInput& input);

  /// The model's tail without hooks: final norm and unembedding (classifiers: of the class
  /// token, or the mean over patches). `finalResidual` is [B, T, D] as blocks.{L-1}.hook_resid_post
  /// holds it; analyses use it to read out an edited residual stream (logit lens, path views).
  at::Tensor readout(const at::Tensor& finalResidual) const;

  /// Skips (drops) or restores a sublayer of one block; ConfigError for a layer out of range.
  void setSkipped(int layer, Sublayer sublayer, bool skipped);

  c10::Device device() const;
  at::ScalarType dtype() const;
  /// With rules set, forward passes keep their values but shape their backward for relevance
  /// propagation in gradient-times-input form (models/relevance_rules.h); nullopt restores
  /// plain gradients. ConfigError for rules that do not fit the model.
  void setRelevanceRules(std::optional<RelevanceRules> rules);
  const std::optional<RelevanceRules>& relevanceRules() const { return m_rules; }

  /// Moves and casts every weight (e.g. to CUDA, or to float64 for exact checks).
  void to(c10::Device device, at::ScalarType dtype);

 private:
  struct Context;  // per-forward state: mask, rotary tables, sizes

  at::Tensor embed(const ModelInput& input, Context& ctx);
  /// Fills the mask and rotary tables of a [batch, tokens] forward; returns the positions.
  at::Tensor prepareContext(const ModelInput& input, int64_t batch, int64_t tokens,
                            Context& ctx) const;
  at::Tensor block(int layer, at::Tensor x, const Context& ctx);
  at::Tensor attention(int layer, const at::Tensor& x, const Context& ctx);
  at::Tensor mlp(int layer, const at::Tensor& x);
  at::Tensor unembed(at::Tensor x) const;
  /// x W + b of block `layer` (-1: the head): the gamma rule's backward when rules ask for it.
  at::Tensor linear(int layer, const at::Tensor& x, const at::Tensor& w,
                    const at::Tensor& b = {}) const;
  at::Tensor norm(const at::Tensor& x, const NormWeights& w) const;
  /// The activation; the identity rule's backward under relevance rules.
  at::Tensor activate(const at::Tensor& pre) const;
  /// Patch embedding [B, C, H, W] -> [B, N, D] (a convolution, or the gamma rule's linear form).
  at::Tensor embedPatches(const at::Tensor& pixels) const;
  void checkShapes() const;

  TransformerConfig m_config;
  TransformerWeights m_weights;
  hooks::HookRegistry m_hooks;
  std::optional<RelevanceRules> m_rules;
  at::Tensor m_invFreq;  // [E/2] rotary inverse frequencies
};

}  // namespace cs::models
