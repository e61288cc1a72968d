// What evaluating a model on a dataset reports. Plain struct: viewers read it without libtorch.
#pragma once

#include <cstdint>
#include <string>

namespace cs::analysis {

struct EvalResult {
  std::string dataset;           ///< the dataset's description
  std::int64_t rows = 0;         ///< rows evaluated
  std::int64_t predictions = 0;  ///< scored predictions (rows, or positions for corpora)
  double accuracy = 0.0;         ///< top-1 correct / predictions
  double meanLoss = 0.0;         ///< mean cross-entropy (nats) over predictions
  bool hasLogitDiff = false;     ///< foils were present
  double meanLogitDiff = 0.0;    ///< mean of logit[target] - logit[foil]
  double seconds = 0.0;          ///< wall time of the forward passes
};

}  // namespace cs::analysis
