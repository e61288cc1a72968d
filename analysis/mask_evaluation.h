// Evaluating a model under a mask, with the unmodified baseline alongside, and the three-way
// comparison (full, masked, compacted) of accuracy and latency that `prune` and the GUI's live
// panel show.
#pragma once

#include <memory>

#include "analysis/evaluation.h"
#include "analysis/latency.h"
#include "analysis/results/pruning_report.h"
#include "hooks/ablation_means.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::analysis {

/// Evaluates with the masks applied (the model is restored afterwards). This is the call a live
/// panel makes on every mask change: the baseline is computed once and kept by the caller.
EvalResult evaluateMasked(models::Transformer& model, const data::Dataset& dataset,
                          const hooks::MaskSet& masks, const hooks::AblationMeans* means,
                          const EvalOptions& options = {}, Progress& progress = noProgress());

struct PruningOptions {
  EvalOptions eval;
  LatencyOptions latency;
  std::int64_t latencyBatch = 8;  ///< rows of the dataset's first batch used for timing
};

/// Evaluates and times the full model, the masked model and (when the mask holds only zero
/// ablations) the compacted model. The compacted model is returned through `compacted` when
/// the caller wants to export it.
PruningReport comparePruning(models::Transformer& model, const data::Dataset& dataset,
                             const hooks::MaskSet& masks, const hooks::AblationMeans* means,
                             const PruningOptions& options = {}, Progress& progress = noProgress(),
                             std::unique_ptr<models::Transformer>* compacted = nullptr);

}  // namespace cs::analysis
