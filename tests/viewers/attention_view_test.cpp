// AttentionView: the tokens label both axes in the SVG, the chosen head's cells carry their scale
// colours (future positions those of 0), the head picker and a thumbnail click both switch the
// shown head and emit headSelected with the model's head number, thumbnails keep thin patterns
// visible at 1024 tokens x 32 heads, and bad patterns are refused with a message naming the cell.
#include <QApplication>
#include <QComboBox>
#include <QLayout>
#include <QMouseEvent>
#include <QPainter>

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/attention_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/paint_helpers.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 480);
const QRect kBounds(QPoint(0, 0), kSize);

// Head h attends from query q to key k <= q with a value that differs per head and cell; keys
// after the query (the future) are 0, as a causal mask leaves them.
Eigen::MatrixXd causalHead(int n, int h) {
  Eigen::MatrixXd pattern = Eigen::MatrixXd::Zero(n, n);
  for (int q = 0; q < n; ++q) {
    for (int k = 0; k <= q; ++k) pattern(q, k) = ((q * 3 + k * 5 + h * 7) % 11) / 10.0;
  }
  return pattern;
}

AttentionData sentence() {
  AttentionData data;
  data.tokens = {"The", "cat", "sat", "on", "the", "mat"};
  data.layer = 2;
  for (int h = 0; h < 4; ++h) data.heads.push_back(causalHead(6, h));
  return data;
}

// The view's heatmap drawn alone through its paint(): rendering a child widget that a layout
// manages would let the layout move it.
QImage paintHeatmap(const HeatmapView& heatmap, QSize size) {
  QImage image(size, QImage::Format_RGB32);
  image.fill(Qt::white);
  QPainter painter(&image);
  heatmap.paint(painter, QRect(QPoint(0, 0), size));
  return image;
}

void click(QWidget& widget, QPoint point) {
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(point), QPointF(widget.mapToGlobal(point)),
                    Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&widget, &press);
}

struct Selection {
  int layer;
  int head;
  bool operator==(const Selection&) const = default;
};

TEST(AttentionView, SvgShowsTheTokensOnBothAxesAndTheTitles) {
  test::OutputDir out;
  AttentionView view;
  view.setData(sentence());
  renderToSvg(view, out / "attention.svg", QSize(800, 760));
  renderToPng(view, out / "attention.png", QSize(800, 760));
  const QStringList texts = test::svgTexts(test::readFile(out / "attention.svg"));
  for (const char* expected :
       {"The", "cat", "sat", "on", "the", "mat", "query", "key", "layer 2, head 0", "H0", "H3"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(expected))) << expected;
  }
  // Each token labels a row and a column.
  EXPECT_EQ(texts.count(QStringLiteral("cat")), 2);
}

TEST(AttentionView, ChosenHeadsCellsHaveTheirColoursAndTheFutureIsZero) {
  AttentionView view;
  const AttentionData data = sentence();
  view.setData(data);
  view.setCurrentHead(2);
  const HeatmapView& heatmap = *view.heatmap();
  EXPECT_EQ(heatmap.colorScale().min(), 0.0);
  EXPECT_EQ(heatmap.colorScale().max(), 1.0);
  const QImage image = paintHeatmap(heatmap, kSize);
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  for (int q = 0; q < 6; ++q) {
    for (int k = 0; k < 6; ++k) {
      const QPoint p = heatmap.cellRect(q, k, kBounds).center();
      const double want = k <= q ? data.heads[2](q, k) : 0.0;
      EXPECT_EQ(pixelAt(image, p.x(), p.y()), scale.color(want)) << "query " << q << ", key " << k;
    }
  }
  // Head 2 is not head 0: some cell tells them apart.
  EXPECT_NE(data.heads[2](3, 1), data.heads[0](3, 1));
}

TEST(AttentionView, TheWholeViewDrawsTheChosenHeadWhereItsHeatmapSits) {
  AttentionView view;
  const AttentionData data = sentence();
  view.setData(data);
  view.setCurrentHead(1);
  const QSize size(800, 760);
  const QImage image = renderToImage(view, size);
  view.resize(size);
  view.layout()->activate();
  const HeatmapView& heatmap = *view.heatmap();
  ASSERT_GT(heatmap.width(), 300);
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  for (const auto& [q, k] : {std::pair{0, 0}, {3, 1}, {5, 4}, {1, 5}}) {
    const QPoint p = heatmap.cellRect(q, k, heatmap.rect()).center() + heatmap.pos();
    EXPECT_EQ(pixelAt(image, p.x(), p.y()), scale.color(data.heads[1](q, k))) << q << "," << k;
  }
}

TEST(AttentionView, PickerAndThumbnailClickSwitchTheHeadAndEmitHeadSelected) {
  AttentionView view;
  AttentionData data = sentence();
  data.layer = 5;
  data.headNumbers = {0, 2, 3, 7};  // head 1 and heads 4-6 pruned away
  view.setData(data);
  std::vector<Selection> selected;
  QObject::connect(&view, &AttentionView::headSelected, [&](int layer, int head) {
    selected.push_back({layer, head});
  });
  ASSERT_EQ(view.headPicker()->count(), 4);
  EXPECT_EQ(view.headPicker()->itemText(3), QStringLiteral("head 7"));
  EXPECT_EQ(view.currentHead(), 0);

  view.headPicker()->setCurrentIndex(2);
  EXPECT_EQ(view.currentHead(), 2);
  EXPECT_EQ(view.heatmap()->data().values, data.heads[2]);
  EXPECT_EQ(view.heatmap()->data().title, "layer 5, head 3");
  EXPECT_EQ(view.thumbnails()->selected(), 2);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0], (Selection{5, 3}));

  view.resize(800, 760);
  view.layout()->activate();
  HeadThumbnails& thumbnails = *view.thumbnails();
  ASSERT_EQ(thumbnails.count(), 4);
  const QRect target = thumbnails.thumbnailRect(3, thumbnails.rect());
  ASSERT_TRUE(thumbnails.rect().contains(target)) << "laid out inside the strip";
  click(thumbnails, target.center());
  EXPECT_EQ(view.currentHead(), 3);
  EXPECT_EQ(view.headPicker()->currentIndex(), 3);
  EXPECT_EQ(view.heatmap()->data().values, data.heads[3]);
  ASSERT_EQ(selected.size(), 2u);
  EXPECT_EQ(selected[1], (Selection{5, 7}));

  // The shown head again, and a click between thumbnails: nothing changes, nothing is emitted.
  click(thumbnails, target.center());
  click(thumbnails, QPoint(1, 1));
  view.setCurrentHead(9);
  EXPECT_EQ(view.currentHead(), 3);
  EXPECT_EQ(selected.size(), 2u);
  // New data of the same layer keeps the shown head and emits nothing.
  view.setData(data);
  EXPECT_EQ(view.currentHead(), 3);
  EXPECT_EQ(selected.size(), 2u);
}

TEST(AttentionView, SelectedThumbnailIsOutlined) {
  AttentionView view;
  view.setData(sentence());
  view.setCurrentHead(1);
  const QSize size(800, 760);
  const QImage image = renderToImage(view, size);
  view.resize(size);
  view.layout()->activate();
  const HeadThumbnails& thumbnails = *view.thumbnails();
  const auto edgePixel = [&](int index) {
    const QRect r = thumbnails.thumbnailRect(index, thumbnails.rect());
    const QPoint p = QPoint(r.left() - 1, r.center().y()) + thumbnails.pos();
    return pixelAt(image, p.x(), p.y());
  };
  EXPECT_EQ(edgePixel(1), paint::seriesColor(1));
  EXPECT_NE(edgePixel(0), paint::seriesColor(1));
  EXPECT_NE(edgePixel(2), paint::seriesColor(1));
}

TEST(AttentionView, ThumbnailsAreTheHeadsPatterns) {
  AttentionView view;
  const AttentionData data = sentence();
  view.setData(data);
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  const int cell = HeadThumbnails::kSide / 6;  // 6 tokens: 8 pixels per cell
  for (int h = 0; h < 4; ++h) {
    const QImage& thumbnail = view.thumbnails()->thumbnailImage(h);
    ASSERT_EQ(thumbnail.size(), QSize(HeadThumbnails::kSide, HeadThumbnails::kSide));
    for (const auto& [q, k] : {std::pair{0, 0}, {4, 2}, {5, 5}, {2, 4}}) {
      EXPECT_EQ(pixelAt(thumbnail, k * cell + cell / 2, q * cell + cell / 2),
                scale.color(data.heads[static_cast<size_t>(h)](q, k)))
          << "head " << h << " query " << q << " key " << k;
    }
  }
}

TEST(AttentionView, LongInputsKeepThinPatternsVisible) {
  // 1024 tokens x 32 heads: a previous-token head (one value per row) shrunk into its thumbnail
  // still shows its diagonal, and the main heatmap draws every cell of the chosen head.
  constexpr int kTokens = 1024;
  AttentionData data;
  data.layer = 0;
  for (int h = 0; h < 32; ++h) {
    Eigen::MatrixXd pattern = Eigen::MatrixXd::Zero(kTokens, kTokens);
    for (int q = 0; q < kTokens; ++q) pattern(q, std::max(0, q - 1 - h % 3)) = 1.0;
    data.heads.push_back(std::move(pattern));
  }
  for (int t = 0; t < kTokens; ++t) data.tokens.push_back(test::label("t", t));
  AttentionView view;
  view.setData(std::move(data));
  ASSERT_EQ(view.thumbnails()->count(), 32);
  // The strip wraps to the width and fits under the heatmap: it does not push the window's
  // minimum height past the size asked for.
  view.resize(1000, 1000);
  view.layout()->activate();
  EXPECT_EQ(view.size(), QSize(1000, 1000));
  EXPECT_TRUE(view.rect().contains(view.thumbnails()->geometry()));
  EXPECT_TRUE(view.rect().contains(view.heatmap()->geometry()));
  EXPECT_GT(view.heatmap()->height(), 600);
  view.setCurrentHead(4);  // keys q - 2
  const ColorScale scale = ColorScale::sequential(0.0, 1.0);
  const QImage& thumbnail = view.thumbnails()->thumbnailImage(4);
  for (int p = 0; p < HeadThumbnails::kSide; ++p) {
    EXPECT_EQ(pixelAt(thumbnail, p, p), scale.color(1.0)) << "diagonal pixel " << p;
  }
  EXPECT_EQ(pixelAt(thumbnail, HeadThumbnails::kSide - 1, 0), scale.color(0.0));

  const QSize size(1400, 1400);
  const QRect bounds(QPoint(0, 0), size);
  const QImage image = paintHeatmap(*view.heatmap(), size);
  for (int q = 2; q < kTokens; q += 97) {
    const QPoint on = view.heatmap()->cellRect(q, q - 2, bounds).center();
    const QPoint off = view.heatmap()->cellRect(q, q, bounds).center();
    EXPECT_EQ(pixelAt(image, on.x(), on.y()), scale.color(1.0)) << q;
    EXPECT_EQ(pixelAt(image, off.x(), off.y()), scale.color(0.0)) << q;
  }
}

TEST(AttentionView, BadPatternsAreRefusedWithAMessageNamingTheProblem) {
  AttentionView view;
  view.setData(sentence());
  const auto refused = [&](AttentionData data) {
    return messageOf<ConfigError>([&] { view.setData(std::move(data)); });
  };
  AttentionData ragged = sentence();
  ragged.heads[2] = causalHead(5, 2);
  ragged.tokens.clear();
  std::string message = refused(ragged);
  EXPECT_NE(message.find("layer 2: head 2 is 5 x 5 but head 0 is 6 x 6"), std::string::npos)
      << message;

  AttentionData nonSquare = sentence();
  nonSquare.heads[1] = Eigen::MatrixXd::Zero(6, 5);
  message = refused(nonSquare);
  EXPECT_NE(message.find("head 1 is 6 x 5"), std::string::npos) << message;
  EXPECT_NE(message.find("must be square"), std::string::npos) << message;

  AttentionData tokens = sentence();
  tokens.tokens.push_back("!");
  message = refused(tokens);
  EXPECT_NE(message.find("7 tokens for patterns over 6 positions"), std::string::npos) << message;

  AttentionData scores = sentence();
  scores.headNumbers = {0, 1, 4, 5};
  scores.heads[3](4, 2) = 1.5;
  message = refused(scores);
  EXPECT_NE(message.find("head 5, query 4, key 2: value 1.5 is outside [0, 1]"), std::string::npos)
      << message;
  EXPECT_NE(message.find("not scores"), std::string::npos) << message;

  AttentionData negative = sentence();
  negative.heads[0](1, 0) = -0.25;
  message = refused(negative);
  EXPECT_NE(message.find("head 0, query 1, key 0: value -0.25 is outside"), std::string::npos)
      << message;

  AttentionData notFinite = sentence();
  notFinite.heads[1](3, 3) = std::nan("");
  message = refused(notFinite);
  EXPECT_NE(message.find("head 1, query 3, key 3: value nan is not finite"), std::string::npos)
      << message;

  AttentionData numbers = sentence();
  numbers.headNumbers = {0, 1, 2};
  message = refused(numbers);
  EXPECT_NE(message.find("3 head numbers for 4 heads"), std::string::npos) << message;
  numbers.headNumbers = {0, 1, 1, 2};
  message = refused(numbers);
  EXPECT_NE(message.find("head number 1 appears twice"), std::string::npos) << message;

  // Rounding just past the ends is accepted: float32 softmax outputs.
  AttentionData rounding = sentence();
  rounding.heads[0](0, 0) = 1.0 + 1e-7;
  rounding.heads[0](1, 1) = -1e-7;
  EXPECT_NO_THROW(AttentionView::validate(rounding));

  // A refused setData keeps what was shown.
  EXPECT_EQ(view.data().heads.size(), 4u);
  EXPECT_EQ(view.data().heads[2].rows(), 6);
  EXPECT_EQ(view.heatmap()->data().rowLabels.size(), 6u);
}

TEST(AttentionView, NoHeadsDrawsNoData) {
  test::OutputDir out;
  AttentionView view;
  AttentionData empty;
  empty.layer = 1;
  view.setData(empty);
  EXPECT_EQ(view.currentHead(), -1);
  EXPECT_EQ(view.headPicker()->count(), 0);
  renderToSvg(view, out / "attention_empty.svg", QSize(400, 300));
  EXPECT_TRUE(test::svgTexts(test::readFile(out / "attention_empty.svg"))
                  .contains(QStringLiteral("no data")));
}

}  // namespace
}  // namespace cs::viewers
