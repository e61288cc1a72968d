// What head divergence (VHD), its head selection for reinforcement (VHR) and per-token
// divergence (T-VHD) report (ALGORITHMS.md section 6). Plain structs (std + Eigen): viewers draw
// the [layer, head] heatmaps and the T-VHD line without libtorch.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

struct HeadRef {
  int layer = 0;
  int head = 0;
  bool operator==(const HeadRef&) const = default;
};

struct HeadDivergenceResult {
  double alpha = 2.0;
  std::vector<int> layers;  ///< L_r: the layers whose heads were filtered and selected
  bool lockstep = true;     ///< later VHDs were measured with earlier selections reinforced
  /// [layers, max heads]: VHD = ||z(with) - z(without)||_2 at the last position. NaN where a
  /// layer has fewer heads or its attention is skipped.
  Eigen::MatrixXd vhd;
  /// [layers, max heads]: VHD divided by the median VHD of the layer's heads, the margin the
  /// median selection thresholds at 1. Raw VHD grows with a head's output norm, which differs
  /// between layers; this is the score to rank heads of different layers by. NaN where the
  /// median is 0.
  Eigen::MatrixXd relativeVhd;
  /// [layers, max heads]: TA = ||z(without)||^2 at the last position.
  Eigen::MatrixXd ta;
  /// [layers, max heads]: VHD after the outlier filter (outliers set to 0); NaN outside L_r.
  Eigen::MatrixXd filteredVhd;
  /// [layers, max heads]: 1 for the heads of H_l (reinforced), else 0.
  Eigen::MatrixXi selected;
  std::vector<HeadRef> selectedHeads;  ///< H_l of every layer of L_r, in layer order
  int forwardPasses = 0;               ///< single-example forward passes (a batched pair counts 2)
};

struct TokenDivergenceResult {
  std::vector<std::int64_t> tokens;  ///< y_t: the continuation scored, one per step
  bool generated = false;            ///< greedy tokens of the "with" branch, else given
  int topK = 1;                      ///< heads per layer summed into T-VHD
  /// Per step t, [layers, max heads]: VHD at the position that predicts y_t.
  std::vector<Eigen::MatrixXd> vhd;
  /// Per step t, [layers, max heads]: 1 for the top-k heads of each layer.
  std::vector<Eigen::MatrixXi> inTopK;
  std::vector<double> tokenDivergence;  ///< T-VHD[t] = sum over layers of the top-k VHDs
  int forwardPasses = 0;                ///< single-example forward passes
};

}  // namespace cs::analysis
