// What a path-patching run reports: S[sender, receiver]. Plain struct: viewers read it without
// libtorch.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace cs::analysis {

struct PathPatchingResult {
  std::string direction;     ///< "noising": the clean run receives the senders' corrupted outputs
  std::string metric;        ///< e.g. "logit[7] - logit[3] at position 12"
  std::string mode;          ///< "direct" (every MLP frozen too) or "through-mlps"
  bool frozenNorm = false;   ///< logits receivers read out with the receiving run's norm scale
  double cleanMetric = 0.0;  ///< M_c, mean over the pairs
  double corruptedMetric = 0.0;  ///< M_r, mean over the pairs
  std::vector<double> cleanMetrics;
  std::vector<double> corruptedMetrics;
  int scoredPairs = 0;  ///< pairs with |M_c - M_r| >= 1e-8 (the only ones in the scores)
  std::vector<std::string> senders;    ///< row labels: "L0H3", "L1MLP", "L0H1+L0H2" for a set
  std::vector<std::string> receivers;  ///< column labels: "logits", "L1H2.q", "L1MLP.in", ...
  Eigen::MatrixXd score;               ///< [senders, receivers]: 0 = no effect, 1 = the source's M
  Eigen::MatrixXd patchedMetric;       ///< [senders, receivers]: M of the patched run, pair mean
  int forwardPasses = 0;               ///< including the two reference runs
};

}  // namespace cs::analysis
