// ImageAttributionView: at opacity 0 every shown pixel is the image's, at 1 its patch's scale
// colour, in between a mix of the two; the slider sets the opacity; patches map to the pixels
// they cover (also when the grid does not divide the image); small images scale up without
// smoothing; bad data throws naming the problem.
#include <QPainter>
#include <QSlider>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/axis_ticks.h"
#include "viewers/image_attribution_view.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::messageOf;
using test::pixelAt;

const QSize kSize(480, 400);

// An 8x8 "digit": a bright stroke on dark ground, every pixel a different grey-blue so that a
// pixel shown in the wrong place is caught.
QImage digit() {
  QImage image(8, 8, QImage::Format_RGB32);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      const bool stroke = (x == 3 || x == 4) && y > 0 && y < 7;
      image.setPixel(x, y, stroke ? qRgb(240 - y, 230 - x, 220) : qRgb(10 + 3 * x, 20 + 2 * y, 60));
    }
  }
  return image;
}

ImageAttributionData digitWithPatches() {
  ImageAttributionData data;
  data.image = digit();
  data.scores.resize(4, 4);
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) data.scores(r, c) = (r - 1.5) * 0.4 + (c - 1.5) * 0.25;
  }
  data.title = "Digit 1: patch attribution";
  data.scoreName = "attribution";
  return data;
}

// The screen pixel at the centre of image pixel (x, y), for a view rendered at `size` with its
// controls hidden.
QPoint shownCentre(const ImageAttributionView& view, QSize size, int x, int y) {
  const QRect image = view.imageRect(QRect(QPoint(0, 0), size));
  const int w = view.data().image.width();
  const int h = view.data().image.height();
  return QPoint(image.left() + (2 * x + 1) * image.width() / (2 * w),
                image.top() + (2 * y + 1) * image.height() / (2 * h));
}

QImage renderFigure(ImageAttributionView& view, QSize size = kSize) {
  view.setControlsVisible(false);
  return renderToImage(view, size);
}

TEST(ImageAttributionView, OpacityZeroShowsTheImageAndFullOpacityTheScores) {
  ImageAttributionView view;
  view.setData(digitWithPatches());
  const ImageAttributionData& data = view.data();
  view.setOpacity(0.0);
  const QImage clear = renderFigure(view);
  view.setOpacity(1.0);
  const QImage covered = renderFigure(view);
  view.setOpacity(0.3);
  const QImage mixed = renderFigure(view);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      const QPoint p = shownCentre(view, kSize, x, y);
      const QColor image = QColor(data.image.pixel(x, y));
      EXPECT_EQ(pixelAt(clear, p.x(), p.y()), image) << x << "," << y;
      const auto [row, column] = view.patchOf(x, y);
      const QColor score = view.colorScale().color(data.scores(row, column));
      EXPECT_EQ(pixelAt(covered, p.x(), p.y()), score) << x << "," << y;
      const QColor between = pixelAt(mixed, p.x(), p.y());
      EXPECT_EQ(between, view.blendedColor(x, y)) << x << "," << y;
      const auto within = [](int v, int a, int b) {
        return v >= std::min(a, b) && v <= std::max(a, b);
      };
      EXPECT_TRUE(within(between.red(), image.red(), score.red())) << x << "," << y;
      EXPECT_TRUE(within(between.green(), image.green(), score.green())) << x << "," << y;
      EXPECT_TRUE(within(between.blue(), image.blue(), score.blue())) << x << "," << y;
      // 30% of the way from the image to the score, to rounding.
      EXPECT_NEAR(between.red(), image.red() + 0.3 * (score.red() - image.red()), 0.51);
    }
  }
}

TEST(ImageAttributionView, SliderSetsTheOpacity) {
  ImageAttributionView view;
  view.setData(digitWithPatches());
  ASSERT_NE(view.opacitySlider(), nullptr);
  EXPECT_DOUBLE_EQ(view.opacity(), 0.5);
  EXPECT_EQ(view.opacitySlider()->value(), 50);
  EXPECT_EQ(view.opacitySlider()->minimum(), 0);
  EXPECT_EQ(view.opacitySlider()->maximum(), 100);

  std::vector<double> emitted;
  QObject::connect(&view, &ImageAttributionView::opacityChanged,
                   [&](double opacity) { emitted.push_back(opacity); });
  view.opacitySlider()->setValue(0);
  EXPECT_DOUBLE_EQ(view.opacity(), 0.0);
  const QImage clear = renderFigure(view);
  const QPoint p = shownCentre(view, kSize, 3, 3);
  EXPECT_EQ(pixelAt(clear, p.x(), p.y()), QColor(view.data().image.pixel(3, 3)));
  view.opacitySlider()->setValue(100);
  EXPECT_DOUBLE_EQ(view.opacity(), 1.0);
  const QImage covered = renderFigure(view);
  const auto [row, column] = view.patchOf(3, 3);
  EXPECT_EQ(pixelAt(covered, p.x(), p.y()),
            view.colorScale().color(view.data().scores(row, column)));
  EXPECT_EQ(emitted, (std::vector<double>{0.0, 1.0}));

  // And the other way: setOpacity moves the slider, clamping to [0, 1].
  view.setOpacity(0.25);
  EXPECT_EQ(view.opacitySlider()->value(), 25);
  view.setOpacity(7.0);
  EXPECT_EQ(view.opacitySlider()->value(), 100);
  EXPECT_DOUBLE_EQ(view.opacity(), 1.0);
}

TEST(ImageAttributionView, PatchesMapToThePixelsTheyCover) {
  ImageAttributionData data;
  data.image = QImage(28, 28, QImage::Format_RGB32);
  data.image.fill(Qt::black);
  data.scores = Eigen::MatrixXd::Zero(4, 4);
  ImageAttributionView view;
  view.setData(data);
  EXPECT_EQ(view.patchPixels(0, 0), QRect(0, 0, 7, 7));
  EXPECT_EQ(view.patchPixels(1, 2), QRect(14, 7, 7, 7));
  EXPECT_EQ(view.patchPixels(3, 3), QRect(21, 21, 7, 7));
  EXPECT_EQ(view.patchOf(13, 6), (std::pair<int, int>{0, 1}));
  EXPECT_EQ(view.patchOf(14, 7), (std::pair<int, int>{1, 2}));
  EXPECT_EQ(view.patchOf(27, 27), (std::pair<int, int>{3, 3}));
  EXPECT_TRUE(view.patchPixels(4, 0).isEmpty());

  // A grid that does not divide the image: 10 pixels in 4 patches are 3, 2, 3, 2 wide.
  data.image = QImage(10, 10, QImage::Format_RGB32);
  data.image.fill(Qt::black);
  view.setData(data);
  EXPECT_EQ(view.patchPixels(0, 0), QRect(0, 0, 3, 3));
  EXPECT_EQ(view.patchPixels(0, 1), QRect(3, 0, 2, 3));
  EXPECT_EQ(view.patchPixels(0, 2), QRect(5, 0, 3, 3));
  EXPECT_EQ(view.patchPixels(0, 3), QRect(8, 0, 2, 3));
  for (int x = 0; x < 10; ++x) {
    const int column = view.patchOf(x, 0).second;
    EXPECT_TRUE(view.patchPixels(0, column).contains(QPoint(x, 0))) << x;
  }
}

TEST(ImageAttributionView, EachPatchIsDrawnOverItsOwnPixels) {
  ImageAttributionData data = digitWithPatches();
  data.image = QImage(28, 28, QImage::Format_RGB32);
  data.image.fill(Qt::gray);
  ImageAttributionView view;
  view.setData(data);
  view.setOpacity(1.0);
  const QImage image = renderFigure(view);
  const QRect bounds(QPoint(0, 0), kSize);
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      const QRect patch = view.patchRect(r, c, bounds);
      ASSERT_GE(patch.width(), 7) << r << "," << c;
      const QColor want = view.colorScale().color(data.scores(r, c));
      EXPECT_EQ(pixelAt(image, patch.left(), patch.top()), want) << r << "," << c;
      EXPECT_EQ(pixelAt(image, patch.right(), patch.bottom()), want) << r << "," << c;
      if (c < 3) {
        EXPECT_EQ(pixelAt(image, patch.right() + 1, patch.top()),
                  view.colorScale().color(data.scores(r, c + 1)))
            << r << "," << c;
      }
    }
  }
}

TEST(ImageAttributionView, SmallImagesScaleUpInWholePixelsWithoutSmoothing) {
  ImageAttributionView view;
  view.setData(digitWithPatches());
  view.setOpacity(0.0);
  const QImage image = renderFigure(view);
  const QRect shown = view.imageRect(QRect(QPoint(0, 0), kSize));
  ASSERT_GE(shown.width(), 200) << "an 8x8 digit should fill the view, not stay 8 pixels wide";
  ASSERT_EQ(shown.width() % 8, 0);
  ASSERT_EQ(shown.width(), shown.height());
  const int scale = shown.width() / 8;
  // Every screen pixel of image pixel (3, 2) (a stroke next to ground) has exactly its colour.
  const QColor want(view.data().image.pixel(3, 2));
  for (int dy = 0; dy < scale; ++dy) {
    for (int dx = 0; dx < scale; ++dx) {
      ASSERT_EQ(pixelAt(image, shown.left() + 3 * scale + dx, shown.top() + 2 * scale + dy), want)
          << dx << "," << dy;
    }
  }
}

TEST(ImageAttributionView, PixelScoresColourEachPixel) {
  ImageAttributionData data;
  data.image = digit();
  data.grid = AttributionGrid::Pixels;
  data.scale = ScaleKind::Sequential;
  data.scores.resize(8, 8);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) data.scores(y, x) = x + 8 * y;
  }
  data.scores(5, 6) = std::numeric_limits<double>::quiet_NaN();  // no score: the image shows
  ImageAttributionView view;
  view.setData(data);
  view.setOpacity(1.0);
  const QImage image = renderFigure(view);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      const QPoint p = shownCentre(view, kSize, x, y);
      const QColor want = std::isnan(data.scores(y, x))
                              ? QColor(data.image.pixel(x, y))
                              : view.colorScale().color(data.scores(y, x));
      EXPECT_EQ(pixelAt(image, p.x(), p.y()), want) << x << "," << y;
    }
  }
  EXPECT_EQ(view.patchOf(6, 5), (std::pair<int, int>{5, 6}));
}

TEST(ImageAttributionView, TransparentPixelsShowOverWhite) {
  ImageAttributionData data = digitWithPatches();
  data.image = data.image.convertToFormat(QImage::Format_ARGB32);
  data.image.setPixel(0, 0, qRgba(0, 0, 0, 0));
  ImageAttributionView view;
  view.setData(data);
  view.setOpacity(0.0);
  const QImage image = renderFigure(view);
  const QPoint p = shownCentre(view, kSize, 0, 0);
  EXPECT_EQ(pixelAt(image, p.x(), p.y()), QColor(255, 255, 255));
}

TEST(ImageAttributionView, SvgHasTitleAndLegend) {
  test::OutputDir out;
  ImageAttributionData data = digitWithPatches();
  data.gridLines = true;
  ImageAttributionView view;
  view.setData(data);
  view.setControlsVisible(false);
  renderToSvg(view, out / "image_attribution.svg", kSize);
  renderToPng(view, out / "image_attribution.png", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "image_attribution.svg"));
  for (const QString& expected :
       {QStringLiteral("Digit 1: patch attribution"), QStringLiteral("attribution"),
        QString::fromStdString(formatValue(view.colorScale().min())),
        QString::fromStdString(formatValue(view.colorScale().max())), QStringLiteral("0")}) {
    EXPECT_TRUE(texts.contains(expected)) << expected.toStdString();
  }
}

TEST(ImageAttributionView, ControlsTakeTheirStripBelowTheFigure) {
  ImageAttributionView view;
  view.setData(digitWithPatches());
  view.resize(kSize);
  EXPECT_TRUE(view.controlsVisible());
  EXPECT_LT(view.canvasRect().height(), kSize.height());
  view.setControlsVisible(false);
  EXPECT_EQ(view.canvasRect(), QRect(QPoint(0, 0), kSize));
  // What paint() draws into the canvas is what the widget renders.
  view.setControlsVisible(true);
  const QImage rendered = renderToImage(view, kSize);
  QImage direct(kSize, QImage::Format_RGB32);
  direct.fill(Qt::white);
  {
    QPainter painter(&direct);
    view.paint(painter, view.canvasRect());
  }
  EXPECT_EQ(rendered.copy(view.canvasRect()), direct.copy(view.canvasRect()));
}

TEST(ImageAttributionView, TooltipNamesThePatchAndScore) {
  ImageAttributionView view;
  view.setData(digitWithPatches());
  view.resize(kSize);
  const QRect patch = view.patchRect(2, 1, view.canvasRect());
  const QString tip = view.toolTipAt(patch.center());
  EXPECT_TRUE(tip.contains(QStringLiteral("patch (row 2, column 1)"))) << tip.toStdString();
  EXPECT_TRUE(tip.contains(QStringLiteral("attribution: ") +
                           QString::fromStdString(formatValue(view.data().scores(2, 1)))))
      << tip.toStdString();
  EXPECT_TRUE(view.toolTipAt(QPoint(1, 1)).isEmpty());
}

TEST(ImageAttributionView, WithoutDataDrawsNoDataMessage) {
  test::OutputDir out;
  ImageAttributionView view;
  view.setData(digitWithPatches());
  view.clear();
  view.setControlsVisible(false);
  renderToSvg(view, out / "image_attribution_empty.svg", kSize);
  const QStringList texts = test::svgTexts(test::readFile(out / "image_attribution_empty.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("no data")));
  EXPECT_TRUE(view.imageRect(QRect(QPoint(0, 0), kSize)).isEmpty());
  EXPECT_TRUE(view.patchPixels(0, 0).isEmpty());
  view.resize(kSize);
  EXPECT_TRUE(view.toolTipAt(QPoint(200, 200)).isEmpty());
}

TEST(ImageAttributionView, BadDataThrowsNamingTheProblem) {
  ImageAttributionData noImage = digitWithPatches();
  noImage.image = QImage();
  EXPECT_NE(messageOf<ConfigError>([&] {
              ImageAttributionView::validate(noImage);
            }).find("the image is empty"),
            std::string::npos);

  ImageAttributionData noScores = digitWithPatches();
  noScores.scores.resize(0, 0);
  const std::string empty =
      messageOf<ConfigError>([&] { ImageAttributionView::validate(noScores); });
  EXPECT_NE(empty.find("'Digit 1: patch attribution'"), std::string::npos) << empty;
  EXPECT_NE(empty.find("the scores are empty"), std::string::npos) << empty;

  ImageAttributionData pixels = digitWithPatches();
  pixels.grid = AttributionGrid::Pixels;
  const std::string size = messageOf<ConfigError>([&] { ImageAttributionView::validate(pixels); });
  EXPECT_NE(size.find("per-pixel scores are 4x4 but the image is 8x8"), std::string::npos) << size;

  ImageAttributionData fine = digitWithPatches();
  fine.scores = Eigen::MatrixXd::Zero(9, 2);
  const std::string finer = messageOf<ConfigError>([&] { ImageAttributionView::validate(fine); });
  EXPECT_NE(finer.find("9x2 patch grid is finer than the image"), std::string::npos) << finer;

  ImageAttributionData infinite = digitWithPatches();
  infinite.scores(1, 2) = std::numeric_limits<double>::infinity();
  const std::string inf = messageOf<ConfigError>([&] { ImageAttributionView::validate(infinite); });
  EXPECT_NE(inf.find("score (1, 2) is inf"), std::string::npos) << inf;

  ImageAttributionData range = digitWithPatches();
  range.min = 2.0;
  range.max = 2.0;
  EXPECT_NE(messageOf<ConfigError>([&] { ImageAttributionView::validate(range); }).find("is empty"),
            std::string::npos);

  // setData checks too, and keeps what was shown on error.
  ImageAttributionView view;
  view.setData(digitWithPatches());
  EXPECT_THROW(view.setData(pixels), ConfigError);
  EXPECT_EQ(view.data().scores.rows(), 4);
}

}  // namespace
}  // namespace cs::viewers
