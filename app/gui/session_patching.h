// What the window's patching analyses share: the one clean/corrupted pair they compare, scored as
// the command line scores a pair by default, and their per-head and per-position score grids.
// Session side only (libtorch): Qt files never include it.
#pragma once

#include <Eigen/Core>
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

/// Per-head scores of a heads sweep as [L, max H], NaN where nothing was scored.
Eigen::MatrixXd headGrid(const analysis::PatchingResult& r, const models::TransformerConfig& c);

/// Per-position scores of a resid_pre sweep over `positions` positions as [L, positions], NaN
/// where nothing was scored.
Eigen::MatrixXd positionGrid(const analysis::PatchingResult& r, const models::TransformerConfig& c,
                             Eigen::Index positions);

}  // namespace cs::gui
