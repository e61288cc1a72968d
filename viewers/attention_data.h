// What an AttentionView shows: one layer's attention patterns (hook_pattern) for one input, with
// its tokens. Plain data (std and Eigen, no Qt): the GUI fills it from a cached hook_pattern
// [batch, head, query, key] for one example and hands it to an AttentionView, which checks it.
#pragma once

#include <Eigen/Core>

#include <string>
#include <vector>

namespace cs::viewers {

struct AttentionData {
  /// One per position: the label of query row i and of key column i. Empty: positions 0, 1, ...
  std::vector<std::string> tokens;
  /// The layer the heads belong to (shown, and passed back by AttentionView::headSelected).
  int layer = 0;
  /// One pattern per head, each [query, key], square, probabilities in [0, 1]. Masked-out
  /// (future) keys are simply 0.
  std::vector<Eigen::MatrixXd> heads;
  /// The model's number of each head (e.g. {0, 2, 3} when head 1 is pruned away), distinct and
  /// non-negative. Empty: 0, 1, ..., heads.size() - 1.
  std::vector<int> headNumbers;
};

}  // namespace cs::viewers
