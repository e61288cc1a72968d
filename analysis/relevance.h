// Layer-wise relevance propagation (ALGORITHMS.md section 7; AttnLRP, ICML 2024, reference
// rachtibat/LRP-eXplains-Transformers and chr5tphr/zennit) in its gradient-times-input form:
// the model runs one forward pass under models::RelevanceRules, which reshape only the
// backward pass, then one backward pass from the target logit; the relevance of any tensor t is
// t * dlogit/dt. Works for every Transformer (GPT-2, Llama family, ViT, the built-in models).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "analysis/results/relevance_result.h"
#include "core/progress.h"
#include "hooks/hook_point.h"
#include "models/transformer.h"

namespace cs::analysis {

struct RelevanceOptions {
  /// Default: the model's kind decides (visionRelevanceRules for image models,
  /// languageModelRelevanceRules otherwise).
  std::optional<models::RelevanceRules> rules;
  std::int64_t target = -1;    ///< class or next token; -1: the top prediction
  std::int64_t position = -1;  ///< language models: explained position; -1: the last real one
};

/// The rules options.rules names, or the specification's default for the model's kind.
models::RelevanceRules relevanceRulesFor(const models::Transformer& model,
                                         const RelevanceOptions& options);

/// Relevance of one example ([1, T] tokens, [1, T, D] embeddings or [1, C, H, W] pixels). One
/// forward and one backward pass (gamma layers add about four linear evaluations each).
/// ShapeError for a batch; ConfigError for a target or position out of range or rules that do
/// not fit the model.
RelevanceResult computeRelevance(models::Transformer& model, const models::ModelInput& input,
                                 const RelevanceOptions& options = {},
                                 Progress& progress = noProgress());

/// What one batched relevance pass returns: the logits (detached) and, per requested hook
/// point, the relevance t * grad of its activation (same shape; zeros where no gradient flows).
struct RelevancePass {
  at::Tensor logits;
  std::vector<at::Tensor> relevance;
  at::Tensor pixels;  ///< image models: [B, C, H, W] input relevance
};

/// The building block of the analyses on relevance: one forward under `rules` (hooks already
/// attached to the model stay in force), then one backward of objective(logits), a scalar.
/// hook_embed and hook_pos_embed are made leaves of the graph, so their relevance is that of
/// the input.
RelevancePass runRelevancePass(models::Transformer& model, const models::ModelInput& input,
                               const models::RelevanceRules& rules,
                               const std::vector<hooks::HookPoint>& points,
                               const std::function<at::Tensor(const at::Tensor&)>& objective);

}  // namespace cs::analysis
