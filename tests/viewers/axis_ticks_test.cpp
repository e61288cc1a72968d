// Round axis ticks and number formats: ranges widen to round ends, ticks are round multiples,
// labels show no float noise and no "-0".
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "viewers/axis_ticks.h"

namespace cs::viewers {
namespace {

TEST(AxisTicks, NiceAxisWidensToRoundEnds) {
  const AxisTicks ticks = niceAxis(0.0, 7.3);
  EXPECT_DOUBLE_EQ(ticks.min, 0.0);
  EXPECT_DOUBLE_EQ(ticks.max, 8.0);
  EXPECT_DOUBLE_EQ(ticks.step, 2.0);
  EXPECT_EQ(ticks.values, (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(ticks.decimals, 0);
}

TEST(AxisTicks, NiceAxisCoversNegativeAndFractionalRanges) {
  const AxisTicks ticks = niceAxis(-0.83, 0.41);
  EXPECT_LE(ticks.min, -0.83);
  EXPECT_GE(ticks.max, 0.41);
  EXPECT_DOUBLE_EQ(ticks.step, 0.25);
  EXPECT_EQ(ticks.decimals, 2);
  EXPECT_DOUBLE_EQ(ticks.min, -1.0);
  EXPECT_DOUBLE_EQ(ticks.max, 0.5);
  for (double v : ticks.values) {
    EXPECT_NEAR(std::remainder(v, ticks.step), 0.0, 1e-12) << v;
  }
}

TEST(AxisTicks, DegenerateRangeIsWidened) {
  const AxisTicks zero = niceAxis(0.0, 0.0);
  EXPECT_LT(zero.min, 0.0);
  EXPECT_GT(zero.max, 0.0);
  const AxisTicks five = niceAxis(5.0, 5.0);
  EXPECT_LT(five.min, 5.0);
  EXPECT_GT(five.max, 5.0);
}

TEST(AxisTicks, TicksWithinKeepFixedEnds) {
  const AxisTicks ticks = ticksWithin(-0.873, 0.873);
  EXPECT_DOUBLE_EQ(ticks.min, -0.873);
  EXPECT_DOUBLE_EQ(ticks.max, 0.873);
  ASSERT_FALSE(ticks.values.empty());
  for (double v : ticks.values) {
    EXPECT_GE(v, -0.873);
    EXPECT_LE(v, 0.873);
  }
  EXPECT_NE(std::find(ticks.values.begin(), ticks.values.end(), 0.0), ticks.values.end());
}

TEST(AxisTicks, FormatTickHasNoFloatNoiseOrNegativeZero) {
  EXPECT_EQ(formatTick(0.1 + 0.2, 1), "0.3");
  EXPECT_EQ(formatTick(-0.0, 1), "0.0");
  EXPECT_EQ(formatTick(-1e-17, 0), "0");
  EXPECT_EQ(formatTick(2.5, 1), "2.5");
  EXPECT_EQ(formatTick(2e6, 0), "2e+06");
}

TEST(AxisTicks, FormatValueShowsThreeSignificantDigits) {
  EXPECT_EQ(formatValue(0.123456), "0.123");
  EXPECT_EQ(formatValue(12.34), "12.3");
  EXPECT_EQ(formatValue(1234.6), "1235");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(-0.5), "-0.5");
  EXPECT_EQ(formatValue(0.0), "0");
  EXPECT_EQ(formatValue(2.0), "2");
  EXPECT_EQ(formatValue(1234567.0), "1.23e+06");
  EXPECT_EQ(formatValue(0.0001234), "0.000123");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-inf");
}

}  // namespace
}  // namespace cs::viewers
