// The one clean/corrupted pair the window's patching analyses compare, scored as the command line
// scores a pair by default. Session side only (libtorch): Qt files never include it.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/activation_patching.h"
#include "models/transformer.h"

namespace cs::gui {

/// `clean` and `corrupted` as one pair whose metric is the clean run's answer against the
/// corrupted run's (no foil when they agree) at the last position, each read from `model` with
/// whatever interventions are in force.
analysis::PatchingPairs scoredPair(models::Transformer& model,
                                   const std::vector<std::int64_t>& clean,
                                   const std::vector<std::int64_t>& corrupted);

}  // namespace cs::gui
