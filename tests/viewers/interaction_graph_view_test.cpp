// InteractionGraphView: bad data throws naming the problem, node radii follow Lambda, edges above
// the threshold are drawn in the edge colour and those below are not, the threshold changes the
// count and its text, hidden nodes are counted in the SVG, tooltips name nodes and edges, and a
// click selects a node (dimming the edges away from it) and emits its indices.
#include <QApplication>
#include <QMouseEvent>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/interaction_graph_view.h"
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

InteractionEdges matrix(int rows, int cols,
                        std::vector<std::pair<std::pair<int, int>, double>> set) {
  InteractionEdges edges;
  edges.rows = rows;
  edges.cols = cols;
  edges.values.assign(static_cast<size_t>(rows * cols), 0.0);
  for (const auto& [at, value] : set) {
    edges.values[static_cast<size_t>(at.first * cols + at.second)] = value;
  }
  return edges;
}

// Three layers of 3, 2 and 3 directions. Pair 0: 0 -> 0 the strongest (1.0), 1 -> 1 at half,
// 2 -> 1 at 5%; pair 1: 0 -> 0 the strongest (2.0), 1 -> 2 at half. No two drawn edges cross at
// the middle between their columns.
InteractionGraphData smallGraph() {
  InteractionGraphData data;
  data.title = "LIB interaction graph";
  data.layers = {{"blocks.0.hook_resid_pre", {4.0, 1.0, 0.25}},
                 {"blocks.1.hook_resid_pre", {2.0, 0.5}},
                 {"output", {1.0, 1.0, 1.0}}};
  data.edges = {matrix(2, 3, {{{0, 0}, 1.0}, {{1, 1}, 0.5}, {{1, 2}, 0.05}}),
                matrix(3, 2, {{{0, 0}, 2.0}, {{2, 1}, 1.0}})};
  return data;
}

QPoint midpoint(const InteractionGraphView& view, int layer, int from, int to) {
  const QPointF mid =
      (view.nodeCenter(layer, from, kBounds) + view.nodeCenter(layer + 1, to, kBounds)) / 2.0;
  return QPoint(static_cast<int>(std::floor(mid.x())), static_cast<int>(std::floor(mid.y())));
}

void click(QWidget& widget, QPoint point) {
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(point), QPointF(widget.mapToGlobal(point)),
                    Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&widget, &press);
}

TEST(InteractionGraphView, BadDataIsRefusedWithAClearMessage) {
  InteractionGraphView view;
  view.setData(smallGraph());
  const auto refused = [&](const InteractionGraphData& data, const char* expected) {
    const std::string message = messageOf<ConfigError>([&] { view.setData(data); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find("'LIB interaction graph'"), std::string::npos) << message;
    EXPECT_EQ(view.data().layers.size(), 3u) << "a refused setData keeps what was shown";
    EXPECT_EQ(view.data().edges[0].values, smallGraph().edges[0].values);
  };

  InteractionGraphData data = smallGraph();
  data.edges.pop_back();
  refused(data, "3 node layers need 2 edge matrices (one per consecutive pair), got 1");

  data = smallGraph();
  data.edges[1] = matrix(2, 2, {});
  refused(data,
          "edge matrix 1 (layer 1 (blocks.1.hook_resid_pre) -> layer 2 (output)) is 2 x 2 but "
          "must be [nodes of layer 2, nodes of layer 1] = 3 x 2");

  data = smallGraph();
  data.edges[0].values.pop_back();
  refused(data,
          "edge matrix 0 (layer 0 (blocks.0.hook_resid_pre) -> layer 1 "
          "(blocks.1.hook_resid_pre)) has 5 values but its 2 x 3 shape needs 6");

  data = smallGraph();
  data.edges[0].values[5] = -0.5;
  refused(data,
          "has E = -0.5 at [1, 2] (direction 2 -> 1); interaction strengths must be finite "
          "and >= 0");

  data = smallGraph();
  data.edges[1].values[0] = std::numeric_limits<double>::infinity();
  refused(data,
          "edge matrix 1 (layer 1 (blocks.1.hook_resid_pre) -> layer 2 (output)) has E = inf");

  data = smallGraph();
  data.layers[2].importance[1] = std::nan("");
  refused(data, "the importance Lambda of direction 1 in layer 2 (output) is NaN");

  data = smallGraph();
  data.layers[1].importance.clear();
  refused(data, "layer 1 (blocks.1.hook_resid_pre) has no directions");

  // One layer alone needs no edges; no layers at all is "no data".
  data = smallGraph();
  data.layers.resize(1);
  data.edges.clear();
  EXPECT_NO_THROW(InteractionGraphView::validate(data));
  EXPECT_NO_THROW(InteractionGraphView::validate(InteractionGraphData{}));
}

TEST(InteractionGraphView, NodeRadiusFollowsLambda) {
  InteractionGraphData data = smallGraph();
  data.layers[0].importance = {4.0, 1.0, 0.0};
  InteractionGraphView view;
  view.setData(data);
  const double r0 = view.nodeRadius(0, 0, kBounds);
  const double r1 = view.nodeRadius(0, 1, kBounds);
  const double r2 = view.nodeRadius(0, 2, kBounds);
  EXPECT_GT(r0, r1);
  EXPECT_GT(r1, r2);
  EXPECT_NEAR(r0 / r1, 2.0, 1e-9) << "area, not radius, follows Lambda";
  EXPECT_GT(r2, 1.0) << "a zero Lambda still draws a visible node";
  // Each layer is scaled to its own largest Lambda: the most important nodes are alike.
  EXPECT_DOUBLE_EQ(view.nodeRadius(1, 0, kBounds), r0);
  EXPECT_DOUBLE_EQ(view.nodeRadius(2, 1, kBounds), r0);
  EXPECT_EQ(view.nodeRadius(0, 3, kBounds), 0.0);
  EXPECT_EQ(view.nodeRadius(3, 0, kBounds), 0.0);

  // Drawn as large as said: the node colour at the radius' edge inside, background beyond.
  const QImage image = renderToImage(view, kSize);
  const QPointF c = view.nodeCenter(0, 0, kBounds);
  EXPECT_EQ(pixelAt(image, static_cast<int>(c.x()), static_cast<int>(c.y())),
            InteractionGraphView::nodeColor());
  const int above = static_cast<int>(std::floor(c.y() - r0 + 3));
  EXPECT_EQ(pixelAt(image, static_cast<int>(c.x()), above), InteractionGraphView::nodeColor());
  const int beyond = static_cast<int>(std::floor(c.y() - r0 - 3));
  EXPECT_EQ(pixelAt(image, static_cast<int>(c.x()), beyond), paint::backgroundColor());
}

TEST(InteractionGraphView, EdgesAboveTheThresholdAreDrawnAndBelowAreNot) {
  InteractionGraphView view;
  view.setData(smallGraph());
  view.setThreshold(0.1);
  QImage image = renderToImage(view, kSize);
  const QColor background = paint::backgroundColor();

  const QPoint strong = midpoint(view, 0, 0, 0);
  EXPECT_EQ(pixelAt(image, strong.x(), strong.y()), InteractionGraphView::edgeColor());
  const QPoint weak = midpoint(view, 0, 2, 1);
  EXPECT_EQ(pixelAt(image, weak.x(), weak.y()), background) << "5% is below a 10% threshold";
  EXPECT_EQ(view.edgeWidth({0, 2, 1}, kBounds), 0.0);

  // Half as strong: narrower and paler, but there.
  const QPoint half = midpoint(view, 0, 1, 1);
  const QColor halfColor = pixelAt(image, half.x(), half.y());
  EXPECT_NE(halfColor, background);
  EXPECT_GT(lightness(halfColor), lightness(InteractionGraphView::edgeColor()) + 10);
  EXPECT_LT(view.edgeWidth({0, 1, 1}, kBounds), view.edgeWidth({0, 0, 0}, kBounds));

  view.setThreshold(0.01);
  image = renderToImage(view, kSize);
  const QColor faint = pixelAt(image, weak.x(), weak.y());
  EXPECT_NE(faint, background) << "5% is above a 1% threshold";
  EXPECT_GT(faint.blue(), faint.red()) << "a faint edge is a pale edge colour";
}

TEST(InteractionGraphView, RaisingTheThresholdShowsFewerEdges) {
  InteractionGraphView view;
  view.setData(smallGraph());
  std::vector<double> changes;
  QObject::connect(&view, &InteractionGraphView::thresholdChanged,
                   [&changes](double fraction) { changes.push_back(fraction); });

  view.setThreshold(0.0);
  EXPECT_EQ(view.edgesTotal(), 5);
  EXPECT_EQ(view.edgesShown(), 5);
  EXPECT_EQ(view.edgeSummary(), QStringLiteral("5 of 5 edges shown"));
  view.setThreshold(0.1);
  EXPECT_EQ(view.edgesShown(), 4);
  view.setThreshold(0.6);
  EXPECT_EQ(view.edgesShown(), 2);
  EXPECT_EQ(view.edgeSummary(), QStringLiteral("2 of 5 edges shown"));
  view.setThreshold(7.0);
  EXPECT_EQ(view.threshold(), 1.0) << "clamped";
  EXPECT_EQ(view.edgesShown(), 2) << "each pair's largest edge stays";
  view.setThreshold(1.0);
  view.setThreshold(std::nan(""));
  EXPECT_EQ(changes, (std::vector<double>{0.0, 0.1, 0.6, 1.0})) << "one signal per change";

  // Against the graph's largest E (2.0), pair 0's strongest edge is only half.
  view.setEdgeScale(InteractionGraphView::EdgeScale::Global);
  EXPECT_EQ(view.edgesShown(), 1);
  view.setThreshold(0.5);
  EXPECT_EQ(view.edgesShown(), 3);

  test::OutputDir out;
  renderToSvg(view, out / "interaction_graph_threshold.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "interaction_graph_threshold.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("3 of 5 edges shown")))
      << texts.join('|').toStdString();
  EXPECT_TRUE(texts.contains(QStringLiteral("E ≥ 50% of the largest E of the graph")));
}

TEST(InteractionGraphView, HiddenNodesAreCountedInTheSvg) {
  InteractionGraphData data = smallGraph();
  data.layers[1].importance.clear();
  for (int n = 0; n < 129; ++n) data.layers[1].importance.push_back(1.0 / (n + 1));
  data.edges[0] = matrix(129, 3, {{{0, 0}, 1.0}, {{100, 1}, 3.0}});
  data.edges[1] = matrix(3, 129, {{{0, 0}, 2.0}});
  InteractionGraphView view;
  view.setData(data);
  EXPECT_EQ(view.maxNodesPerLayer(), 40);
  EXPECT_EQ(view.visibleNodes(1), 40);
  EXPECT_EQ(view.visibleNodes(0), 3);
  EXPECT_EQ(view.nodeCenter(1, 45, kBounds), QPointF(-1, -1));
  EXPECT_EQ(view.edgesShown(), 2) << "an edge to a hidden node is not drawn";
  EXPECT_EQ(view.edgeSummary(), QStringLiteral("2 of 3 edges shown"));
  // The hidden node's edge still sets the scale: 1.0 is a third of the pair's largest.
  view.setThreshold(0.5);
  EXPECT_EQ(view.edgesShown(), 1);

  test::OutputDir out;
  renderToSvg(view, out / "interaction_graph_hidden.svg", kSize);
  renderToPng(view, out / "interaction_graph_hidden.png", kSize);
  QStringList texts = test::svgTexts(test::readFile(out / "interaction_graph_hidden.svg"));
  for (const char* expected : {"LIB interaction graph", "+ 89 more", "L0 resid_pre", "L1 resid_pre",
                               "output", "1 of 3 edges shown"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
  EXPECT_FALSE(texts.contains(QStringLiteral("+ 0 more")));

  view.setMaxNodesPerLayer(100);
  renderToSvg(view, out / "interaction_graph_hidden_100.svg", kSize);
  texts = test::svgTexts(test::readFile(out / "interaction_graph_hidden_100.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("+ 29 more")));
  EXPECT_FALSE(texts.contains(QStringLiteral("+ 89 more")));

  const std::string message = messageOf<ConfigError>([&] { view.setMaxNodesPerLayer(0); });
  EXPECT_NE(message.find("cannot draw at most 0 nodes per layer"), std::string::npos) << message;
  EXPECT_EQ(view.maxNodesPerLayer(), 100);
}

TEST(InteractionGraphView, ToolTipsNameNodesAndEdges) {
  InteractionGraphView view;
  view.setData(smallGraph());
  view.resize(kSize);
  EXPECT_EQ(view.nodeToolTip(1, 1),
            QStringLiteral("blocks.1.hook_resid_pre, direction 1: Λ = 0.5\n"
                           "strongest in: 1 -> 1, E = 0.5\nstrongest out: 1 -> 2, E = 1"));
  EXPECT_EQ(view.nodeToolTip(0, 0), QStringLiteral("blocks.0.hook_resid_pre, direction 0: Λ = 4\n"
                                                   "strongest out: 0 -> 0, E = 1"));
  EXPECT_EQ(view.nodeToolTip(2, 1), QStringLiteral("output, direction 1: Λ = 1"))
      << "no edge with E > 0 reaches it";
  EXPECT_EQ(view.toolTipAt(view.nodeCenter(2, 2, kBounds).toPoint()),
            QStringLiteral("output, direction 2: Λ = 1\nstrongest in: 1 -> 2, E = 1"));

  EXPECT_EQ(view.toolTipAt(midpoint(view, 1, 1, 2)),
            QStringLiteral("1 -> 2: E = 1\nblocks.1.hook_resid_pre -> output"));
  const auto edge = view.edgeAt(midpoint(view, 0, 1, 1), kBounds);
  ASSERT_TRUE(edge.has_value());
  EXPECT_EQ(*edge, (InteractionEdgeId{0, 1, 1}));
  EXPECT_FALSE(view.edgeAt(midpoint(view, 0, 2, 1), kBounds)) << "not drawn, not hovered";
  EXPECT_TRUE(view.toolTipAt(QPoint(2, kSize.height() - 2)).isEmpty());
}

TEST(InteractionGraphView, ClickSelectsANodeAndDimsTheRest) {
  InteractionGraphView view;
  view.setData(smallGraph());
  view.resize(kSize);
  std::vector<std::pair<int, int>> clicks;
  QObject::connect(&view, &InteractionGraphView::nodeClicked,
                   [&clicks](int layer, int node) { clicks.emplace_back(layer, node); });

  for (int l = 0; l < 3; ++l) {
    for (int n = 0;
         n < static_cast<int>(smallGraph().layers[static_cast<size_t>(l)].importance.size()); ++n) {
      const auto hit = view.nodeAt(view.nodeCenter(l, n, kBounds).toPoint(), kBounds);
      ASSERT_TRUE(hit.has_value()) << l << "," << n;
      EXPECT_EQ(*hit, std::pair(l, n));
    }
  }

  const QPoint unrelated = midpoint(view, 0, 0, 0);
  const QPoint related = midpoint(view, 0, 1, 1);
  const QImage before = renderToImage(view, kSize);
  click(view, view.nodeCenter(1, 1, kBounds).toPoint() + QPoint(1, -1));
  ASSERT_EQ(clicks.size(), 1u);
  EXPECT_EQ(clicks[0], std::pair(1, 1));
  ASSERT_TRUE(view.selectedNode().has_value());
  EXPECT_EQ(*view.selectedNode(), std::pair(1, 1));

  const QImage selected = renderToImage(view, kSize);
  const QColor dimmed = pixelAt(selected, unrelated.x(), unrelated.y());
  EXPECT_GT(lightness(dimmed), lightness(pixelAt(before, unrelated.x(), unrelated.y())) + 20)
      << "an edge away from the selection is dimmed";
  EXPECT_NE(dimmed, paint::backgroundColor()) << "dimmed, not gone";
  EXPECT_EQ(pixelAt(selected, related.x(), related.y()), pixelAt(before, related.x(), related.y()))
      << "the selected node's own edge keeps its colour";
  // A node with no drawn edge to the selection is dimmed too; the selection's neighbour is not.
  const QPointF far = view.nodeCenter(0, 0, kBounds);
  const QPointF neighbour = view.nodeCenter(2, 2, kBounds);
  EXPECT_NE(pixelAt(selected, static_cast<int>(far.x()), static_cast<int>(far.y())),
            InteractionGraphView::nodeColor());
  EXPECT_EQ(pixelAt(selected, static_cast<int>(neighbour.x()), static_cast<int>(neighbour.y())),
            InteractionGraphView::nodeColor());

  // A click on empty space clears the selection and emits nothing.
  click(view, QPoint(kSize.width() / 2, kSize.height() - 12));
  EXPECT_FALSE(view.selectedNode().has_value());
  EXPECT_EQ(clicks.size(), 1u);
  const QImage cleared = renderToImage(view, kSize);
  EXPECT_EQ(pixelAt(cleared, unrelated.x(), unrelated.y()), InteractionGraphView::edgeColor());
}

TEST(InteractionGraphView, NoDataSaysSo) {
  test::OutputDir out;
  InteractionGraphView view;
  renderToSvg(view, out / "interaction_graph_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "interaction_graph_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_FALSE(view.nodeAt(QPoint(320, 220), kBounds).has_value());
  EXPECT_EQ(view.nodeCenter(0, 0, kBounds), QPointF(-1, -1));
  EXPECT_EQ(view.edgesShown(), 0);
  EXPECT_EQ(view.edgeSummary(), QStringLiteral("0 of 0 edges shown"));
  const QImage image = renderToImage(view, kSize);
  EXPECT_EQ(pixelAt(image, 5, 5), paint::backgroundColor());
}

}  // namespace
}  // namespace cs::viewers
