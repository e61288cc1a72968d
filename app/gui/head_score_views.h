// Views of per-head and per-position scores that every head analysis dock shares: head grids
// wired to the window (click shows attention, Ctrl-click masks, masked heads marked) and the
// residual-stream-by-position heatmap of the patching analyses.
#pragma once

#include <QString>

#include <Eigen/Core>
#include <string>
#include <vector>

#include "app/gui/model_session.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"

namespace cs::gui {

class InterventionStack;
class MainWindow;

/// "L0", "L1", ... for `layers` rows.
std::vector<std::string> layerLabels(Eigen::Index layers);

/// A head grid showing `data` that opens a head's attention on click, masks or restores it on
/// Ctrl-click (one intervention step) and marks the masked heads as the interventions change.
viewers::HeadGridView* liveHeadGrid(MainWindow& window, InterventionStack& interventions,
                                    viewers::HeadGridData data, const QString& name);

/// The resid_pre scores of `p` by block and position: "<what> of the residual stream".
viewers::HeatmapView* positionMap(const HeadPatching& p, const std::string& what,
                                  const QString& name);

}  // namespace cs::gui
