// How the window and its session write numbers into titles, captions and labels: plain std, so
// that both the Qt side and the libtorch side include it.
#pragma once

#include <cstdio>
#include <string>

namespace cs::gui {

/// `value` with `digits` decimals, as printf's "%.*f" writes it.
inline std::string formatNumber(double value, int digits = 3) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

}  // namespace cs::gui
