// The Gram matrices of the Local Interaction Basis (ALGORITHMS.md section 9 step 1) streamed from
// an activation store instead of the live dataset: a recording made once (possibly on a larger
// set, or on another machine) gives each node layer's Gram in float64 without holding the
// activations in memory. The Jacobians still run on the live rows.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/store/store_layout.h"

namespace cs::analysis {

/// Where the Grams come from, and which model they must belong to.
struct LibGramRecording {
  std::filesystem::path store;
  data::ModelIdentity model;  ///< the analysed model's identity; the store's must match it
  std::int64_t limit = 0;     ///< examples read from the store's start (0: every committed one)
  std::int64_t batchSize = 1024;
};

/// One node layer the Grams are wanted for, as the analysis sees it.
struct RecordedNodeLayer {
  std::string name;            ///< "blocks.0.hook_resid_pre", ..., "output"
  std::int64_t width = 0;      ///< folded width: d + 1 on the residual stream, V at the output
  bool hasConstant = true;     ///< residual stream: the folded constant coordinate comes last
  std::int64_t positions = 0;  ///< P of the residual node layers on the live rows
  /// The output's scored position in the recorded logits (language models; -1: the last).
  std::int64_t outputPosition = -1;
};

struct RecordedGrams {
  std::vector<Eigen::MatrixXd> gram;  ///< per node layer, folded [n, n], uncentred
  std::vector<Eigen::VectorXd> mean;  ///< per node layer, folded [n]
  std::int64_t examples = 0;          ///< store examples the Grams average over
};

/// The folded Grams G = mean over examples and positions of [h, 1][h, 1]^T (residual node
/// layers, from the recorded hook of the same name) and of the logits at the scored position
/// (the output node layer, from hook_logits), accumulated in float64 batch by batch. A store
/// still being written contributes the examples committed when it is opened. ConfigError naming
/// the store and what to do for: another model's recording, a node layer not recorded, positions
/// other than "all", shapes that do not fit the model or the live rows, no examples.
RecordedGrams gramsFromRecording(const LibGramRecording& recording,
                                 const std::vector<RecordedNodeLayer>& layers,
                                 Progress& progress = noProgress());

}  // namespace cs::analysis
