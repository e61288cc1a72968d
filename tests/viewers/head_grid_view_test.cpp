// HeadGridView: layers and heads labelled L0.. and H0.., a diverging scale for signed scores, a
// click selects the head (outlined) and emits headSelected, a Ctrl- or Shift-click emits
// headMaskToggled instead, masked heads are crossed out in the PNG and in the SVG.
#include <QApplication>
#include <QImageReader>
#include <QMouseEvent>
#include <QPainter>
#include <QSvgRenderer>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/head_grid_view.h"
#include "viewers/paint_helpers.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::channelDistance;
using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 440);
const QRect kBounds(QPoint(0, 0), kSize);

HeadGridData patchingEffects() {
  HeadGridData data;
  data.scores.resize(4, 6);
  for (int layer = 0; layer < 4; ++layer) {
    for (int head = 0; head < 6; ++head) data.scores(layer, head) = 0.15 * (layer * 6 + head) - 1.0;
  }
  data.title = "logit difference restored by patching";
  return data;
}

void click(QWidget& widget, QPoint point, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(point), QPointF(widget.mapToGlobal(point)),
                    Qt::LeftButton, Qt::LeftButton, modifiers);
  QApplication::sendEvent(&widget, &press);
}

// Points a quarter, half and three quarters along both diagonals of `cell`.
std::vector<QPoint> diagonalPoints(const QRect& cell) {
  std::vector<QPoint> points;
  for (const double t : {0.25, 0.5, 0.75}) {
    const int x = cell.left() + static_cast<int>(std::lround(t * (cell.width() - 1)));
    points.emplace_back(x, cell.top() + static_cast<int>(std::lround(t * (cell.height() - 1))));
    points.emplace_back(x, cell.bottom() - static_cast<int>(std::lround(t * (cell.height() - 1))));
  }
  return points;
}

struct Head {
  int layer;
  int head;
  bool operator==(const Head&) const = default;
};

TEST(HeadGridView, LabelsLayersAndHeadsAndPicksTheScaleBySign) {
  test::OutputDir out;
  HeadGridView view;
  view.setData(patchingEffects());
  EXPECT_EQ(view.colorScale().kind(), ScaleKind::Diverging);
  EXPECT_DOUBLE_EQ(view.colorScale().min(), -2.45);  // symmetric about 0
  renderToSvg(view, out / "head_grid.svg", kSize);
  renderToPng(view, out / "head_grid.png", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "head_grid.svg"));
  for (const char* expected :
       {"logit difference restored by patching", "layer", "head", "L0", "L3", "H0", "H5"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
  EXPECT_TRUE(view.toolTipText(2, 4).contains(QStringLiteral("layer: 2 (L2)")));

  HeadGridData positive = patchingEffects();
  positive.scores = positive.scores.array() + 1.0;
  view.setData(positive);
  EXPECT_EQ(view.colorScale().kind(), ScaleKind::Sequential);
  positive.scale = ScaleKind::Diverging;  // told otherwise
  view.setData(positive);
  EXPECT_EQ(view.colorScale().kind(), ScaleKind::Diverging);
  HeadGridData signedButSequential = patchingEffects();
  signedButSequential.scale = ScaleKind::Sequential;
  view.setData(signedButSequential);
  EXPECT_EQ(view.colorScale().kind(), ScaleKind::Sequential);
}

TEST(HeadGridView, ClickSelectsAndModifierClickAsksToToggleTheMask) {
  HeadGridView view;
  view.setData(patchingEffects());
  view.resize(kSize);
  std::vector<Head> selected;
  std::vector<Head> toggled;
  QObject::connect(&view, &HeadGridView::headSelected, [&](int layer, int head) {
    selected.push_back({layer, head});
  });
  QObject::connect(&view, &HeadGridView::headMaskToggled, [&](int layer, int head) {
    toggled.push_back({layer, head});
  });

  click(view, view.cellRect(2, 4, view.rect()).center());
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0], (Head{2, 4}));
  EXPECT_TRUE(toggled.empty());
  EXPECT_EQ(view.selectedHead(), (HeadId{2, 4}));

  click(view, view.cellRect(1, 3, view.rect()).center(), Qt::ControlModifier);
  click(view, view.cellRect(3, 0, view.rect()).center(), Qt::ShiftModifier);
  ASSERT_EQ(toggled.size(), 2u);
  EXPECT_EQ(toggled[0], (Head{1, 3}));
  EXPECT_EQ(toggled[1], (Head{3, 0}));
  EXPECT_EQ(selected.size(), 1u) << "a modifier-click does not select";
  EXPECT_EQ(view.selectedHead(), (HeadId{2, 4}));
  EXPECT_TRUE(view.maskedHeads().empty()) << "the owner of the masks decides";

  click(view, QPoint(2, 2));
  click(view, QPoint(2, 2), Qt::ControlModifier);
  EXPECT_EQ(selected.size(), 1u);
  EXPECT_EQ(toggled.size(), 2u);
}

TEST(HeadGridView, SelectedCellIsOutlined) {
  HeadGridView view;
  view.setData(patchingEffects());
  view.setSelectedHead(HeadId{1, 2});
  const QImage image = renderToImage(view, kSize);
  const QRect cell = view.cellRect(1, 2, kBounds);
  const QColor fill = view.colorScale().color(view.gridData().scores(1, 2));
  EXPECT_EQ(pixelAt(image, cell.left(), cell.center().y()), paint::textColor());
  EXPECT_EQ(pixelAt(image, cell.center().x(), cell.top() + 1), paint::textColor());
  EXPECT_EQ(pixelAt(image, cell.center().x(), cell.center().y()), fill);
  const QRect other = view.cellRect(1, 3, kBounds);
  EXPECT_EQ(pixelAt(image, other.left(), other.center().y()),
            view.colorScale().color(view.gridData().scores(1, 3)));
}

TEST(HeadGridView, MaskedHeadsAreCrossedOutInPngAndSvg) {
  test::OutputDir out;
  HeadGridView view;
  HeadGridData data = patchingEffects();
  data.scores(2, 5) = std::nan("");  // a masked head without a score is crossed out too
  view.setData(data);
  view.setMaskedHeads({{1, 3}, {2, 5}, {7, 7}});  // (7, 7) lies outside the grid: not drawn
  renderToPng(view, out / "head_grid_masked.png", kSize);
  renderToSvg(view, out / "head_grid_masked.svg", kSize);
  const QImage png = QImageReader(QString::fromStdString((out / "head_grid_masked.png").string()))
                         .read()
                         .convertToFormat(QImage::Format_RGB32);
  ASSERT_EQ(png.size(), kSize);
  QSvgRenderer renderer(test::readFile(out / "head_grid_masked.svg"));
  ASSERT_TRUE(renderer.isValid());
  QImage svg(kSize, QImage::Format_RGB32);
  svg.fill(Qt::white);
  {
    QPainter painter(&svg);
    renderer.render(&painter);
  }

  for (const auto& [layer, head] : {std::pair{1, 3}, {2, 5}}) {
    const QRect cell = view.cellRect(layer, head, kBounds);
    const QColor fill = view.colorScale().color(data.scores(layer, head));
    for (const QPoint p : diagonalPoints(cell)) {
      EXPECT_GT(channelDistance(pixelAt(png, p.x(), p.y()), fill), 80)
          << "PNG, head " << layer << "." << head << " at " << p.x() << "," << p.y();
      EXPECT_GT(channelDistance(pixelAt(svg, p.x(), p.y()), fill), 80)
          << "SVG, head " << layer << "." << head << " at " << p.x() << "," << p.y();
    }
    // Away from the diagonals the cell keeps its colour.
    const QPoint side(cell.center().x(), cell.top() + 2);
    EXPECT_EQ(pixelAt(png, side.x(), side.y()), fill);
  }
  // An unmasked neighbour's diagonals are its own colour.
  const QRect plain = view.cellRect(1, 2, kBounds);
  for (const QPoint p : diagonalPoints(plain)) {
    EXPECT_EQ(pixelAt(png, p.x(), p.y()), view.colorScale().color(data.scores(1, 2)));
  }

  // Unmasking removes the cross.
  view.setMaskedHeads({});
  const QImage cleared = renderToImage(view, kSize);
  const QPoint centre = view.cellRect(1, 3, kBounds).center();
  EXPECT_EQ(pixelAt(cleared, centre.x(), centre.y()), view.colorScale().color(data.scores(1, 3)));
}

TEST(HeadGridView, SelectionAndMasksSurviveNewScores) {
  HeadGridView view;
  view.setData(patchingEffects());
  view.setSelectedHead(HeadId{0, 1});
  view.setMaskedHeads({{3, 5}});
  HeadGridData next = patchingEffects();
  next.scores *= 0.5;
  view.setData(next);
  EXPECT_EQ(view.selectedHead(), (HeadId{0, 1}));
  EXPECT_EQ(view.maskedHeads().count(HeadId{3, 5}), 1u);
  EXPECT_EQ(view.data().values, next.scores);
}

TEST(HeadGridView, BadRangesAreRefused) {
  HeadGridView view;
  view.setData(patchingEffects());
  HeadGridData bad = patchingEffects();
  bad.min = 2.0;
  bad.max = 1.0;
  const std::string message = messageOf<ConfigError>([&] { view.setData(bad); });
  EXPECT_NE(message.find("'logit difference restored by patching'"), std::string::npos) << message;
  EXPECT_NE(message.find("is empty"), std::string::npos) << message;
  EXPECT_FALSE(view.gridData().min.has_value()) << "a refused setData keeps what was shown";
}

}  // namespace
}  // namespace cs::viewers
