// Attribution patching (ALGORITHMS.md section 4, step 4): the first-order estimate of every
// location's activation-patching effect at once,
//   S_i ~ ((a_i(source) - a_i(receiving)) . dM/da_i |receiving) / (M_source - M_receiving),
// from one forward pass of the source input, and one forward and one backward pass of the
// receiving input. Same locations, pairs, directions and result as activation patching; the
// estimate is exact when everything downstream of a location is linear.
#pragma once

#include "analysis/activation_patching.h"
#include "analysis/results/patching_result.h"
#include "core/progress.h"
#include "models/model.h"

namespace cs::analysis {

/// The estimate for every location the options name (locationsPerPass is not used: every
/// location comes from the same backward pass). The result's method is "attribution" and each
/// location's metric is M_receiving + the estimated change.
PatchingResult analyseAttributionPatching(models::Model& model, const PatchingPairs& pairs,
                                          const PatchingOptions& options = {},
                                          Progress& progress = noProgress());

/// Pearson and Spearman correlation of the scores of two runs over the same locations (the
/// estimate against true activation patching); ConfigError when the locations differ.
PatchingComparison comparePatching(const PatchingResult& estimate, const PatchingResult& exact);

}  // namespace cs::analysis
