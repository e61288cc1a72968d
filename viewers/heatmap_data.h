// What a heatmap shows: a matrix with its labels, titles and colour scale. Plain data (std and
// Eigen, no Qt): the report and the GUI fill it from an analysis result and hand it to a
// HeatmapView, which checks it.
#pragma once

#include <Eigen/Core>

#include <optional>
#include <string>
#include <vector>

#include "viewers/scale_kind.h"

namespace cs::viewers {

struct HeatmapData {
  Eigen::MatrixXd values;                 // [rows, columns]; NaN draws grey (missing)
  std::vector<std::string> rowLabels;     // one per row, or empty for 0, 1, 2, ...
  std::vector<std::string> columnLabels;  // one per column, or empty for 0, 1, 2, ...
  std::string rowTitle;                   // e.g. "layer", "query position"
  std::string columnTitle;                // e.g. "head", "key position"
  std::string title;
  ScaleKind scale = ScaleKind::Sequential;
  std::optional<double> min;  // fixed colour-scale ends; unset: from the data (see ColorScale)
  std::optional<double> max;
  bool annotate = false;  // print each value in its cell where the cell is large enough
};

}  // namespace cs::viewers
