// What an activation-patching sweep reports. Plain struct: viewers read it without libtorch.
#pragma once

#include <string>
#include <vector>

namespace cs::analysis {

/// One patched location and what the receiving run's metric became.
struct PatchedLocation {
  std::string hook;     ///< TransformerLens hook name, e.g. "blocks.1.attn.hook_z"
  int layer = -1;       ///< -1 for model-level hooks
  int head = -1;        ///< -1: every head (or a hook without heads)
  int position = -1;    ///< -1: every position
  double metric = 0.0;  ///< M of the patched run
  double score = 0.0;   ///< normalised: 0 = no effect, 1 = the source run's metric
};

struct PatchingResult {
  std::string direction;         ///< "denoising" (clean into corrupted) or "noising"
  std::string metric;            ///< e.g. "logit[ Mary] - logit[ John] at position 14"
  double cleanMetric = 0.0;      ///< M_c
  double corruptedMetric = 0.0;  ///< M_r
  std::vector<PatchedLocation> locations;
  int forwardPasses = 0;  ///< forward passes the sweep ran (batched locations count once)
};

}  // namespace cs::analysis
