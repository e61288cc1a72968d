// Which colour scale a heatmap uses. Kept apart from color_scale.h so that the plain data
// structs can name a scale without including Qt.
#pragma once

namespace cs::viewers {

enum class ScaleKind {
  Sequential,  // magnitudes: dark purple (low) to yellow (high), viridis-like
  Diverging,   // signed values: blue (negative), white (zero), red (positive)
};

}  // namespace cs::viewers
