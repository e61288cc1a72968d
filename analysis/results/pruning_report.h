// Full, masked and compacted model side by side: evaluation and latency. Plain struct: viewers
// read it without libtorch.
#pragma once

#include <string>
#include <vector>

#include "analysis/results/eval_result.h"
#include "analysis/results/latency_result.h"

namespace cs::analysis {

struct PruningVariant {
  std::string name;  ///< "full", "masked" or "compacted"
  bool present = true;
  std::string absentReason;  ///< why a variant was not built (e.g. mean ablations)
  EvalResult eval;
  LatencyResult latency;
};

struct PruningReport {
  std::string dataset;
  std::size_t maskEntries = 0;
  std::vector<PruningVariant> variants;  ///< full, masked, compacted, in that order
  /// Largest |logit difference| between compacted and masked on the latency batch (0 when
  /// there is no compacted model): the check that compaction removed only what was masked.
  double compactedVsMaskedMaxDiff = 0.0;
};

}  // namespace cs::analysis
