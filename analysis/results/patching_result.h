// What an activation- or attribution-patching sweep reports. Plain struct: viewers read it
// without libtorch.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace cs::analysis {

/// One patched location and what the receiving run's metric became (averaged over the pairs).
struct PatchedLocation {
  std::string hook;     ///< TransformerLens hook name, e.g. "blocks.1.attn.hook_z"
  int layer = -1;       ///< -1 for model-level hooks
  int head = -1;        ///< -1: every head (or a hook without heads)
  int position = -1;    ///< -1: every position
  int neuron = -1;      ///< -1: every neuron (or a hook without neurons)
  double metric = 0.0;  ///< M of the patched run (attribution: M_receiving + the estimate)
  double score = 0.0;   ///< normalised: 0 = no effect, 1 = the source run's metric
};

/// Scores of one hook kind laid out for a heatmap: S[L, T], S[L, H], S[L, d_ff], or, when
/// positions are split as well as heads (neurons), S[L x H, T] (S[L x d_ff, T]).
struct PatchingGrid {
  std::string hook;                    ///< hook pattern, e.g. "blocks.*.attn.hook_z"
  std::string rows;                    ///< "layer", "layer,head" or "layer,neuron"
  std::string columns;                 ///< "head", "pos", "neuron", or "" (the whole activation)
  std::vector<std::string> rowLabels;  ///< "0", "1", ... or "L0H3" / "L0N12"
  Eigen::MatrixXd score;               ///< NaN where nothing was patched
};

struct PatchingResult {
  std::string method = "activation";  ///< "activation" or "attribution" (gradient estimate)
  std::string direction;              ///< "denoising" (clean into corrupted) or "noising"
  std::string metric;                 ///< e.g. "logit[ Mary] - logit[ John] at position 14"
  double cleanMetric = 0.0;           ///< M_c, mean over the pairs
  double corruptedMetric = 0.0;       ///< M_r, mean over the pairs
  std::vector<double> cleanMetrics;   ///< M_c of each pair
  std::vector<double> corruptedMetrics;
  /// Pairs whose |M_c - M_r| >= 1e-8: only they enter the averaged scores (scores are 0 when
  /// there are none).
  int scoredPairs = 0;
  std::vector<PatchedLocation> locations;
  std::vector<PatchingGrid> grids;  ///< one per hook kind, from `locations`
  int forwardPasses = 0;            ///< forward passes the sweep ran (batched locations count once)
  int backwardPasses = 0;           ///< attribution patching: 1
};

/// How well a fast estimate (attribution patching) tracks true activation patching, over the
/// scores of the same locations.
struct PatchingComparison {
  int locations = 0;
  double pearson = 0.0;   ///< NaN when either side is constant or there are < 2 locations
  double spearman = 0.0;  ///< Pearson of the ranks (ties share their mean rank)
  double maxAbsDifference = 0.0;
};

}  // namespace cs::analysis
