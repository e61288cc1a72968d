// What the layer-importance analysis (ALGORITHMS.md section 2) reports: the mean input/output
// cosine similarity of every block, attention and MLP sublayer over a calibration set, the
// modules chosen for dropping and, on request, the accuracy after dropping the first k of them.
// Plain struct (std + Eigen): viewers draw the bar charts and the curve without libtorch.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

/// A module chosen for dropping: one sublayer, one block, or (consecutive mode) `count` blocks
/// starting at `layer`.
struct DroppedModule {
  std::string kind;         ///< "block", "attn" or "mlp"
  int layer = 0;            ///< the (first) block
  int count = 1;            ///< blocks dropped together (consecutive mode), else 1
  double similarity = 0.0;  ///< its mean cosine similarity when it was chosen
};

/// The model evaluated with the first `dropped` modules of the drop order skipped.
struct DropCurvePoint {
  int dropped = 0;
  std::string modules;  ///< what is skipped, e.g. "attn 3, attn 1" or "blocks 4-6"
  double accuracy = 0.0;
  double meanLoss = 0.0;
};

struct LayerSimilarityResult {
  std::string dataset;
  std::string mode;          ///< "discrete", "joint", "iterative" or "consecutive"
  std::string target;        ///< what was ranked: "block", "attn", "mlp" or "sublayers"
  std::int64_t samples = 0;  ///< calibration rows
  std::int64_t tokens = 0;   ///< valid (row, position) pairs averaged over (padding excluded)
  /// [L] mean cos(X, Y) of each block, attention and MLP sublayer of the unmodified model;
  /// importance = 1 - similarity. A sublayer the model already skips has similarity 1 and
  /// importance 0 and is never chosen again.
  std::vector<double> blockSimilarity, attnSimilarity, mlpSimilarity;
  std::vector<double> blockImportance, attnImportance, mlpImportance;
  std::vector<bool> attnSkipped, mlpSkipped;  ///< [L] already skipped in the model
  /// [L + 1, L + 1] mean cos(h_i, h_j) over the residual stream h_0..h_L (consecutive mode
  /// only, else empty); the consecutive score of n blocks from i is entry (i, i + n).
  Eigen::MatrixXd residualSimilarity;
  /// Consecutive mode: sim_n(i) for i = 0..L-n with n = dropN; empty otherwise.
  std::vector<double> consecutiveSimilarity;
  int dropN = 0;                       ///< modules (consecutive: blocks) dropped, after clipping
  std::vector<DroppedModule> dropped;  ///< in drop order
  std::vector<DropCurvePoint> curve;   ///< k = 0..dropN when requested, else empty
  int forwardPasses = 0;               ///< similarity passes over the calibration set
  double seconds = 0.0;
};

}  // namespace cs::analysis
