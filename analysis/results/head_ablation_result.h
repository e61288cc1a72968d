// Evaluation with each attention head ablated on its own. Plain struct (std + Eigen): viewers
// draw it as a layer x head heatmap without libtorch.
#pragma once

#include <Eigen/Core>
#include <string>

#include "analysis/results/eval_result.h"

namespace cs::analysis {

struct HeadAblationResult {
  std::string dataset;
  std::string mode;  ///< the ablation applied to each head, e.g. "zero"
  EvalResult baseline;
  /// [layers, max heads]: the metric with that one head ablated; NaN where a layer has fewer
  /// heads.
  Eigen::MatrixXd accuracy;
  Eigen::MatrixXd meanLoss;
};

}  // namespace cs::analysis
