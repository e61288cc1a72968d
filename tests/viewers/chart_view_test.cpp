// ChartView: bar heights in pixels are proportional to the values (measured by scanning the
// rendered image), grouped bars take their series' colours, line markers land where expected,
// NaN leaves a gap, ranges are round or fixed, bad data throws naming the problem.
#include <QPainter>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/chart_view.h"
#include "viewers/paint_helpers.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::channelDistance;
using test::label;
using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 420);
const QRect kBounds(QPoint(0, 0), kSize);

ChartData barChart(std::vector<double> values) {
  ChartData data;
  data.kind = ChartKind::Bar;
  for (size_t i = 0; i < values.size(); ++i) data.categories.push_back(label("c", i));
  data.series = {{"accuracy", std::move(values)}};
  data.title = "Accuracy by model";
  data.xTitle = "model";
  data.yTitle = "accuracy";
  return data;
}

// The run of `color` pixels in column x that touches row `fromY`, scanning up (or down) from it:
// the measured height of a bar standing on (or hanging from) that row.
int runLength(const QImage& image, int x, int fromY, int direction, const QColor& color) {
  int n = 0;
  for (int y = fromY; y >= 0 && y < image.height(); y += direction) {
    if (pixelAt(image, x, y) != color) break;
    ++n;
  }
  return n;
}

TEST(ChartView, BarHeightsInPixelsAreProportionalToValues) {
  test::OutputDir out;
  ChartView view;
  view.setData(barChart({1.0, 2.0, 3.0, 4.0, 2.5}));
  EXPECT_EQ(view.yRange(), (std::pair<double, double>{0.0, 4.0}));
  const QImage image = renderToImage(view, kSize);
  renderToPng(view, out / "bar_chart.png", kSize);
  const QRectF plot = view.plotRect(kBounds);
  const QColor color = paint::seriesColor(0);
  // The bars stand on the x axis; measure from the row just above it, up.
  const int base = static_cast<int>(std::floor(plot.bottom())) - 1;
  const std::vector<double> values = view.data().series[0].values;
  std::vector<int> heights;
  for (int c = 0; c < static_cast<int>(values.size()); ++c) {
    // Near the bar's left edge: clear of the value label, which sits centred (inside the bar
    // when the bar reaches the top of the plot).
    const int x = static_cast<int>(view.barRect(0, c, kBounds).left()) + 3;
    // Start a little above the axis line and add back what was skipped.
    heights.push_back(runLength(image, x, base - 2, -1, color) + 2);
    ASSERT_GT(heights.back(), 10) << "no bar found for category " << c;
  }
  const double pixelsPerUnit = plot.height() / 4.0;
  for (size_t c = 0; c < values.size(); ++c) {
    EXPECT_NEAR(heights[c], values[c] * pixelsPerUnit, 2.0) << "category " << c;
    EXPECT_NEAR(heights[c] / static_cast<double>(heights[0]), values[c], 0.05) << "category " << c;
  }
}

TEST(ChartView, NegativeBarsHangBelowZero) {
  ChartView view;
  view.setData(barChart({-2.0, 1.0}));
  const auto [lo, hi] = view.yRange();
  EXPECT_LE(lo, -2.0);
  EXPECT_GE(hi, 1.0);
  const QImage image = renderToImage(view, kSize);
  const QColor color = paint::seriesColor(0);
  const QPointF zero = view.valueToPixel(0.0, 0.0, kBounds);
  const int down = runLength(image, static_cast<int>(view.barRect(0, 0, kBounds).center().x()),
                             static_cast<int>(zero.y()) + 2, 1, color) +
                   2;
  const int up = runLength(image, static_cast<int>(view.barRect(0, 1, kBounds).center().x()),
                           static_cast<int>(zero.y()) - 2, -1, color) +
                 2;
  EXPECT_NEAR(down / static_cast<double>(up), 2.0, 0.1) << down << " vs " << up;
}

TEST(ChartView, GroupedBarsUseOneColourPerSeriesAndShowALegend) {
  test::OutputDir out;
  ChartData data;
  data.kind = ChartKind::Bar;
  data.categories = {"full", "masked", "compacted"};
  data.series = {{"accuracy", {0.98, 0.91, 0.91}}, {"loss", {0.12, 0.35, 0.35}}};
  data.title = "Pruning";
  data.yTitle = "value";
  ChartView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  renderToPng(view, out / "bar_chart_grouped.png", kSize);
  for (int s = 0; s < 2; ++s) {
    for (int c = 0; c < 3; ++c) {
      const QRectF bar = view.barRect(s, c, kBounds);
      // Below any value label: a quarter of the way up from the base.
      const QPointF probe(bar.center().x(), bar.bottom() - bar.height() / 4);
      EXPECT_EQ(pixelAt(image, static_cast<int>(probe.x()), static_cast<int>(probe.y())),
                paint::seriesColor(s))
          << "series " << s << " category " << c;
    }
  }
  // Bars of one group sit side by side, in series order, within their category's slot.
  EXPECT_LE(view.barRect(0, 1, kBounds).right(), view.barRect(1, 1, kBounds).left() + 0.01);
  EXPECT_LT(view.barRect(1, 0, kBounds).right(), view.barRect(0, 1, kBounds).left());
  renderToSvg(view, out / "bar_chart_grouped.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "bar_chart_grouped.svg"));
  for (const char* expected :
       {"Pruning", "value", "accuracy", "loss", "full", "masked", "compacted", "0.98", "0.35"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
}

// A filled marker disk centred on `centre`: the pixels about 2 px from the centre in all eight
// directions have the series colour (the 2 px line alone cannot cover them all).
void expectMarkerAt(const QImage& image, const QPointF& centre, const QColor& color) {
  for (int k = 0; k < 8; ++k) {
    const double angle = k * M_PI / 4;
    // The pixel whose square holds the probe point; its centre is at most 2.8 px from the
    // marker's, well inside the 4 px disk.
    const int x = static_cast<int>(std::floor(centre.x() + 2.0 * std::cos(angle)));
    const int y = static_cast<int>(std::floor(centre.y() + 2.0 * std::sin(angle)));
    EXPECT_LE(channelDistance(pixelAt(image, x, y), color), 2)
        << "no marker around " << centre.x() << "," << centre.y() << " (direction " << k << ")";
  }
}

TEST(ChartView, LinePointsLandWhereExpected) {
  test::OutputDir out;
  ChartData data;
  data.kind = ChartKind::Line;
  data.x = {0, 1, 2, 3, 4};
  data.series = {{"loss", {4, 3, 2, 1, 0}}};
  data.yMin = 0.0;
  data.yMax = 4.0;
  data.title = "Loss";
  data.xTitle = "epoch";
  data.yTitle = "loss";
  ChartView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  renderToPng(view, out / "line_chart.png", kSize);
  const QRectF plot = view.plotRect(kBounds);
  std::vector<QPointF> points;
  for (int i = 0; i < 5; ++i)
    points.push_back(view.valueToPixel(data.x[i], data.series[0].values[i], kBounds));
  // The fixed y range spans the plot exactly; x steps are equal and the data sits inside.
  EXPECT_DOUBLE_EQ(points[0].y(), plot.top());
  EXPECT_DOUBLE_EQ(points[4].y(), plot.bottom());
  for (int i = 1; i < 5; ++i) {
    EXPECT_NEAR(points[i].x() - points[i - 1].x(), points[1].x() - points[0].x(), 1e-9);
    EXPECT_NEAR(points[i].y() - points[i - 1].y(), plot.height() / 4, 1e-9);
  }
  EXPECT_GT(points[0].x(), plot.left());
  EXPECT_LT(points[4].x(), plot.right());
  for (const QPointF& p : points) expectMarkerAt(image, p, paint::seriesColor(0));
}

TEST(ChartView, DenseLinesHaveNoMarkers) {
  ChartData data;
  data.kind = ChartKind::Line;
  for (int i = 0; i < 600; ++i) data.x.push_back(i);
  data.series = {{"flat", std::vector<double>(600, 1.0)}};
  data.yMin = 0.0;
  data.yMax = 2.0;
  ChartView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  const QPointF point = view.valueToPixel(300, 1.0, kBounds);
  const QColor color = paint::seriesColor(0);
  EXPECT_EQ(pixelAt(image, static_cast<int>(point.x()), static_cast<int>(point.y())), color);
  // A marker would cover 3 px above the 2 px line; a bare line does not.
  EXPECT_GT(
      channelDistance(pixelAt(image, static_cast<int>(point.x()), static_cast<int>(point.y()) - 3),
                      color),
      50);
}

TEST(ChartView, MissingValuesLeaveAGapInTheLine) {
  ChartData data;
  data.kind = ChartKind::Line;
  data.x = {0, 1, 2};
  data.series = {{"", {0.0, std::nan(""), 2.0}}};
  data.yMin = 0.0;
  data.yMax = 2.0;
  ChartView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  const QColor color = paint::seriesColor(0);
  expectMarkerAt(image, view.valueToPixel(0, 0, kBounds), color);
  expectMarkerAt(image, view.valueToPixel(2, 2, kBounds), color);
  // Where the line would have run through (1, 1) there is nothing.
  const QPointF middle = view.valueToPixel(1, 1, kBounds);
  EXPECT_GT(channelDistance(
                pixelAt(image, static_cast<int>(middle.x()), static_cast<int>(middle.y())), color),
            50);
}

TEST(ChartView, LineOverCategoriesPutsPointsOnTheCategories) {
  test::OutputDir out;
  ChartData data;
  data.kind = ChartKind::Line;
  data.categories = {"embed", "L0", "L1", "L2", "L3"};
  data.series = {{"clean", {0.1, 0.4, 0.5, 0.9, 0.95}}, {"corrupted", {0.0, 0.2, 0.2, 0.3, 0.35}}};
  data.title = "Logit difference by layer";
  data.yTitle = "logit diff";
  ChartView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  renderToPng(view, out / "line_chart_categories.png", kSize);
  const QRectF plot = view.plotRect(kBounds);
  const double slot = plot.width() / 5;
  for (int i = 0; i < 5; ++i) {
    const QPointF p = view.valueToPixel(i, data.series[0].values[i], kBounds);
    EXPECT_NEAR(p.x(), plot.left() + slot * (i + 0.5), 1e-9);
    expectMarkerAt(image, p, paint::seriesColor(0));
    expectMarkerAt(image, view.valueToPixel(i, data.series[1].values[i], kBounds),
                   paint::seriesColor(1));
  }
  renderToSvg(view, out / "line_chart_categories.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "line_chart_categories.svg"));
  for (const char* expected :
       {"Logit difference by layer", "logit diff", "clean", "corrupted", "embed", "L3"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
}

TEST(ChartView, RangesAreRoundFromDataOrExactlyAsFixed) {
  ChartView view;
  view.setData(barChart({3.0, 7.3}));
  EXPECT_EQ(view.yRange(), (std::pair<double, double>{0.0, 8.0}));
  ChartData fixed = barChart({3.0, 7.3});
  fixed.yMax = 10.0;
  view.setData(fixed);
  EXPECT_EQ(view.yRange(), (std::pair<double, double>{0.0, 10.0}));
  ChartData line;
  line.kind = ChartKind::Line;
  line.x = {1, 2, 3};
  line.series = {{"a", {0.52, 0.61, 0.58}}};
  view.setData(line);
  const auto [lo, hi] = view.yRange();
  EXPECT_LE(lo, 0.52);
  EXPECT_GE(hi, 0.61);
  EXPECT_GT(lo, 0.0) << "lines need not start at zero";
}

TEST(ChartView, TooltipNamesCategoryAndValue) {
  ChartView view;
  view.setData(barChart({1.0, 2.0, 3.0}));
  view.resize(kSize);
  const QPoint centre = view.barRect(0, 1, kBounds).center().toPoint();
  const QString tip = view.toolTipAt(centre);
  EXPECT_TRUE(tip.contains(QStringLiteral("c1: 2"))) << tip.toStdString();
  EXPECT_TRUE(view.toolTipAt(QPoint(2, 2)).isEmpty());
}

TEST(ChartView, EmptyChartsDrawNoDataMessage) {
  test::OutputDir out;
  ChartView view;
  ChartData data;
  data.title = "empty";
  view.setData(data);
  EXPECT_EQ(renderToImage(view, kSize).size(), kSize);
  renderToSvg(view, out / "chart_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "chart_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_TRUE(view.plotRect(kBounds).isEmpty());
}

TEST(ChartView, BadDataThrowsNamingTheProblem) {
  const auto messageFor = [](const ChartData& data) {
    return messageOf<ConfigError>([&] { ChartView::validate(data); });
  };
  ChartData shortSeries = barChart({1, 2, 3, 4});
  shortSeries.series[0].values.pop_back();
  EXPECT_NE(messageFor(shortSeries)
                .find("bar chart 'Accuracy by model': series 'accuracy' has 3 values for 4 "
                      "categories"),
            std::string::npos)
      << messageFor(shortSeries);

  ChartData barWithX = barChart({1, 2});
  barWithX.x = {0, 1};
  EXPECT_NE(messageFor(barWithX).find("x values are for line charts"), std::string::npos);

  ChartData both;
  both.kind = ChartKind::Line;
  both.x = {0, 1};
  both.categories = {"a", "b"};
  EXPECT_NE(messageFor(both).find("both x values and categories"), std::string::npos);

  ChartData badX;
  badX.kind = ChartKind::Line;
  badX.x = {0, std::nan("")};
  badX.series = {{"s", {1, 2}}};
  EXPECT_NE(messageFor(badX).find("x value #1 (nan) is not finite"), std::string::npos)
      << messageFor(badX);

  ChartData infinite = barChart({1, std::numeric_limits<double>::infinity()});
  EXPECT_NE(messageFor(infinite).find("value #1 is infinite"), std::string::npos);

  ChartData emptyRange = barChart({1, 2});
  emptyRange.yMin = 3.0;
  emptyRange.yMax = 3.0;
  EXPECT_NE(messageFor(emptyRange).find("the fixed y range [3, 3] is empty"), std::string::npos);

  ChartData nanRange = barChart({1, 2});
  nanRange.yMin = std::nan("");
  EXPECT_NE(messageFor(nanRange).find("fixed y minimum nan is not finite"), std::string::npos);

  // A failed setData keeps what was shown.
  ChartView view;
  view.setData(barChart({1, 2, 3, 4}));
  EXPECT_THROW(view.setData(shortSeries), ConfigError);
  EXPECT_EQ(view.data().series[0].values.size(), 4u);
}

TEST(ChartView, PaintIntoAnyRectangleMatchesTheWidgetRendering) {
  ChartView view;
  view.setData(barChart({1.0, 2.0}));
  const QImage rendered = renderToImage(view, kSize);
  QImage direct(kSize, QImage::Format_RGB32);
  direct.fill(Qt::white);
  {
    QPainter painter(&direct);
    view.paint(painter, kBounds);
  }
  EXPECT_EQ(rendered, direct);
}

}  // namespace
}  // namespace cs::viewers
