// What residual path decomposition and direct logit attribution (ALGORITHMS.md section 3)
// report. Plain structs (std + Eigen): viewers draw the bar charts and head heatmaps without
// libtorch.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

/// One parallel path of the unrolled residual stream: the embedding (token + position
/// embeddings, h_0) or one attention or MLP sublayer's output.
struct ResidualPath {
  std::string name;      ///< "embed", "attn 3", "mlp 3"
  int layer = -1;        ///< -1 for the embedding
  int depth = 0;         ///< 0 embedding, 2l + 1 attention, 2l + 2 MLP
  bool skipped = false;  ///< a skipped (dropped) sublayer: its contribution is exactly 0
};

/// One batch of examples decomposed. Matrices have one row per example.
struct ResidualDecompositionResult {
  std::vector<ResidualPath> paths;  ///< 2L + 1, in forward order
  std::string readout;              ///< where the logits read, e.g. "last real token"
  std::string norm;                 ///< "layer_norm", "rms_norm" or "none"
  int maxHeads = 0;

  std::vector<std::int64_t> positions;  ///< per example: the position read (-1: pooled)
  std::vector<std::int64_t> answers;    ///< per example: u = e_answer - e_foil
  std::vector<std::int64_t> foils;      ///< -1 when u = e_answer alone

  Eigen::VectorXd directionLogit;  ///< u^T logits of the model's own forward pass
  Eigen::VectorXd constant;        ///< u^T (W_U beta + b_U): the part no path carries
  Eigen::VectorXd finalScale;      ///< sigma_f, frozen from the clean run (mean when pooled)
  Eigen::MatrixXd dla;             ///< [examples, paths] direct logit attribution
  /// Per example [layers, maxHeads]: DLA of each head's result r_{l,i}; NaN where a layer has
  /// fewer heads. Empty when heads were not asked for.
  std::vector<Eigen::MatrixXd> headDla;
  Eigen::MatrixXd biasDla;  ///< [examples, layers] DLA of b_O (0 without one)

  /// Path-ensemble views, u^T logits and top-1 prediction per [example, path]. They recompute
  /// the final norm (unlike DLA, which freezes sigma_f):
  /// lens: readout of the cumulative sum of paths up to and including p (logit lens);
  /// solo: readout of c_p alone; leaveOneOut: readout of h_L - c_p.
  Eigen::MatrixXd lens, solo, leaveOneOut;
  Eigen::MatrixXi lensTop, soloTop, leaveOneOutTop;
  bool hasViews = false;

  /// Largest |sum DLA + constant - u^T logits| over examples, divided by the sum of the terms'
  /// magnitudes (float rounding is relative to those).
  double completenessError = 0.0;
  /// Largest |sum_p c_p - h_L[pos]| over examples and features (0 when nothing edited the
  /// residual stream between the hook points).
  double decompositionError = 0.0;
};

/// Path accuracy over a labelled dataset (every scored prediction is one "site").
struct PathAccuracyResult {
  std::string dataset;
  std::vector<ResidualPath> paths;
  int maxHeads = 0;
  std::int64_t predictions = 0;  ///< scored sites
  double accuracy = 0.0;         ///< the unedited model

  Eigen::VectorXd lensAccuracy;         ///< [paths]
  Eigen::VectorXd soloAccuracy;         ///< [paths]
  Eigen::VectorXd leaveOneOutAccuracy;  ///< [paths]
  /// [paths] mean change of u^T logits when the path is removed from the final sum, with
  /// u = e_target - e_foil (the dataset's foil, else the clean run's best other class).
  Eigen::VectorXd leaveOneOutDelta;
  Eigen::VectorXd meanDla;      ///< [paths] mean DLA along the same u
  Eigen::MatrixXd meanHeadDla;  ///< [layers, maxHeads]; NaN where no head; empty without heads
  Eigen::VectorXd meanBiasDla;  ///< [layers]
  double meanConstant = 0.0;    ///< mean constant term
  double meanDirectionLogit = 0.0;

  /// Greedy path pruning on this dataset (when asked): paths removed from the final sum one at
  /// a time, each time the one whose removal raised accuracy most, until none does.
  bool pruned = false;
  std::vector<int> prunedPaths;         ///< indices into `paths`, in removal order
  std::vector<double> pruningAccuracy;  ///< before any removal, then after each
};

}  // namespace cs::analysis
