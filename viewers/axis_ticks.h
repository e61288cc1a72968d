// Axis ranges and tick values at round numbers (1, 2, 2.5 and 5 times a power of ten), and the
// number formats the views print. Plain C++: the report's tables can format numbers the same way.
#pragma once

#include <string>
#include <vector>

namespace cs::viewers {

/// A range with ticks at multiples of `step` inside it.
struct AxisTicks {
  double min = 0.0;
  double max = 1.0;
  double step = 0.2;
  std::vector<double> values;  // ascending, each a multiple of step within [min, max]
  int decimals = 1;            // digits after the point that show every tick exactly
};

/// Widens [lo, hi] outward to multiples of a round step giving about `target` intervals: for
/// axes whose range comes from the data. A degenerate range (lo == hi) is widened around lo.
/// Requires finite lo <= hi.
AxisTicks niceAxis(double lo, double hi, int target = 5);

/// Round ticks inside a fixed [lo, hi] (lo < hi, both finite), about `target` intervals apart;
/// min and max stay lo and hi.
AxisTicks ticksWithin(double lo, double hi, int target = 5);

/// A tick label: `decimals` digits after the point, no "-0"; scientific notation for very large
/// or very small magnitudes.
std::string formatTick(double value, int decimals);

/// A value label (cells, bars, tooltips, legend ends): three significant digits without trailing
/// zeros ("0.123", "12.3", "1235", "1.23e+06"); "NaN", "inf", "-inf" for non-finite values.
std::string formatValue(double value);

}  // namespace cs::viewers
