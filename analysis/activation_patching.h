// Activation patching (ALGORITHMS.md section 4): run the receiving input with one activation
// replaced by its value from the source run, everything downstream recomputed, and score the
// metric. Denoising patches clean into corrupted; noising patches corrupted into clean.
// Locations are batched: the receiving input is repeated and each row patches one location.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/results/patching_result.h"
#include "core/progress.h"
#include "models/model.h"

namespace cs::analysis {

enum class PatchDirection { Denoising, Noising };

/// The metric M(logits) of one example: logit[answer] - logit[foil] at `position` (foil < 0:
/// logit[answer] alone). Language models score a position (-1: the last); classifiers ignore it.
struct PatchMetric {
  std::int64_t answer = 0;
  std::int64_t foil = -1;
  std::int64_t position = -1;
};

struct PatchingOptions {
  std::vector<std::string> hookPatterns{"blocks.*.attn.hook_z"};
  bool perHead = true;         ///< split hooks with a head axis by head
  bool perPosition = false;    ///< split by position (query position for scores and patterns)
  std::vector<int> heads;      ///< only these heads (empty: all)
  std::vector<int> positions;  ///< only these positions (empty: all)
  PatchDirection direction = PatchDirection::Denoising;
  int locationsPerPass = 16;  ///< locations patched in one batched forward pass
};

/// clean and corrupted are single examples ([1, T] tokens or [1, C, H, W] pixels) of the same
/// shape. ShapeError when they differ; ConfigError for bad heads, positions or patterns.
PatchingResult patchActivations(models::Model& model, const models::ModelInput& clean,
                                const models::ModelInput& corrupted, const PatchMetric& metric,
                                const PatchingOptions& options = {},
                                Progress& progress = noProgress());

/// The normalised score of ALGORITHMS.md section 4 (0 when |M_c - M_r| < 1e-8).
double patchingScore(double patched, double clean, double corrupted, PatchDirection direction);

}  // namespace cs::analysis
