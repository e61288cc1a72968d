// Colour scales: end points and midpoint (diverging 0 is exactly white), clamping, NaN grey,
// monotone and even lightness along the sequential map, and how ranges are fitted to data.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/color_scale.h"

namespace cs::viewers {
namespace {

using test::lightness;
using test::messageOf;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ColorScale, SequentialEndsAreTheViridisEnds) {
  const ColorScale scale = ColorScale::sequential(-2.0, 6.0);
  EXPECT_EQ(scale.color(-2.0), QColor(0x44, 0x01, 0x54));
  EXPECT_EQ(scale.color(6.0), QColor(0xfd, 0xe7, 0x25));
  EXPECT_DOUBLE_EQ(scale.position(2.0), 0.5);
}

TEST(ColorScale, SequentialInterpolatesLinearlyBetweenAnchors) {
  const ColorScale scale = ColorScale::sequential(0.0, 9.0);  // anchors at integers
  const auto& anchors = ColorScale::anchors(ScaleKind::Sequential);
  ASSERT_EQ(anchors.size(), 10u);
  for (int k = 0; k < 10; ++k) EXPECT_EQ(scale.color(k), anchors[k]) << k;
  const QColor mid = scale.color(3.5);
  EXPECT_NEAR(mid.red(), (anchors[3].red() + anchors[4].red()) / 2.0, 0.51);
  EXPECT_NEAR(mid.green(), (anchors[3].green() + anchors[4].green()) / 2.0, 0.51);
  EXPECT_NEAR(mid.blue(), (anchors[3].blue() + anchors[4].blue()) / 2.0, 0.51);
}

TEST(ColorScale, SequentialLightnessRisesMonotonicallyAndEvenly) {
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  constexpr int kSteps = 256;
  std::vector<double> l;
  for (int i = 0; i <= kSteps; ++i) l.push_back(lightness(scale.color(i / double{kSteps})));
  // Neighbouring samples may round to the same 8-bit colour, or one channel may round down as
  // another rounds up: allow that much (a few hundredths of L*), no real dip.
  for (int i = 1; i <= kSteps; ++i) {
    EXPECT_GT(l[i], l[i - 1] - 0.05) << "lightness falls at " << i << "/" << kSteps;
  }
  constexpr int kCoarse = 8;
  double largestStep = 0.0;
  for (int i = kCoarse; i <= kSteps; i += kCoarse) {
    EXPECT_GT(l[i], l[i - kCoarse]) << "lightness does not rise towards " << i << "/" << kSteps;
    largestStep = std::max(largestStep, l[i] - l[i - kCoarse]);
  }
  const double total = l.back() - l.front();
  EXPECT_GT(total, 75.0) << "the map should run from dark to light";
  // Perceptually even: no stretch rises much faster than the mean.
  EXPECT_LT(largestStep, 1.6 * total * kCoarse / kSteps);
}

TEST(ColorScale, DivergingZeroIsExactlyWhiteAndEndsAreBlueAndRed) {
  const ColorScale scale = ColorScale::diverging(-3.0, 3.0);
  EXPECT_EQ(scale.color(0.0), QColor(255, 255, 255));
  const QColor blue = scale.color(-3.0);
  const QColor red = scale.color(3.0);
  EXPECT_EQ(blue, QColor(0x21, 0x66, 0xac));
  EXPECT_EQ(red, QColor(0xb2, 0x18, 0x2b));
  EXPECT_GT(blue.blue(), blue.red());
  EXPECT_GT(red.red(), red.blue());
  // Symmetric about zero: equal lightness at equal magnitudes.
  EXPECT_NEAR(lightness(scale.color(-1.5)), lightness(scale.color(1.5)), 6.0);
}

TEST(ColorScale, DivergingWithAnAsymmetricRangeKeepsZeroWhite) {
  const ColorScale scale = ColorScale::diverging(-1.0, 3.0);
  EXPECT_DOUBLE_EQ(scale.centre(), 0.0);
  EXPECT_EQ(scale.color(0.0), QColor(255, 255, 255));
  EXPECT_EQ(scale.color(-1.0), ColorScale::anchors(ScaleKind::Diverging).front());
  EXPECT_EQ(scale.color(3.0), ColorScale::anchors(ScaleKind::Diverging).back());
  EXPECT_DOUBLE_EQ(scale.valueAtPosition(scale.position(1.7)), 1.7);
}

TEST(ColorScale, ValuesOutsideTheRangeClamp) {
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  EXPECT_EQ(scale.color(-5.0), scale.color(0.0));
  EXPECT_EQ(scale.color(7.0), scale.color(1.0));
  EXPECT_EQ(scale.color(kInf), scale.color(1.0));
  EXPECT_EQ(scale.color(-kInf), scale.color(0.0));
}

TEST(ColorScale, NanIsNeutralGreyOnBothScales) {
  const QColor grey = ColorScale::nanColor();
  EXPECT_EQ(grey.red(), grey.green());
  EXPECT_EQ(grey.green(), grey.blue());
  EXPECT_EQ(ColorScale::sequential(0, 1).color(std::nan("")), grey);
  EXPECT_EQ(ColorScale::diverging(-1, 1).color(std::nan("")), grey);
  // Grey is not a colour either map uses for a number.
  for (const ScaleKind kind : {ScaleKind::Sequential, ScaleKind::Diverging}) {
    const ColorScale scale =
        kind == ScaleKind::Sequential ? ColorScale::sequential(0, 1) : ColorScale::diverging(-1, 1);
    for (int i = 0; i <= 100; ++i) {
      EXPECT_GT(test::channelDistance(scale.colorAtPosition(i / 100.0), grey), 8) << i;
    }
  }
}

TEST(ColorScale, FittedDivergingIsSymmetricAboutZeroUnlessARangeIsGiven) {
  const ColorScale fitted = ColorScale::fitted(ScaleKind::Diverging, -1.0, 3.0);
  EXPECT_DOUBLE_EQ(fitted.min(), -3.0);
  EXPECT_DOUBLE_EQ(fitted.max(), 3.0);
  const ColorScale fixed = ColorScale::fitted(ScaleKind::Diverging, -1.0, 3.0, -0.5, 2.0);
  EXPECT_DOUBLE_EQ(fixed.min(), -0.5);
  EXPECT_DOUBLE_EQ(fixed.max(), 2.0);
  const ColorScale mirrored = ColorScale::fitted(ScaleKind::Diverging, -1.0, 3.0, {}, 2.0);
  EXPECT_DOUBLE_EQ(mirrored.min(), -2.0);
  EXPECT_DOUBLE_EQ(mirrored.max(), 2.0);
  const ColorScale zeros = ColorScale::fitted(ScaleKind::Diverging, 0.0, 0.0);
  EXPECT_EQ(zeros.color(0.0), QColor(255, 255, 255));
}

TEST(ColorScale, FittedSequentialUsesTheDataOrTheFixedEnds) {
  const ColorScale data = ColorScale::fitted(ScaleKind::Sequential, 0.2, 0.9);
  EXPECT_DOUBLE_EQ(data.min(), 0.2);
  EXPECT_DOUBLE_EQ(data.max(), 0.9);
  const ColorScale half = ColorScale::fitted(ScaleKind::Sequential, 0.2, 0.9, 0.0);
  EXPECT_DOUBLE_EQ(half.min(), 0.0);
  EXPECT_DOUBLE_EQ(half.max(), 0.9);
  const ColorScale constant = ColorScale::fitted(ScaleKind::Sequential, 4.0, 4.0);
  EXPECT_LT(constant.min(), 4.0);
  EXPECT_GT(constant.max(), 4.0);
  const ColorScale noData = ColorScale::fitted(ScaleKind::Sequential, std::nan(""), std::nan(""));
  EXPECT_LT(noData.min(), noData.max());
}

TEST(ColorScale, BadRangesThrowNamingTheProblem) {
  EXPECT_NE(messageOf<ConfigError>([] { ColorScale::sequential(1.0, 1.0); }).find("is empty"),
            std::string::npos);
  EXPECT_NE(messageOf<ConfigError>([] { ColorScale::diverging(0.0, kInf); }).find("not finite"),
            std::string::npos);
  const std::string nanEnd = messageOf<ConfigError>(
      [] { ColorScale::fitted(ScaleKind::Sequential, 0, 1, std::nan(""), {}); });
  EXPECT_NE(nanEnd.find("fixed minimum"), std::string::npos) << nanEnd;
  EXPECT_NE(nanEnd.find("not finite"), std::string::npos) << nanEnd;
  const std::string reversed =
      messageOf<ConfigError>([] { ColorScale::fitted(ScaleKind::Diverging, 0, 1, 2.0, 1.0); });
  EXPECT_NE(reversed.find("[2, 1]"), std::string::npos) << reversed;
}

}  // namespace
}  // namespace cs::viewers
