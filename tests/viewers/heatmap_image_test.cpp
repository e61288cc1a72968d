// HeatmapView's cached cell image: it holds each cell's scale colour (NaN grey), painting spreads
// it over the grid with exact cell edges for a 1024 x 1024 matrix as for a small one, it is built
// by setData and reused by painting, and SVG embeds it only where rectangles would be too many.
#include <QPainter>

#include <gtest/gtest.h>

#include <cmath>

#include "viewer_test_support.h"
#include "viewers/heatmap_view.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::pixelAt;

HeatmapData wave(int rows, int columns) {
  HeatmapData data;
  data.values.resize(rows, columns);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      data.values(r, c) = std::sin(r * 0.013 + 0.4) * std::cos(c * 0.029 - 0.2);
    }
  }
  data.scale = ScaleKind::Diverging;
  return data;
}

HeatmapData small() {
  HeatmapData data;
  data.values.resize(3, 4);
  data.values << 0.0, 0.1, 0.2, 0.3,  //
      0.4, std::nan(""), 0.6, 0.7,    //
      0.8, 0.9, 1.0, 0.05;
  data.rowLabels = {"a", "b", "c"};
  data.columnLabels = {"w", "x", "y", "z"};
  data.title = "small";
  return data;
}

TEST(HeatmapImage, CellImageHoldsEachCellsScaleColourAndNanGrey) {
  HeatmapView view;
  EXPECT_TRUE(view.cellImage().isNull());
  view.setData(small());
  const QImage& cells = view.cellImage();
  ASSERT_EQ(cells.size(), QSize(4, 3)) << "one pixel per cell, x the column";
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      EXPECT_EQ(pixelAt(cells, c, r), view.colorScale().color(view.data().values(r, c)))
          << r << "," << c;
    }
  }
  EXPECT_EQ(pixelAt(cells, 1, 1), ColorScale::nanColor());
}

TEST(HeatmapImage, SmallMatrixCellsAreFlatToTheirEdges) {
  // Every pixel of a cell, its corners included, has the cell's colour: the image is spread by
  // the same edges that cellRect() and cellAt() use.
  HeatmapView view;
  view.setData(small());
  const QSize size(640, 440);
  const QRect bounds(QPoint(0, 0), size);
  const QImage image = renderToImage(view, size);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      const QRect cell = view.cellRect(r, c, bounds);
      ASSERT_GT(cell.width(), 50);
      const QColor want = view.colorScale().color(view.data().values(r, c));
      for (const QPoint p : {cell.center(), cell.topLeft(), cell.topRight(), cell.bottomLeft(),
                             cell.bottomRight()}) {
        EXPECT_EQ(pixelAt(image, p.x(), p.y()), want)
            << "cell " << r << "," << c << " at " << p.x() << "," << p.y();
      }
    }
  }
  const QPoint missing = view.cellRect(1, 1, bounds).center();
  EXPECT_EQ(pixelAt(image, missing.x(), missing.y()), ColorScale::nanColor());
}

TEST(HeatmapImage, LargeMatrixPixelsHaveTheirCellsColour) {
  HeatmapData data = wave(1024, 1024);
  data.values(100, 200) = std::nan("");
  data.values(1023, 0) = std::nan("");
  HeatmapView view;
  view.setData(data);
  const QSize size(1400, 1400);
  const QRect bounds(QPoint(0, 0), size);
  const QImage image = renderToImage(view, size);
  ASSERT_GE(view.cellRect(0, 0, bounds).width(), 1) << "the grid is wider than the matrix";
  int checked = 0;
  const auto check = [&](int r, int c) {
    const QRect cell = view.cellRect(r, c, bounds);
    ASSERT_FALSE(cell.isEmpty()) << r << "," << c;
    EXPECT_EQ(pixelAt(image, cell.center().x(), cell.center().y()),
              view.colorScale().color(data.values(r, c)))
        << "cell " << r << "," << c << " at " << cell.center().x() << "," << cell.center().y();
    ++checked;
  };
  for (int r = 0; r < 1024; r += 31) {
    for (int c = 0; c < 1024; c += 37) check(r, c);
  }
  for (int c = 0; c < 1024; ++c) check(511, c);  // one whole row: no cell dropped or shifted
  for (const auto& [r, c] : {std::pair{0, 0}, {0, 1023}, {1023, 1023}, {100, 200}, {1023, 0}}) {
    check(r, c);
  }
  EXPECT_GT(checked, 1900);
  for (const auto& [r, c] : {std::pair{100, 200}, {1023, 0}}) {
    const QPoint p = view.cellRect(r, c, bounds).center();
    EXPECT_EQ(pixelAt(image, p.x(), p.y()), ColorScale::nanColor()) << r << "," << c;
  }
}

TEST(HeatmapImage, PaintingReusesTheCacheAndSetDataReplacesIt) {
  HeatmapView view;
  view.setData(wave(64, 80));
  const qint64 key = view.cellImage().cacheKey();
  const QSize size(500, 400);
  const QRect bounds(QPoint(0, 0), size);
  renderToImage(view, size);
  renderToImage(view, QSize(300, 200));
  EXPECT_EQ(view.cellImage().cacheKey(), key) << "painting must not recolour the cells";

  HeatmapData next = wave(64, 80);
  next.values *= -1.0;
  next.values(10, 20) = std::nan("");
  view.setData(next);
  EXPECT_NE(view.cellImage().cacheKey(), key);
  const QImage image = renderToImage(view, size);
  for (const auto& [r, c] : {std::pair{0, 0}, {5, 70}, {63, 79}, {30, 40}}) {
    const QPoint p = view.cellRect(r, c, bounds).center();
    EXPECT_EQ(pixelAt(image, p.x(), p.y()), view.colorScale().color(next.values(r, c)))
        << r << "," << c;
    EXPECT_NE(view.colorScale().color(next.values(r, c)),
              view.colorScale().color(-next.values(r, c)))
        << "the new data must look different at " << r << "," << c;
  }
  const QPoint missing = view.cellRect(10, 20, bounds).center();
  EXPECT_EQ(pixelAt(image, missing.x(), missing.y()), ColorScale::nanColor());

  // A change of shape too, down to no data.
  view.setData(small());
  EXPECT_EQ(view.cellImage().size(), QSize(4, 3));
  view.setData(HeatmapData{});
  EXPECT_TRUE(view.cellImage().isNull());
}

TEST(HeatmapImage, HighDensityDevicesGetTheCellsAtTheirResolution) {
  // On a screen with two device pixels per pixel the grid image is spread at device resolution:
  // cell centres keep their colours and no cell is doubled or lost.
  HeatmapView view;
  view.setData(wave(40, 50));
  const QSize size(400, 300);
  const QRect bounds(QPoint(0, 0), size);
  QImage image(size * 2, QImage::Format_RGB32);
  image.setDevicePixelRatio(2.0);
  image.fill(Qt::white);
  {
    QPainter painter(&image);
    view.paint(painter, bounds);
  }
  for (int r = 0; r < 40; r += 3) {
    for (int c = 0; c < 50; c += 4) {
      const QRect cell = view.cellRect(r, c, bounds);
      const QPoint p(cell.left() * 2 + cell.width(), cell.top() * 2 + cell.height());
      EXPECT_EQ(pixelAt(image, p.x(), p.y()), view.colorScale().color(view.data().values(r, c)))
          << r << "," << c;
    }
  }
}

TEST(HeatmapImage, SvgUsesRectanglesForFewCellsAndOneImageForMany) {
  test::OutputDir out;
  HeatmapView view;
  view.setData(small());
  renderToSvg(view, out / "heatmap_image_small.svg", QSize(500, 400));
  const QByteArray smallSvg = test::readFile(out / "heatmap_image_small.svg");
  EXPECT_FALSE(smallSvg.contains("<image")) << "a few cells stay vector rectangles";
  EXPECT_TRUE(test::svgTexts(smallSvg).contains(QStringLiteral("small")));

  HeatmapData large = wave(1024, 1024);
  large.title = "large";
  large.annotate = true;  // no room for any number: none drawn
  view.setData(large);
  renderToSvg(view, out / "heatmap_image_large.svg", QSize(800, 800));
  renderToPng(view, out / "heatmap_image_large.png", QSize(800, 800));
  const QByteArray largeSvg = test::readFile(out / "heatmap_image_large.svg");
  EXPECT_EQ(largeSvg.count("<image"), 1);
  EXPECT_LT(largeSvg.size(), 4 * 1024 * 1024);
  const QStringList texts = test::svgTexts(largeSvg);
  EXPECT_TRUE(texts.contains(QStringLiteral("large")));
  EXPECT_LT(texts.size(), 300) << "labels thinned, no per-cell numbers";
}

}  // namespace
}  // namespace cs::viewers
