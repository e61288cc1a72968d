// What training a model reports: the run's settings, how far it went, and the accuracies
// measured at the end. Plain struct: viewers and the CLI read it without libtorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

/// One periodic evaluation during training.
struct TrainLogEntry {
  std::int64_t step = 0;       ///< optimiser steps done
  double loss = 0.0;           ///< training loss of the last batch (nats)
  double batchAccuracy = 0.0;  ///< accuracy on the last training batch
  double metric = 0.0;         ///< the early-stop metric (held-out accuracy)
  double seconds = 0.0;        ///< since training started
};

struct TrainResult {
  std::string recipe;
  std::uint64_t seed = 0;
  std::int64_t steps = 0;     ///< optimiser steps taken
  std::int64_t maxSteps = 0;  ///< the step budget
  int threads = 0;            ///< intra-op threads in force (results depend on it)
  double seconds = 0.0;       ///< wall time of the training loop
  double target = 0.0;        ///< early-stop target of the held-out accuracy
  bool reachedTarget = false;

  std::string trainDataset;  ///< dataset specs (docs/datasets.md) the accuracies are measured on
  std::string testDataset;
  double trainAccuracy = 0.0;
  double testAccuracy = 0.0;
  double trainLoss = 0.0;
  double testLoss = 0.0;
  /// Induction only: accuracy on the first (unrepeated) half of the test rows, where nothing
  /// better than chance (1 / vocabulary) is possible. Negative when not measured.
  double firstHalfAccuracy = -1.0;

  std::vector<TrainLogEntry> log;
};

}  // namespace cs::analysis
