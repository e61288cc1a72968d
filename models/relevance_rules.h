// How a forward pass shapes its own backward pass for layer-wise relevance propagation in
// gradient-times-input form (ALGORITHMS.md section 7, AttnLRP / CP-LRP). With rules set, every
// forward value stays what it was; only the gradients change, so that `t * dlogit/dt` at any
// tensor t is its relevance. The model code stays one forward: the pieces below replace the
// plain operations where rules are set.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "models/transformer_config.h"
#include "models/transformer_weights.h"

namespace cs::models {

enum class AttentionRule {
  AttnLrp,  ///< relevance flows into Q, K (half of each product's share) and V
  CpLrp,    ///< attention probabilities held constant: relevance flows through V only
};

/// A generalised gamma rule for the linear layers of blocks first..last (inclusive).
struct GammaGroup {
  int firstLayer = 0;
  int lastLayer = 0;
  double gamma = 0.0;
};

struct RelevanceRules {
  AttentionRule attention = AttentionRule::AttnLrp;
  double gammaPatch = 0.0;   ///< the patch embedding (a convolution); 0: epsilon rule
  double gammaLinear = 0.0;  ///< every linear layer of the blocks unless a group says otherwise
  std::vector<GammaGroup> groups;   ///< later groups win where they overlap
  std::optional<double> gammaHead;  ///< the unembedding / classifier; unset: gammaLinear
  double epsilon = 1e-6;            ///< stabiliser of the gamma rule's denominators

  /// The gamma of block `layer`'s linear layers; layer -1 is the head.
  double gammaFor(int layer) const;
  /// E.g. "AttnLRP, epsilon" or "CP-LRP, gamma patch 0.25, linear 0.05".
  std::string describe() const;
  /// ConfigError for a negative or non-finite gamma, a bad group, epsilon <= 0.
  void validate(int nLayers) const;
};

/// The specification's default for language models: AttnLRP with the epsilon rule everywhere.
RelevanceRules languageModelRelevanceRules();
/// The specification's default for ViT heatmaps: CP-LRP, gamma 0.25 on the patch embedding and
/// 0.05 on every linear layer.
RelevanceRules visionRelevanceRules();

/// sign-aware stabiliser: z + eps * sign(z), with sign(0) = +1.
at::Tensor stabilize(const at::Tensor& z, double eps);

/// Value x; gradient multiplied by `factor` (the uniform rule's share of a product).
at::Tensor scaleGradient(const at::Tensor& x, double factor);

/// Value `post` = f(pre); the gradient reaching `pre` is grad * f(pre) / (pre + 1e-10): the
/// identity rule through an element-wise non-linearity.
at::Tensor identityRule(const at::Tensor& pre, const at::Tensor& post);

/// Value x W + b (W [in, out], b [out] or undefined); the backward converts the incoming
/// gradient to relevance (grad * output), passes it back by the generalised gamma rule and
/// returns relevance / stab(x, 1e-10) as x's gradient. No gradient reaches W or b.
at::Tensor gammaLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double gamma,
                       double eps);

/// The explicit generalised gamma rule (reference form): relevance `r` [..., out] of
/// z = x W + b passed back to x [..., in]. gamma = 0 is the epsilon rule with `eps`.
at::Tensor gammaRule(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                     const at::Tensor& r, double gamma, double eps);

/// LayerNorm or RMSNorm with 1 / sigma held constant in the backward (identity rule on the
/// normalisation). Same values as applyNorm.
at::Tensor normWithConstantScale(const at::Tensor& x, const NormWeights& w, NormKind kind,
                                 double eps);

}  // namespace cs::models
