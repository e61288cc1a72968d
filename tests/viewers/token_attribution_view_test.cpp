// TokenAttributionView: each chip is flat in its score's colour on a scale symmetric about 0,
// its text contrasts with it, chips wrap onto lines at narrow widths, token text and the legend's
// ends reach the SVG, whitespace stays visible, bad data throws naming the problem, and clicks
// and tooltips find the right token.
#include <QApplication>
#include <QMouseEvent>
#include <QPainter>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/axis_ticks.h"
#include "viewers/render.h"
#include "viewers/token_attribution_view.h"

namespace cs::viewers {
namespace {

using test::lightness;
using test::messageOf;
using test::pixelAt;

const QSize kSize(640, 220);
const QRect kBounds(QPoint(0, 0), kSize);

TokenAttributionData prompt() {
  TokenAttributionData data;
  data.tokens = {"When", " Mary",  " and", " John", " went", " to",
                 " the", " store", ",",    "\n",    " John", " gave"};
  data.scores = {0.05, 1.2, -0.1, -2.0, 0.0, 0.3, 0.0, 0.6, -0.4, 0.1, -1.5, 0.8};
  data.title = "IOI: attribution to the logit difference";
  data.scoreName = "IG attribution";
  return data;
}

TEST(TokenChipText, ShowsWhitespaceAndControlCharacters) {
  EXPECT_EQ(tokenChipText(" the"), QStringLiteral("·the"));
  EXPECT_EQ(tokenChipText("  "), QStringLiteral("··"));
  EXPECT_EQ(tokenChipText("end "), QStringLiteral("end·"));
  EXPECT_EQ(tokenChipText("a b"), QStringLiteral("a b")) << "interior spaces already show";
  EXPECT_EQ(tokenChipText("\n"), QStringLiteral("↵"));
  EXPECT_EQ(tokenChipText("\n\n"), QStringLiteral("↵↵"));
  EXPECT_EQ(tokenChipText("\t"), QStringLiteral("⇥"));
  EXPECT_EQ(tokenChipText(""), QStringLiteral("∅"));
  EXPECT_EQ(tokenChipText("caf\xc3\xa9"), QStringLiteral("café"));
}

TEST(TokenAttributionView, ChipsHaveTheColourOfTheirScoreOnASymmetricScale) {
  TokenAttributionView view;
  view.setData(prompt());
  EXPECT_DOUBLE_EQ(view.colorScale().min(), -2.0);
  EXPECT_DOUBLE_EQ(view.colorScale().max(), 2.0);
  EXPECT_EQ(view.colorScale().kind(), ScaleKind::Diverging);
  const QImage image = renderToImage(view, kSize);
  const int pad = TokenAttributionView::chipPadding();
  for (int i = 0; i < static_cast<int>(view.data().tokens.size()); ++i) {
    const QRect chip = view.chipRect(i, kBounds);
    ASSERT_FALSE(chip.isEmpty()) << i;
    ASSERT_TRUE(kBounds.contains(chip)) << i;
    const QColor want = view.colorScale().color(view.data().scores[i]);
    // The padding around the text, at the chip's vertical and horizontal centre lines.
    EXPECT_EQ(pixelAt(image, chip.left() + pad / 2, chip.center().y()), want) << "token " << i;
    EXPECT_EQ(pixelAt(image, chip.center().x(), chip.top() + pad / 2), want) << "token " << i;
    EXPECT_EQ(pixelAt(image, chip.right() - pad / 2, chip.bottom() - pad / 2), want)
        << "token " << i;
  }
  // Zero is white; the largest magnitude is the scale's end.
  const QRect zero = view.chipRect(4, kBounds);
  EXPECT_EQ(pixelAt(image, zero.center().x(), zero.top() + 1), QColor(255, 255, 255));
  const QRect strongest = view.chipRect(3, kBounds);
  EXPECT_EQ(pixelAt(image, strongest.center().x(), strongest.top() + 1),
            view.colorScale().color(-2.0));
}

// The pixels of a chip's text area that differ most in lightness from its fill.
double textContrast(const QImage& image, const QRect& chip, const QColor& fill) {
  const int pad = TokenAttributionView::chipPadding();
  double most = 0.0;
  for (int y = chip.top() + pad; y <= chip.bottom() - pad; ++y) {
    for (int x = chip.left() + pad; x <= chip.right() - pad; ++x) {
      most = std::max(most, std::abs(lightness(pixelAt(image, x, y)) - lightness(fill)));
    }
  }
  return most;
}

TEST(TokenAttributionView, TextContrastsWithDarkAndLightChips) {
  TokenAttributionView view;
  view.setData(prompt());
  const QImage image = renderToImage(view, kSize);
  for (int i : {3, 4, 1}) {  // full blue, white, strong red
    const QRect chip = view.chipRect(i, kBounds);
    const QColor fill = view.colorScale().color(view.data().scores[i]);
    EXPECT_GT(textContrast(image, chip, fill), 50.0) << "token " << i;
  }
  // Dark chips get light text: the brightest text pixel on full blue is near white.
  const QRect blue = view.chipRect(3, kBounds);
  double brightest = 0.0;
  for (int y = blue.top(); y <= blue.bottom(); ++y) {
    for (int x = blue.left(); x <= blue.right(); ++x) {
      brightest = std::max(brightest, lightness(pixelAt(image, x, y)));
    }
  }
  EXPECT_GT(brightest, 85.0);
}

TEST(TokenAttributionView, ChipsWrapOntoSeveralLinesAtANarrowWidth) {
  TokenAttributionData data;
  for (int i = 0; i < 30; ++i) {
    data.tokens.push_back(test::label(" token", static_cast<size_t>(i)));
    data.scores.push_back(std::sin(i));
  }
  TokenAttributionView view;
  view.setData(data);

  const QRect wide(0, 0, 4000, 200);
  std::set<int> wideTops;
  for (int i = 0; i < 30; ++i) wideTops.insert(view.chipRect(i, wide).top());
  EXPECT_EQ(wideTops.size(), 1u) << "30 short tokens fit on one line 4000 pixels wide";

  const QRect narrow(0, 0, 220, view.heightForWidth(220));
  std::set<int> tops;
  for (int i = 0; i < 30; ++i) {
    const QRect chip = view.chipRect(i, narrow);
    ASSERT_FALSE(chip.isEmpty());
    EXPECT_GE(chip.left(), narrow.left()) << i;
    EXPECT_LE(chip.right(), narrow.right()) << i;
    EXPECT_LE(chip.bottom(), narrow.bottom()) << "heightForWidth leaves room for chip " << i;
    tops.insert(chip.top());
    if (i > 0) {
      // Reading order: the next chip is to the right on the same line, or starts a lower one.
      const QRect previous = view.chipRect(i - 1, narrow);
      if (chip.top() == previous.top()) {
        EXPECT_GT(chip.left(), previous.right()) << i;
      } else {
        EXPECT_GT(chip.top(), previous.bottom()) << i;
        EXPECT_EQ(chip.left(), view.chipRect(0, narrow).left()) << i;
      }
    }
  }
  EXPECT_GE(tops.size(), 5u);
  EXPECT_GT(view.heightForWidth(220), view.heightForWidth(4000));

  // The wrapped layout draws what chipRect says.
  const QImage image = renderToImage(view, narrow.size());
  const QRect last = view.chipRect(29, narrow);
  EXPECT_EQ(pixelAt(image, last.center().x(), last.top() + 1),
            view.colorScale().color(data.scores[29]));
}

TEST(TokenAttributionView, ATokenWiderThanTheLineIsElidedOntoItsOwnLine) {
  TokenAttributionData data;
  data.tokens = {"a", std::string(200, 'x'), "b"};
  data.scores = {0.1, 0.5, -0.2};
  TokenAttributionView view;
  view.setData(data);
  const QRect bounds(0, 0, 240, 200);
  const QRect wide = view.chipRect(1, bounds);
  EXPECT_LE(wide.right(), bounds.right() - 7);
  EXPECT_GT(wide.top(), view.chipRect(0, bounds).bottom());
  EXPECT_GT(view.chipRect(2, bounds).top(), wide.bottom());
}

TEST(TokenAttributionView, SvgHasTokensTitleAndLegendEnds) {
  test::OutputDir out;
  TokenAttributionView view;
  view.setData(prompt());
  renderToSvg(view, out / "token_attribution.svg", kSize);
  renderToPng(view, out / "token_attribution.png", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "token_attribution.svg"));
  for (const QString& expected :
       {QStringLiteral("When"), QStringLiteral("·Mary"), QStringLiteral("·store"),
        QStringLiteral(","), QStringLiteral("↵"), QStringLiteral("·gave"),
        QStringLiteral("IOI: attribution to the logit difference"),
        QStringLiteral("IG attribution"), QStringLiteral("-2"), QStringLiteral("2")}) {
    EXPECT_TRUE(texts.contains(expected)) << expected.toStdString();
  }
}

TEST(TokenAttributionView, FixedRangeClampsAndSetsTheLegend) {
  TokenAttributionData data = prompt();
  data.min = -1.0;
  data.max = 1.0;
  TokenAttributionView view;
  view.setData(data);
  EXPECT_DOUBLE_EQ(view.colorScale().min(), -1.0);
  EXPECT_DOUBLE_EQ(view.colorScale().max(), 1.0);
  const QImage image = renderToImage(view, kSize);
  const QRect clamped = view.chipRect(3, kBounds);  // -2 beyond the fixed -1
  EXPECT_EQ(pixelAt(image, clamped.center().x(), clamped.top() + 1), view.colorScale().color(-1.0));
  const QRect bar = view.legendBarRect(kBounds);
  ASSERT_GT(bar.width(), 30);
  EXPECT_LE(test::channelDistance(pixelAt(image, bar.left(), bar.center().y()),
                                  view.colorScale().color(-1.0)),
            8);
  EXPECT_LE(test::channelDistance(pixelAt(image, bar.right(), bar.center().y()),
                                  view.colorScale().color(1.0)),
            8);
}

TEST(TokenAttributionView, BadDataThrowsNamingTheProblem) {
  TokenAttributionView view;
  view.setData(prompt());
  TokenAttributionData counts = prompt();
  counts.scores.pop_back();
  const std::string countMessage = messageOf<ConfigError>([&] { view.setData(counts); });
  EXPECT_NE(countMessage.find("'IOI: attribution to the logit difference'"), std::string::npos)
      << countMessage;
  EXPECT_NE(countMessage.find("12 tokens but 11 scores"), std::string::npos) << countMessage;

  TokenAttributionData nan = prompt();
  nan.scores[1] = std::numeric_limits<double>::quiet_NaN();
  const std::string nanMessage =
      messageOf<ConfigError>([&] { TokenAttributionView::validate(nan); });
  EXPECT_NE(nanMessage.find("score of token 1 (' Mary') is NaN"), std::string::npos) << nanMessage;

  TokenAttributionData infinite = prompt();
  infinite.scores[0] = -std::numeric_limits<double>::infinity();
  EXPECT_NE(messageOf<ConfigError>([&] { TokenAttributionView::validate(infinite); }).find("-inf"),
            std::string::npos);

  TokenAttributionData range = prompt();
  range.min = 1.0;
  range.max = -1.0;
  const std::string rangeMessage =
      messageOf<ConfigError>([&] { TokenAttributionView::validate(range); });
  EXPECT_NE(rangeMessage.find("is empty"), std::string::npos) << rangeMessage;

  // A failed setData keeps what was shown.
  EXPECT_EQ(view.data().scores.size(), 12u);
}

TEST(TokenAttributionView, ClicksAndTooltipsFindTheToken) {
  TokenAttributionView view;
  view.setData(prompt());
  view.resize(kSize);
  const QPoint centre = view.chipRect(3, kBounds).center();
  ASSERT_TRUE(view.tokenAt(centre).has_value());
  EXPECT_EQ(*view.tokenAt(centre), 3);
  EXPECT_FALSE(view.tokenAt(QPoint(kSize.width() - 2, kSize.height() - 2)).has_value());

  const QString tip = view.toolTipText(3);
  EXPECT_TRUE(tip.contains(QStringLiteral("token: ·John"))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(QStringLiteral("position: 3"))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(QStringLiteral("IG attribution: -2"))) << tip.toStdString();

  std::vector<int> clicked;
  QObject::connect(&view, &TokenAttributionView::tokenClicked,
                   [&](int position) { clicked.push_back(position); });
  QMouseEvent press(QEvent::MouseButtonPress, QPointF(centre), QPointF(view.mapToGlobal(centre)),
                    Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&view, &press);
  const QPoint outside(kSize.width() - 2, kSize.height() - 2);
  QMouseEvent miss(QEvent::MouseButtonPress, QPointF(outside), QPointF(view.mapToGlobal(outside)),
                   Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&view, &miss);
  const QPoint other = view.chipRect(9, kBounds).center();
  QMouseEvent right(QEvent::MouseButtonPress, QPointF(other), QPointF(view.mapToGlobal(other)),
                    Qt::RightButton, Qt::RightButton, Qt::NoModifier);
  QApplication::sendEvent(&view, &right);
  ASSERT_EQ(clicked.size(), 1u);
  EXPECT_EQ(clicked[0], 3);
}

TEST(TokenAttributionView, NoTokensDrawsNoDataMessage) {
  test::OutputDir out;
  TokenAttributionView view;
  view.setData({});
  renderToSvg(view, out / "token_attribution_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "token_attribution_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_TRUE(view.chipRect(0, kBounds).isEmpty());
}

TEST(TokenAttributionView, PaintIntoAnyRectangleMatchesTheWidgetRendering) {
  TokenAttributionView view;
  view.setData(prompt());
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
