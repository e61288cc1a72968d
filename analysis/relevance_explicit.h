// Layer-wise relevance propagation with the explicit rules of ALGORITHMS.md section 7, rule by
// rule on stored activations: the epsilon rule and the generalised gamma rule for linear layers,
// the identity rule for non-linearities and for the normalisation scale, the uniform rule for
// products, the softmax rule, and the residual split. It is the reference that the
// gradient-times-input form (analysis/relevance.h) is tested against, and it obeys the same
// models::RelevanceRules (attention rule, gamma per layer group).
#pragma once

#include "analysis/relevance.h"

namespace cs::analysis {

/// The same result as computeRelevance, from the explicit rules with stabiliser `epsilon` on
/// every epsilon-rule denominator (the gamma rule uses rules.epsilon). Supports LayerNorm,
/// RMSNorm or no norm; plain or gated MLPs; learned or no positions; tokens, embeddings or
/// patches; causal masks and padding. ConfigError for rotary positions, grouped-query attention
/// and hooks attached to the model (the explicit pass does not run them). Slower than the
/// gradient form and for one example only.
RelevanceResult explicitRelevance(models::Transformer& model, const models::ModelInput& input,
                                  const RelevanceOptions& options = {}, double epsilon = 1e-6);

}  // namespace cs::analysis
