// What the memory-vs-context head analysis and PH3 pruning (ALGORITHMS.md section 5) report.
// Plain structs (std + Eigen): viewers draw the diverging heatmaps without libtorch.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace cs::analysis {

struct ConflictHead {
  int layer = 0;
  int head = 0;
  double effect = 0.0;  ///< e_{l,i}, mean over the ranking examples
  double dla = 0.0;     ///< DLA_{l,i} on x_conf along e_{o_m} - e_{o_c}, same examples
};

/// Accuracy of the pruned model at one k (k = 0: unpruned).
struct PruningPoint {
  int k = 0;
  double validationRate = 0.0;         ///< the target answer is the top-1 prediction
  double validationProbability = 0.0;  ///< mean softmax probability of the target answer
  double testRate = 0.0;               ///< NaN without a test split
  double testProbability = 0.0;
};

struct MemoryHeadResult {
  std::string mode;    ///< "context" (prune memory heads) or "memory" (prune context heads)
  std::string rankBy;  ///< "effect" (|e|) or "dla" (|DLA|)
  int maxHeads = 0;

  // Step 1: the filter over the head-finding examples.
  int findExamples = 0;
  int keptExamples = 0;                ///< answer o_m on x_ref and o_c on x_conf
  std::vector<bool> kept;              ///< per head-finding example
  bool rankedOnKept = false;           ///< ranking used the kept examples (else all of them)
  double memoryRateOnReference = 0.0;  ///< share answering o_m on x_ref
  double contextRateOnConflict = 0.0;  ///< share answering o_c on x_conf
  double meanLogitDifference = 0.0;    ///< LD = logit(o_m) - logit(o_c) on x_conf, ranking set

  /// [layers, maxHeads], NaN where a layer has fewer heads. effect/dla: over the ranking
  /// examples; *All over every head-finding example; *Kept over the kept ones (NaN if none).
  Eigen::MatrixXd effect, dla, effectAll, dlaAll, effectKept, dlaKept;

  std::vector<ConflictHead> memoryHeads;   ///< DLA > 0, ranked
  std::vector<ConflictHead> contextHeads;  ///< DLA < 0, ranked

  // Steps 4-5: PH3 pruning.
  std::vector<PruningPoint> curve;  ///< k = 0 first, then the grid (clipped to the group)
  int chosenK = 0;                  ///< best validation rate, ties to the higher probability
  std::vector<ConflictHead> prunedHeads;
  int validationExamples = 0;
  int testExamples = 0;
  std::string note;  ///< what the analysis had to fall back on, if anything
};

}  // namespace cs::analysis
