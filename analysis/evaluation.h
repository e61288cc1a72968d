// Evaluation of a model on a dataset: accuracy, mean loss and logit difference, batch by batch
// with progress and cancellation.
#pragma once

#include <cstdint>

#include "analysis/results/eval_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/model.h"

namespace cs::analysis {

struct EvalOptions {
  std::int64_t batchSize = 32;
  std::int64_t limit = 0;  ///< evaluate at most this many rows (0: all)
};

EvalResult evaluate(models::Model& model, const data::Dataset& dataset,
                    const EvalOptions& options = {}, Progress& progress = noProgress());

}  // namespace cs::analysis
