// Round tick steps after Heckbert's "nice numbers" (Graphics Gems, 1990), with 2.5 added
// between 2 and 5 so that the tick count stays nearer the target.
#include "viewers/axis_ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cs::viewers {
namespace {

// The smallest round step at least `raw`.
double niceStep(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  double nice = 10.0;
  if (fraction <= 1.0 + 1e-9) {
    nice = 1.0;
  } else if (fraction <= 2.0 + 1e-9) {
    nice = 2.0;
  } else if (fraction <= 2.5 + 1e-9) {
    nice = 2.5;
  } else if (fraction <= 5.0 + 1e-9) {
    nice = 5.0;
  }
  return nice * magnitude;
}

int decimalsFor(double step) {
  // 2.5e-k needs one digit more than 2e-k; the rounding absorbs log10's representation error.
  const double digits = -std::floor(std::log10(step) + 1e-9);
  int decimals = std::max(0, static_cast<int>(digits));
  const double scaled = step * std::pow(10.0, decimals);
  if (std::abs(scaled - std::round(scaled)) > 1e-6) ++decimals;
  return decimals;
}

AxisTicks ticksOf(double min, double max, double step) {
  AxisTicks ticks;
  ticks.min = min;
  ticks.max = max;
  ticks.step = step;
  ticks.decimals = decimalsFor(step);
  const double eps = step * 1e-9;
  const double first = std::ceil((min - eps) / step);
  const double last = std::floor((max + eps) / step);
  for (double k = first; k <= last; k += 1.0) {
    double v = k * step;
    if (std::abs(v) < eps) v = 0.0;  // no -0 and no 1e-17 ticks
    ticks.values.push_back(v);
  }
  return ticks;
}

}  // namespace

AxisTicks niceAxis(double lo, double hi, int target) {
  if (hi - lo <= 0.0) {
    const double half = lo == 0.0 ? 1.0 : std::abs(lo) * 0.5;
    lo -= half;
    hi += half;
  }
  const double step = niceStep((hi - lo) / std::max(1, target));
  const double eps = step * 1e-9;
  return ticksOf(std::floor((lo + eps) / step) * step, std::ceil((hi - eps) / step) * step, step);
}

AxisTicks ticksWithin(double lo, double hi, int target) {
  const double step = niceStep((hi - lo) / std::max(1, target));
  AxisTicks ticks = ticksOf(lo, hi, step);
  ticks.min = lo;
  ticks.max = hi;
  return ticks;
}

std::string formatTick(double value, int decimals) {
  char buffer[64];
  const double magnitude = std::abs(value);
  if (magnitude >= 1e6 || (magnitude > 0.0 && decimals > 5)) {
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.*f", std::max(0, decimals), value);
  }
  std::string text = buffer;
  if (text.find_first_not_of("-0.") == std::string::npos && text.front() == '-') text.erase(0, 1);
  return text;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return "0";
  char buffer[64];
  const double magnitude = std::abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e5) {
    const int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(magnitude))));
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    std::string text = buffer;
    if (text.find('.') != std::string::npos) {
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    return text;
  }
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

}  // namespace cs::viewers
