// What linear CKA between hook points (ALGORITHMS.md section 2) reports: the symmetric matrix
// of CKA values between every pair of the chosen hooks over the same samples. Plain struct
// (std + Eigen): viewers draw the heatmap without libtorch.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

struct CkaResult {
  std::string dataset;
  std::string form;                    ///< "feature", "gram" or "unbiased"
  std::string position;                ///< "all", "cls", "last" or "mean"
  std::vector<std::string> hooks;      ///< TransformerLens names, in matrix order
  std::vector<std::int64_t> features;  ///< per hook: width of one sample's representation
  /// Per hook: true when its representation does not vary over the samples, so CKA with it is
  /// undefined; reported as 0 off the diagonal.
  std::vector<bool> constant;
  std::int64_t samples = 0;  ///< rows that entered the estimate
  Eigen::MatrixXd cka;       ///< [hooks, hooks], symmetric, in [0, 1], diagonal 1
  double seconds = 0.0;
};

}  // namespace cs::analysis
