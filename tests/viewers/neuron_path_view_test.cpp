// NeuronPathView: bad data throws naming the problem, path and baseline markers sit on their
// neurons in their own colours (solid and dashed lines between them), a click on a neuron emits
// its column, index and modifiers (exactly on a marker even in a dense column), binning keeps a
// lone strong neuron visible, tooltips name layer, neuron and score, the SVG carries the legend,
// and masked and enhanced neurons are marked.
#include <QApplication>
#include <QMouseEvent>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/neuron_path_view.h"
#include "viewers/paint_helpers.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::channelDistance;
using test::lightness;
using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 440);
const QRect kBounds(QPoint(0, 0), kSize);

// Three layers of eight neurons; the path goes 2 -> 5 -> 1 and the baseline 6 -> 7 -> 7, below
// it, so the two lines never cross.
NeuronPathData smallPath() {
  NeuronPathData data;
  data.layerLabels = {"L0", "L1", "L2"};
  for (int c = 0; c < 3; ++c) {
    std::vector<double> column;
    for (int n = 0; n < 8; ++n) column.push_back(0.1 * (n - 4) + 0.05 * c);
    data.scores.push_back(column);
  }
  data.scores[0][2] = 0.8;
  data.scores[1][5] = 0.9;
  data.scores[2][1] = -0.7;
  data.path = {{2}, {5, 3}, {1}};
  data.baselinePath = {{6}, {7}, {7}};
  data.pathScore = 0.41;
  data.baselineScore = 0.12;
  data.title = "influential neuron path";
  data.scoreName = "candidate score";
  return data;
}

// `columns` layers of `width` neurons with small wavy scores.
NeuronPathData densePath(int columns, int width) {
  NeuronPathData data;
  for (int c = 0; c < columns; ++c) {
    data.layerLabels.push_back(test::label("L", static_cast<size_t>(c)));
    std::vector<double> column;
    for (int n = 0; n < width; ++n) column.push_back(0.01 * std::sin(0.37 * n + c));
    data.scores.push_back(column);
  }
  return data;
}

void click(QWidget& widget, QPoint point, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(point), QPointF(widget.mapToGlobal(point)),
                    Qt::LeftButton, Qt::LeftButton, modifiers);
  QApplication::sendEvent(&widget, &press);
}

struct Clicked {
  int column;
  qint64 neuron;
  Qt::KeyboardModifiers modifiers;
  bool operator==(const Clicked&) const = default;
};

std::vector<Clicked>& recordClicks(NeuronPathView& view, std::vector<Clicked>& clicks) {
  QObject::connect(&view, &NeuronPathView::neuronClicked,
                   [&clicks](int column, qint64 neuron, Qt::KeyboardModifiers modifiers) {
                     clicks.push_back({column, neuron, modifiers});
                   });
  return clicks;
}

TEST(NeuronPathView, BadDataIsRefusedWithAClearMessage) {
  NeuronPathView view;
  view.setData(smallPath());
  const auto refused = [&](const NeuronPathData& data, const char* expected) {
    const std::string message = messageOf<ConfigError>([&] { view.setData(data); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find("'influential neuron path'"), std::string::npos) << message;
    EXPECT_EQ(view.data().path, smallPath().path) << "a refused setData keeps what was shown";
  };

  NeuronPathData data = smallPath();
  data.layerLabels.push_back("L3");
  refused(data, "4 layer labels but 3 columns of scores");

  data = smallPath();
  data.path.pop_back();
  refused(data, "the neuron path has 2 layers but the view has 3 layer columns");

  data = smallPath();
  data.baselinePath = {{6}, {7}, {7}, {7}};
  refused(data, "the activation path has 4 layers but the view has 3 layer columns");

  data = smallPath();
  data.path[1] = {8};
  refused(data,
          "the neuron path's neuron 8 in column 1 (L1) is outside the layer's 8 neurons "
          "(0..7)");

  data = smallPath();
  data.baselinePath[2] = {-1};
  refused(data, "the activation path's neuron -1 in column 2 (L2) is outside");

  data = smallPath();
  data.path[2].clear();
  refused(data, "the neuron path has no neuron in column 2 (L2)");

  data = smallPath();
  data.scores[1].clear();
  data.path.clear();
  data.baselinePath.clear();
  refused(data, "column 1 (L1) has no neuron scores");

  data = smallPath();
  data.scores[0][3] = std::numeric_limits<double>::infinity();
  refused(data, "the score of neuron 3 in column 0 (L0) is inf");

  data = smallPath();
  data.pathScore = std::nan("");
  refused(data, "the neuron path's score is NaN");

  data = smallPath();
  data.masked = {{1, 99}};
  refused(data, "the masked neuron 99 in column 1 (L1) is outside the layer's 8 neurons");

  data = smallPath();
  data.enhanced = {{3, 0}};
  refused(data, "the enhanced neuron 0 is in column 3 but the view has 3 layer columns");

  data = smallPath();
  data.max = std::numeric_limits<double>::infinity();
  refused(data, "is not finite");

  data = smallPath();
  data.min = 1.0;
  data.max = 1.0;
  refused(data, "is empty");

  // NaN scores are "not available", not an error; a path may be absent.
  data = smallPath();
  data.scores[0][0] = std::nan("");
  data.path.clear();
  EXPECT_NO_THROW(NeuronPathView::validate(data));
}

TEST(NeuronPathView, PathMarkersHaveTheirColoursNotTheStrips) {
  NeuronPathView view;
  const NeuronPathData data = smallPath();
  view.setData(data);
  const QImage image = renderToImage(view, kSize);
  const QColor path = NeuronPathView::pathColor();
  const QColor baseline = NeuronPathView::baselineColor();
  EXPECT_GT(channelDistance(path, baseline), 100) << "the two paths must read apart";

  for (int c = 0; c < 3; ++c) {
    const QRect strip = view.columnRect(c, kBounds);
    ASSERT_FALSE(strip.isEmpty());
    ASSERT_TRUE(kBounds.contains(strip));
    const std::int64_t n = data.path[static_cast<size_t>(c)][0];
    const QPoint at = view.neuronPoint(c, n, kBounds).toPoint();
    ASSERT_TRUE(strip.contains(at)) << "column " << c;
    const QColor stripColor = view.colorScale().color(data.scores[static_cast<size_t>(c)][n]);
    EXPECT_NE(stripColor, path);
    EXPECT_EQ(pixelAt(image, at.x(), at.y()), path) << "path marker, column " << c;

    const std::int64_t b = data.baselinePath[static_cast<size_t>(c)][0];
    const QPoint bat = view.neuronPoint(c, b, kBounds).toPoint();
    EXPECT_NE(view.colorScale().color(data.scores[static_cast<size_t>(c)][b]), baseline);
    EXPECT_EQ(pixelAt(image, bat.x(), bat.y()), baseline) << "baseline marker, column " << c;

    // A neuron on neither path shows its own colour at its marker point.
    const QPoint plain = view.neuronPoint(c, 4, kBounds).toPoint();
    EXPECT_EQ(pixelAt(image, plain.x(), plain.y()),
              view.colorScale().color(data.scores[static_cast<size_t>(c)][4]))
        << "column " << c;
  }
  // Neuron 3 is the path's second choice in L1: a ring, hollow, so the strip shows inside it.
  const QPoint second = view.neuronPoint(1, 3, kBounds).toPoint();
  EXPECT_EQ(pixelAt(image, second.x(), second.y()), view.colorScale().color(data.scores[1][3]));
  bool ring = false;
  for (int dy = -6; dy <= 6; ++dy) {
    ring = ring || channelDistance(pixelAt(image, second.x(), second.y() + dy), path) < 60;
  }
  EXPECT_TRUE(ring) << "no ring around the second choice";
}

// Pixels along the segment between two markers, in the gap between the strips.
std::vector<QColor> alongSegment(const QImage& image, QPointF from, QPointF to) {
  std::vector<QColor> colors;
  const double length = std::hypot(to.x() - from.x(), to.y() - from.y());
  for (double t = 0.25; t <= 0.75; t += 1.0 / length) {
    const QPointF p = from + t * (to - from) + QPointF(0.5, 0.5);  // marker centres
    colors.push_back(
        pixelAt(image, static_cast<int>(std::floor(p.x())), static_cast<int>(std::floor(p.y()))));
  }
  return colors;
}

TEST(NeuronPathView, PathLineIsSolidAndBaselineLineDashed) {
  NeuronPathView view;
  view.setData(smallPath());
  const QImage image = renderToImage(view, kSize);
  const QColor white = paint::backgroundColor();
  const auto pathColors =
      alongSegment(image, view.neuronPoint(0, 2, kBounds), view.neuronPoint(1, 5, kBounds));
  ASSERT_GT(pathColors.size(), 50u);
  for (const QColor& color : pathColors) {
    EXPECT_LT(channelDistance(color, NeuronPathView::pathColor()), channelDistance(color, white))
        << "a gap in the solid path line";
  }
  int dash = 0;
  int gap = 0;
  for (const QColor& color :
       alongSegment(image, view.neuronPoint(0, 6, kBounds), view.neuronPoint(1, 7, kBounds))) {
    if (channelDistance(color, NeuronPathView::baselineColor()) < channelDistance(color, white)) {
      ++dash;
    } else if (color == white) {
      ++gap;
    }
  }
  EXPECT_GT(dash, 10) << "no baseline line";
  EXPECT_GT(gap, 5) << "the baseline line is not dashed";
}

TEST(NeuronPathView, ClickEmitsTheNeuronAndModifiers) {
  NeuronPathView view;
  view.setData(smallPath());
  view.resize(kSize);
  std::vector<Clicked> clicks;
  recordClicks(view, clicks);

  for (int c = 0; c < 3; ++c) {
    for (std::int64_t n = 0; n < 8; ++n) {
      const auto hit = view.neuronAt(view.neuronPoint(c, n, view.rect()).toPoint(), view.rect());
      ASSERT_TRUE(hit.has_value()) << c << "," << n;
      EXPECT_EQ(hit->first, c);
      EXPECT_EQ(hit->second, n);
    }
  }
  click(view, view.neuronPoint(1, 4, view.rect()).toPoint());
  click(view, view.neuronPoint(2, 1, view.rect()).toPoint(), Qt::ShiftModifier);
  click(view, view.neuronPoint(0, 6, view.rect()).toPoint() + QPoint(3, 2), Qt::ControlModifier);
  ASSERT_EQ(clicks.size(), 3u);
  EXPECT_EQ(clicks[0], (Clicked{1, 4, Qt::NoModifier}));
  EXPECT_EQ(clicks[1], (Clicked{2, 1, Qt::ShiftModifier}));
  EXPECT_EQ(clicks[2], (Clicked{0, 6, Qt::ControlModifier})) << "near the baseline marker";

  // Outside every strip and marker: nothing.
  click(view, QPoint(2, 2));
  const QRect strip = view.columnRect(0, view.rect());
  click(view, QPoint(strip.right() + 30, strip.center().y()));
  EXPECT_EQ(clicks.size(), 3u);
  EXPECT_FALSE(view.neuronAt(QPoint(strip.center().x(), strip.bottom() + 30), view.rect()));
}

TEST(NeuronPathView, DenseColumnsPickANeuronNearTheClickAndMarkersExactly) {
  NeuronPathData data = densePath(12, 3072);
  for (int c = 0; c < 12; ++c) {
    data.path.push_back({2900 - 7 * c, 2300});
    data.baselinePath.push_back({1500 + c});
  }
  data.pathScore = 0.41;
  data.baselineScore = 0.12;
  data.masked = {{3, 2879}};
  data.enhanced = {{4, 1504}};
  NeuronPathView view;
  view.setData(data);
  const QSize size(640, 300);
  test::OutputDir out;
  renderToPng(view, out / "neuron_path_dense.png", size);
  view.resize(size);
  const QRect bounds = view.rect();
  const QRect strip = view.columnRect(5, bounds);
  ASSERT_LT(strip.height(), 3072 / 4) << "the strip must be binned for this test";
  const double neuronsPerRow = 3072.0 / strip.height();

  for (const std::int64_t n : {0, 1, 511, 1000, 1777, 2048, 2600}) {
    const auto hit = view.neuronAt(view.neuronPoint(5, n, bounds).toPoint(), bounds);
    ASSERT_TRUE(hit.has_value()) << n;
    EXPECT_EQ(hit->first, 5);
    EXPECT_LE(std::abs(hit->second - n), std::ceil(neuronsPerRow) + 1) << n;
  }
  // Across the strip's height the hits go down the layer.
  const auto top = view.neuronAt(QPoint(strip.center().x(), strip.top()), bounds);
  const auto bottom = view.neuronAt(QPoint(strip.center().x(), strip.bottom()), bounds);
  ASSERT_TRUE(top && bottom);
  EXPECT_LE(top->second, static_cast<std::int64_t>(neuronsPerRow));
  EXPECT_GE(bottom->second, 3071 - static_cast<std::int64_t>(neuronsPerRow) - 1);

  // On a marker the click picks the marked neuron itself, not its row's strongest neighbour.
  std::vector<Clicked> clicks;
  recordClicks(view, clicks);
  click(view, view.neuronPoint(5, 2865, bounds).toPoint(), Qt::ShiftModifier);
  click(view, view.neuronPoint(7, 1507, bounds).toPoint());
  ASSERT_EQ(clicks.size(), 2u);
  EXPECT_EQ(clicks[0], (Clicked{5, 2865, Qt::ShiftModifier}));
  EXPECT_EQ(clicks[1], (Clicked{7, 1507, Qt::NoModifier}));
}

TEST(NeuronPathView, BinningKeepsALoneStrongNeuronVisible) {
  NeuronPathData data = densePath(4, 3072);
  data.scores[2][1234] = -1.0;
  data.scores[1][77] = 0.9;
  NeuronPathView view;
  view.setData(data);
  const QSize size(480, 300);
  const QRect bounds(QPoint(0, 0), size);
  ASSERT_LT(view.columnRect(2, bounds).height(), 3072 / 4);
  const QImage image = renderToImage(view, size);
  for (const auto& [column, neuron] : {std::pair{2, 1234}, {1, 77}}) {
    const QPoint at = view.neuronPoint(column, neuron, bounds).toPoint();
    EXPECT_EQ(pixelAt(image, at.x(), at.y()),
              view.colorScale().color(data.scores[static_cast<size_t>(column)][neuron]))
        << "layer " << column << " neuron " << neuron;
  }
  // Elsewhere the strip is nearly white (scores of 0.01 on a scale to 1).
  const QPoint elsewhere = view.neuronPoint(2, 2500, bounds).toPoint();
  EXPECT_GT(lightness(pixelAt(image, elsewhere.x(), elsewhere.y())), 95.0);
}

TEST(NeuronPathView, NarrowerLayersHaveShorterStripsOnTheSameNeuronScale) {
  NeuronPathData data = smallPath();
  data.scores[1].resize(4);
  data.path[1] = {3};
  data.baselinePath[1] = {0};
  NeuronPathView view;
  view.setData(data);
  const QRect wide = view.columnRect(0, kBounds);
  const QRect narrow = view.columnRect(1, kBounds);
  EXPECT_EQ(narrow.top(), wide.top());
  EXPECT_NEAR(narrow.height(), wide.height() / 2.0, 1.0);
  EXPECT_EQ(view.neuronPoint(0, 3, kBounds).y(), view.neuronPoint(1, 3, kBounds).y());
  EXPECT_EQ(view.neuronPoint(1, 4, kBounds), QPointF(-1, -1)) << "past the layer's width";
  const QImage image = renderToImage(view, kSize);
  const QPoint below(narrow.center().x(), narrow.bottom() + 20);
  EXPECT_EQ(pixelAt(image, below.x(), below.y()), paint::backgroundColor());
}

TEST(NeuronPathView, ToolTipNamesLayerNeuronScoreAndPaths) {
  NeuronPathData data = smallPath();
  data.scores[0][4] = std::nan("");
  data.masked = {{2, 1}};
  NeuronPathView view;
  view.setData(data);
  view.resize(kSize);
  EXPECT_EQ(view.toolTipText(1, 0), QStringLiteral("layer L1, neuron 0: candidate score -0.35"));
  EXPECT_EQ(view.toolTipText(1, 3),
            QStringLiteral("layer L1, neuron 3: candidate score -0.05\nneuron path (rank 2 of 2)"));
  EXPECT_EQ(view.toolTipText(0, 4), QStringLiteral("layer L0, neuron 4: candidate score NaN"));
  const QString tip = view.toolTipAt(view.neuronPoint(2, 1, view.rect()).toPoint());
  EXPECT_EQ(tip, QStringLiteral("layer L2, neuron 1: candidate score -0.7\nneuron path\nmasked "
                                "(set to 0)"));
  const QString baseline = view.toolTipAt(view.neuronPoint(0, 6, view.rect()).toPoint());
  EXPECT_TRUE(baseline.contains(QStringLiteral("\nactivation path"))) << baseline.toStdString();
  EXPECT_TRUE(view.toolTipAt(QPoint(2, 2)).isEmpty());
}

TEST(NeuronPathView, SvgCarriesTheLegendAndCaptions) {
  test::OutputDir out;
  NeuronPathView view;
  view.setData(smallPath());
  renderToSvg(view, out / "neuron_path.svg", kSize);
  renderToPng(view, out / "neuron_path.png", kSize);
  QStringList texts = test::svgTexts(test::readFile(out / "neuron_path.svg"));
  for (const char* expected : {"influential neuron path", "neuron path JAS 0.41",
                               "activation path JAS 0.12", "candidate score", "neuron", "L0", "L1",
                               "L2", "#2", "#5", "#1", "0.8", "0.9", "-0.7", "#6", "#7"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
  EXPECT_FALSE(texts.contains(QStringLiteral("masked"))) << "nothing is masked yet";

  view.setMarked({{0, 2}}, {{1, 5}});
  renderToSvg(view, out / "neuron_path_marked.svg", kSize);
  texts = test::svgTexts(test::readFile(out / "neuron_path_marked.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("masked")));
  EXPECT_TRUE(texts.contains(QStringLiteral("enhanced")));

  // Without scores a path is named alone; without a baseline its entry is gone.
  NeuronPathData plain = smallPath();
  plain.pathScore.reset();
  plain.baselinePath.clear();
  view.setData(plain);
  renderToSvg(view, out / "neuron_path_plain.svg", kSize);
  texts = test::svgTexts(test::readFile(out / "neuron_path_plain.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("neuron path")));
  EXPECT_FALSE(texts.contains(QStringLiteral("activation path JAS 0.12")));
}

TEST(NeuronPathView, MaskedAndEnhancedNeuronsAreMarkedAndClickable) {
  NeuronPathView view;
  view.setData(smallPath());
  view.resize(kSize);
  using Kind = NeuronPathView::MarkKind;
  const QRect maskBox = view.markRect(Kind::Masked, 1, 5, kBounds);
  const QRect enhanceBox = view.markRect(Kind::Enhanced, 2, 4, kBounds);
  ASSERT_FALSE(maskBox.isEmpty());
  ASSERT_FALSE(enhanceBox.isEmpty());
  EXPECT_FALSE(maskBox.intersects(view.columnRect(1, kBounds)));
  EXPECT_FALSE(enhanceBox.intersects(view.columnRect(2, kBounds)));
  QImage image = renderToImage(view, kSize);
  EXPECT_EQ(pixelAt(image, maskBox.center().x(), maskBox.center().y()), paint::backgroundColor());
  EXPECT_EQ(pixelAt(image, enhanceBox.center().x(), enhanceBox.center().y()),
            paint::backgroundColor());

  view.setMarked({{1, 5}}, {{2, 4}});
  image = renderToImage(view, kSize);
  const QColor ink = paint::textColor();
  EXPECT_EQ(pixelAt(image, maskBox.center().x(), maskBox.center().y()), ink);
  EXPECT_EQ(pixelAt(image, enhanceBox.center().x(), enhanceBox.center().y()), ink);
  // A cross reaches the box's corners, a plus its edge middles: the two read apart.
  EXPECT_LT(channelDistance(pixelAt(image, maskBox.left() + 1, maskBox.top() + 1), ink), 100);
  EXPECT_EQ(pixelAt(image, maskBox.center().x(), maskBox.top() + 1), paint::backgroundColor());
  EXPECT_EQ(pixelAt(image, enhanceBox.center().x(), enhanceBox.top() + 1), ink);
  EXPECT_EQ(pixelAt(image, enhanceBox.left() + 1, enhanceBox.top() + 1), paint::backgroundColor());
  // The masked path neuron keeps its marker.
  const QPoint marker = view.neuronPoint(1, 5, kBounds).toPoint();
  EXPECT_EQ(pixelAt(image, marker.x(), marker.y()), NeuronPathView::pathColor());

  // Clicking a mark picks its neuron (to unmask it); the view does not change marks itself.
  std::vector<Clicked> clicks;
  recordClicks(view, clicks);
  click(view, enhanceBox.center());
  ASSERT_EQ(clicks.size(), 1u);
  EXPECT_EQ(clicks[0], (Clicked{2, 4, Qt::NoModifier}));
  EXPECT_EQ(view.data().enhanced.size(), 1u);

  const std::string message = messageOf<ConfigError>([&] { view.setMarked({{0, 8}}, {}); });
  EXPECT_NE(message.find("masked neuron 8 in column 0 (L0)"), std::string::npos) << message;
  EXPECT_EQ(view.data().masked, (std::vector<NeuronMark>{{1, 5}})) << "refused marks are not kept";
}

TEST(NeuronPathView, NoDataSaysSo) {
  test::OutputDir out;
  NeuronPathView view;
  renderToSvg(view, out / "neuron_path_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "neuron_path_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_FALSE(view.neuronAt(QPoint(320, 220), kBounds).has_value());
  EXPECT_TRUE(view.columnRect(0, kBounds).isEmpty());
  const QImage image = renderToImage(view, kSize);
  EXPECT_EQ(pixelAt(image, 5, 5), paint::backgroundColor());
}

}  // namespace
}  // namespace cs::viewers
