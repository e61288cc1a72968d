// Which heads matter: the model evaluated once per attention head with only that head ablated
// (zero or mean), next to the unablated baseline. The demo's pruning experiment and the GUI's
// head grid both start here.
#pragma once

#include "analysis/evaluation.h"
#include "analysis/results/head_ablation_result.h"
#include "hooks/ablation_means.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::analysis {

struct HeadAblationOptions {
  EvalOptions eval;
  hooks::AblationMode mode = hooks::AblationMode::Zero;  ///< zero or mean
};

/// One evaluation per head plus the baseline, with progress over all of them. Mean ablation
/// needs `means`.
HeadAblationResult ablateEachHead(models::Transformer& model, const data::Dataset& dataset,
                                  const HeadAblationOptions& options = {},
                                  const hooks::AblationMeans* means = nullptr,
                                  Progress& progress = noProgress());

}  // namespace cs::analysis
