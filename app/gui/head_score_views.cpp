#include "app/gui/head_score_views.h"

#include <set>

#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"

namespace cs::gui {

using hooks::MaskComponent;

std::vector<std::string> layerLabels(Eigen::Index layers) {
  std::vector<std::string> labels;
  for (Eigen::Index l = 0; l < layers; ++l) {
    // Appended, not "L" + ...: GCC 12 warns falsely (-Wrestrict) on that.
    labels.push_back(std::string("L").append(std::to_string(l)));
  }
  return labels;
}

viewers::HeadGridView* liveHeadGrid(MainWindow& window, InterventionStack& interventions,
                                    viewers::HeadGridData data, const QString& name) {
  auto* grid = new viewers::HeadGridView;
  grid->setObjectName(name);
  grid->setToolTip(QObject::tr("click: show the head's attention; Ctrl-click: mask or restore it"));
  grid->setData(std::move(data));
  QObject::connect(grid, &viewers::HeadGridView::headSelected, &window,
                   [&window](int layer, int head) { window.showAttention(layer, head); });
  QObject::connect(grid, &viewers::HeadGridView::headMaskToggled, &window,
                   [&window, &interventions](int layer, int head) {
                     if (window.masks().find(MaskComponent::Head, layer, head)) {
                       interventions.remove(MaskComponent::Head, layer, head);
                     } else {
                       interventions.set({MaskComponent::Head, layer, head});
                     }
                   });
  const auto mark = [&window, grid]() {
    std::set<viewers::HeadId> heads;
    for (const auto& e : window.masks().entries()) {
      if (e.component == MaskComponent::Head) heads.insert({e.layer, e.index});
    }
    grid->setMaskedHeads(std::move(heads));
  };
  mark();
  QObject::connect(&interventions, &InterventionStack::masksChanged, grid, mark);
  return grid;
}

viewers::HeatmapView* positionMap(const HeadPatching& p, const std::string& what,
                                  const QString& name) {
  viewers::HeatmapData data;
  data.values = p.positions;
  data.rowLabels = layerLabels(p.positions.rows());
  data.columnLabels = p.tokens;
  data.rowTitle = "resid_pre of block";
  data.columnTitle = "position";
  data.title = what + " of the residual stream (" + p.direction + ")";
  data.scale = viewers::ScaleKind::Diverging;
  data.annotate = true;
  auto* map = new viewers::HeatmapView;
  map->setObjectName(name);
  map->setData(std::move(data));
  return map;
}

}  // namespace cs::gui
