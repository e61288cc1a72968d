// HeatmapView: rendered cells carry exactly their scale colour, NaN is grey, the legend shows the
// range, labels thin out when crowded, hit tests and clicks find the right cell, bad data throws
// with a message naming the problem, and an empty heatmap says "no data".
#include <QApplication>
#include <QMouseEvent>
#include <QPainter>

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/axis_ticks.h"
#include "viewers/heatmap_view.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::channelDistance;
using test::label;
using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 440);
const QRect kBounds(QPoint(0, 0), kSize);

HeatmapData attentionLike() {
  HeatmapData data;
  data.values.resize(4, 6);
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 6; ++c) data.values(r, c) = 0.1 * r * 6 + 0.1 * c - 0.7;
  }
  data.rowLabels = {"L0", "L1", "L2", "L3"};
  data.columnLabels = {"H0", "H1", "H2", "H3", "H4", "H5"};
  data.rowTitle = "layer";
  data.columnTitle = "head";
  data.title = "Head attribution";
  return data;
}

// Every cell's centre pixel has exactly the colour the scale gives its value.
void expectCellCentresMatch(const HeatmapView& view, const QImage& image) {
  const Eigen::MatrixXd& values = view.data().values;
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    for (Eigen::Index c = 0; c < values.cols(); ++c) {
      const QRect cell = view.cellRect(static_cast<int>(r), static_cast<int>(c), kBounds);
      ASSERT_FALSE(cell.isEmpty()) << r << "," << c;
      const QColor want = view.colorScale().color(values(r, c));
      const QColor got = pixelAt(image, cell.center().x(), cell.center().y());
      ASSERT_EQ(got, want) << "cell (" << r << ", " << c << ") value " << values(r, c) << " at "
                           << cell.center().x() << "," << cell.center().y();
    }
  }
}

TEST(HeatmapView, CellCentresHaveTheScaleColourOfTheirValue) {
  HeatmapView view;
  view.setData(attentionLike());
  EXPECT_DOUBLE_EQ(view.colorScale().min(), -0.7);
  EXPECT_DOUBLE_EQ(view.colorScale().max(), view.data().values(3, 5));
  const QImage image = renderToImage(view, kSize);
  expectCellCentresMatch(view, image);
  // Cells tile the grid: neighbours share an edge, no gaps.
  EXPECT_EQ(view.cellRect(0, 0, kBounds).right() + 1, view.cellRect(0, 1, kBounds).left());
  EXPECT_EQ(view.cellRect(0, 0, kBounds).bottom() + 1, view.cellRect(1, 0, kBounds).top());
}

TEST(HeatmapView, DivergingZeroCellIsWhiteAndNanCellIsGrey) {
  HeatmapData data = attentionLike();
  data.scale = ScaleKind::Diverging;
  data.values(1, 1) = 0.0;
  data.values(2, 3) = std::nan("");
  data.values(3, 5) = 2.0;  // the largest magnitude
  HeatmapView view;
  view.setData(data);
  EXPECT_DOUBLE_EQ(view.colorScale().min(), -2.0);  // symmetric about 0 from |max| = 2
  EXPECT_DOUBLE_EQ(view.colorScale().max(), 2.0);
  const QImage image = renderToImage(view, kSize);
  expectCellCentresMatch(view, image);
  const QPoint zero = view.cellRect(1, 1, kBounds).center();
  EXPECT_EQ(pixelAt(image, zero.x(), zero.y()), QColor(255, 255, 255));
  const QPoint missing = view.cellRect(2, 3, kBounds).center();
  EXPECT_EQ(pixelAt(image, missing.x(), missing.y()), ColorScale::nanColor());
}

TEST(HeatmapView, FixedRangeClampsValuesOutsideIt) {
  HeatmapData data = attentionLike();
  data.min = 0.0;
  data.max = 1.0;
  HeatmapView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  const QPoint low = view.cellRect(0, 0, kBounds).center();   // -0.7
  const QPoint high = view.cellRect(3, 5, kBounds).center();  // 2.0
  EXPECT_EQ(pixelAt(image, low.x(), low.y()), view.colorScale().color(0.0));
  EXPECT_EQ(pixelAt(image, high.x(), high.y()), view.colorScale().color(1.0));
}

TEST(HeatmapView, LegendBarRunsFromMinimumColourToMaximumColour) {
  HeatmapData data = attentionLike();
  data.scale = ScaleKind::Diverging;
  data.values(3, 5) = 2.0;
  HeatmapView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  const QRect bar = view.legendBarRect(kBounds);
  ASSERT_GT(bar.height(), 50);
  const int x = bar.center().x();
  EXPECT_LE(channelDistance(pixelAt(image, x, bar.top()), view.colorScale().color(2.0)), 6);
  EXPECT_LE(channelDistance(pixelAt(image, x, bar.bottom()), view.colorScale().color(-2.0)), 6);
  // Zero is the bar's middle: white there.
  EXPECT_LE(channelDistance(pixelAt(image, x, bar.top() + bar.height() / 2), Qt::white), 4);
  // The legend sits right of the grid and does not overlap it.
  EXPECT_GT(bar.left(), view.cellRect(0, 5, kBounds).right());
}

TEST(HeatmapView, SvgHasTitleLabelsAxisTitlesAndLegendRange) {
  test::OutputDir out;
  HeatmapData data = attentionLike();
  HeatmapView view;
  view.setData(data);
  renderToSvg(view, out / "heatmap_labels.svg", kSize);
  renderToPng(view, out / "heatmap_labels.png", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "heatmap_labels.svg"));
  for (const char* expected : {"Head attribution", "layer", "head", "L0", "L3", "H0", "H5"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
  // The legend names the range's ends.
  EXPECT_TRUE(texts.contains(QString::fromStdString(formatValue(-0.7))));
  EXPECT_TRUE(texts.contains(QString::fromStdString(formatValue(1.6))));
}

TEST(HeatmapView, AnnotationsPrintEachValueInItsCell) {
  test::OutputDir out;
  HeatmapData data;
  data.values.resize(2, 3);
  data.values << 0.25, -1.5, 3, 0, 0.125, 42;
  data.scale = ScaleKind::Diverging;
  data.annotate = true;
  data.title = "annotated";
  HeatmapView view;
  view.setData(data);
  renderToSvg(view, out / "heatmap_annotated.svg", kSize);
  renderToPng(view, out / "heatmap_annotated.png", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "heatmap_annotated.svg"));
  for (const char* expected : {"0.25", "-1.5", "3", "0", "0.125", "42"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
}

TEST(HeatmapView, CrowdedLabelsAreThinnedAndSparseOnesAllShown) {
  test::OutputDir out;
  HeatmapData data;
  data.values = Eigen::MatrixXd::Random(120, 120);
  for (int i = 0; i < 120; ++i) {
    data.rowLabels.push_back(label("q", i));
    data.columnLabels.push_back(label("k", i));
  }
  data.rowTitle = "query";
  data.columnTitle = "key";
  data.title = "attention pattern";
  HeatmapView view;
  view.setData(data);
  renderToSvg(view, out / "heatmap_crowded.svg", QSize(500, 500));
  renderToPng(view, out / "heatmap_crowded.png", QSize(500, 500));
  const QStringList texts = test::svgTexts(test::readFile(out / "heatmap_crowded.svg"));
  int rowLabels = 0;
  int columnLabels = 0;
  for (const QString& text : texts) {
    if (text.startsWith('q') && text != QStringLiteral("query")) ++rowLabels;
    if (text.startsWith('k') && text != QStringLiteral("key")) ++columnLabels;
  }
  EXPECT_TRUE(texts.contains(QStringLiteral("q0")));
  EXPECT_TRUE(texts.contains(QStringLiteral("k0")));
  EXPECT_GT(rowLabels, 5);
  EXPECT_LT(rowLabels, 60) << "120 rows in under 500 pixels cannot all be labelled legibly";
  EXPECT_GT(columnLabels, 5);
  EXPECT_LT(columnLabels, 60);
}

TEST(HeatmapView, LargeMatricesDrawTheSameColours) {
  // Above the vector-cell limit the grid is drawn as one scaled image: colours must not change.
  HeatmapData data;
  data.values.resize(150, 150);
  for (int r = 0; r < 150; ++r) {
    for (int c = 0; c < 150; ++c) data.values(r, c) = std::sin(r * 0.1) * std::cos(c * 0.07);
  }
  data.scale = ScaleKind::Diverging;
  HeatmapView view;
  view.setData(data);
  const QSize size(1000, 1000);
  const QRect bounds(QPoint(0, 0), size);
  const QImage image = renderToImage(view, size);
  int checked = 0;
  for (int r = 0; r < 150; r += 7) {
    for (int c = 0; c < 150; c += 11) {
      const QRect cell = view.cellRect(r, c, bounds);
      ASSERT_GE(cell.width(), 3);
      ASSERT_GE(cell.height(), 3);
      EXPECT_EQ(pixelAt(image, cell.center().x(), cell.center().y()),
                view.colorScale().color(data.values(r, c)))
          << r << "," << c;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(HeatmapView, EmptyMatrixDrawsNoDataMessage) {
  test::OutputDir out;
  HeatmapData data;
  data.title = "nothing yet";
  HeatmapView view;
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  EXPECT_EQ(image.size(), kSize);
  renderToSvg(view, out / "heatmap_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "heatmap_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_TRUE(view.cellRect(0, 0, kBounds).isEmpty());
  view.resize(kSize);
  EXPECT_FALSE(view.cellAt(QPoint(320, 220)).has_value());
}

TEST(HeatmapView, HitTestsTooltipsAndClicksFindTheCell) {
  HeatmapView view;
  view.setData(attentionLike());
  view.resize(kSize);
  const QPoint centre = view.cellRect(2, 4, kBounds).center();
  ASSERT_TRUE(view.cellAt(centre).has_value());
  EXPECT_EQ(*view.cellAt(centre), (HeatmapCell{2, 4}));
  EXPECT_FALSE(view.cellAt(QPoint(1, 1)).has_value());

  const QString tip = view.toolTipText(2, 4);
  EXPECT_TRUE(tip.contains(QStringLiteral("layer: 2 (L2)"))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(QStringLiteral("head: 4 (H4)"))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(QString::fromStdString(formatValue(view.data().values(2, 4)))))
      << tip.toStdString();

  std::vector<HeatmapCell> clicked;
  QObject::connect(&view, &HeatmapView::cellClicked, [&](int row, int column) {
    clicked.push_back({row, column});
  });
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(centre), QPointF(view.mapToGlobal(centre)),
                    Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&view, &press);
  QMouseEvent outside(QEvent::MouseButtonPress, QPointF(1, 1),
                      QPointF(view.mapToGlobal(QPoint(1, 1))), Qt::LeftButton, Qt::LeftButton,
                      Qt::NoModifier);
  QApplication::sendEvent(&view, &outside);
  ASSERT_EQ(clicked.size(), 1u);
  EXPECT_EQ(clicked[0], (HeatmapCell{2, 4}));
}

TEST(HeatmapView, LabelCountsMustMatchTheMatrix) {
  HeatmapView view;
  view.setData(attentionLike());
  HeatmapData rows = attentionLike();
  rows.rowLabels.pop_back();
  const std::string rowMessage = messageOf<ConfigError>([&] { view.setData(rows); });
  EXPECT_NE(rowMessage.find("'Head attribution'"), std::string::npos) << rowMessage;
  EXPECT_NE(rowMessage.find("3 row labels for a matrix with 4 rows"), std::string::npos)
      << rowMessage;
  HeatmapData columns = attentionLike();
  columns.columnLabels.push_back("H6");
  const std::string columnMessage = messageOf<ConfigError>([&] { view.setData(columns); });
  EXPECT_NE(columnMessage.find("7 column labels for a matrix with 6 columns"), std::string::npos)
      << columnMessage;
  // A failed setData keeps what was shown.
  EXPECT_EQ(view.data().rowLabels.size(), 4u);
  EXPECT_EQ(view.data().columnLabels.size(), 6u);
}

TEST(HeatmapView, BadFixedRangesThrow) {
  HeatmapData infinite = attentionLike();
  infinite.max = std::numeric_limits<double>::infinity();
  const std::string message = messageOf<ConfigError>([&] { HeatmapView::validate(infinite); });
  EXPECT_NE(message.find("fixed maximum inf is not finite"), std::string::npos) << message;
  HeatmapData reversed = attentionLike();
  reversed.min = 1.0;
  reversed.max = 1.0;
  const std::string empty = messageOf<ConfigError>([&] { HeatmapView::validate(reversed); });
  EXPECT_NE(empty.find("is empty"), std::string::npos) << empty;
}

TEST(HeatmapView, PaintIntoAnyRectangleMatchesTheWidgetRendering) {
  // One drawing path: paint() into an image equals what the widget renders through paintEvent.
  HeatmapView view;
  view.setData(attentionLike());
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
