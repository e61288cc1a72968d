// Offscreen rendering: PNGs load back at the requested size, SVGs are well-formed XML with the
// text as text, the widget keeps its size, the screen's grab equals the file, bad sizes and
// unwritable paths throw.
#include <QImageReader>
#include <QPainter>
#include <QSvgRenderer>

#include <gtest/gtest.h>

#include "core/error.h"
#include "viewer_test_support.h"
#include "viewers/chart_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/paint_helpers.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

using test::messageOf;

HeatmapData smallHeatmap() {
  HeatmapData data;
  data.values.resize(3, 3);
  data.values << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  data.rowLabels = {"a", "b", "c"};
  data.columnLabels = {"x", "y", "z"};
  data.title = "Small <&> heatmap";
  return data;
}

TEST(Render, PngLoadsBackWithTheRequestedSize) {
  test::OutputDir out;
  HeatmapView view;
  view.setData(smallHeatmap());
  for (const QSize size : {QSize(640, 480), QSize(301, 177)}) {
    const auto path = out / ("render_" + std::to_string(size.width()) + ".png");
    renderToPng(view, path, size);
    QImageReader reader(QString::fromStdString(path.string()));
    EXPECT_EQ(reader.format(), QByteArray("png"));
    const QImage image = reader.read();
    ASSERT_FALSE(image.isNull()) << reader.errorString().toStdString();
    EXPECT_EQ(image.size(), size);
    // Drawn, not blank: more than one colour.
    EXPECT_NE(image.pixel(0, 0), image.pixel(size.width() / 2, size.height() / 2));
  }
}

TEST(Render, SvgIsWellFormedWithTextAsText) {
  test::OutputDir out;
  HeatmapView view;
  view.setData(smallHeatmap());
  const QSize size(500, 400);
  renderToSvg(view, out / "render.svg", size);
  const QByteArray svg = test::readFile(out / "render.svg");
  const QStringList texts = test::svgTexts(svg);
  // Markup characters in a title are escaped, not breaking the XML.
  EXPECT_TRUE(texts.contains(QStringLiteral("Small <&> heatmap")));
  for (const char* label : {"a", "b", "c", "x", "y", "z"}) {
    EXPECT_TRUE(texts.contains(QString::fromUtf8(label))) << label;
  }
  EXPECT_TRUE(svg.contains("viewBox=\"0 0 500 400\"")) << svg.left(600).toStdString();
  EXPECT_TRUE(svg.contains("width=\"500\" height=\"400\"")) << svg.left(600).toStdString();
  QSvgRenderer renderer(svg);
  EXPECT_TRUE(renderer.isValid());
  EXPECT_EQ(renderer.viewBox(), QRect(0, 0, 500, 400));
  EXPECT_EQ(renderer.defaultSize(), size);
}

TEST(Render, WidgetKeepsItsSizeAndScreenMatchesFile) {
  ChartView view;
  ChartData data;
  data.categories = {"a", "b"};
  data.series = {{"s", {1, 2}}};
  view.setData(data);
  view.resize(300, 200);
  const QImage image = renderToImage(view, QSize(640, 400));
  EXPECT_EQ(image.size(), QSize(640, 400));
  EXPECT_EQ(view.size(), QSize(300, 200));
  // What the screen shows (grab goes through paintEvent) is what the file gets.
  const QImage screen = view.grab().toImage().convertToFormat(QImage::Format_RGB32);
  EXPECT_EQ(screen, renderToImage(view, QSize(300, 200)));
}

TEST(Render, BadSizesAndUnwritablePathsThrow) {
  test::OutputDir out;
  HeatmapView view;
  view.setData(smallHeatmap());
  const std::string empty = messageOf<ConfigError>([&] { renderToImage(view, QSize(0, 10)); });
  EXPECT_NE(empty.find("size 0x10 is empty"), std::string::npos) << empty;
  EXPECT_THROW(renderToSvg(view, out / "x.svg", QSize(10, -1)), ConfigError);
  const auto missing = out / "no_such_folder" / "figure.png";
  const std::string png = messageOf<IoError>([&] { renderToPng(view, missing, QSize(50, 50)); });
  EXPECT_NE(png.find(missing.string()), std::string::npos) << png;
  const auto missingSvg = out / "no_such_folder" / "figure.svg";
  const std::string svg = messageOf<IoError>([&] { renderToSvg(view, missingSvg, QSize(50, 50)); });
  EXPECT_NE(svg.find(missingSvg.string()), std::string::npos) << svg;
}

// The SVG, drawn back by Qt's SVG renderer, matches the PNG: same cells, same clipping.
TEST(Render, SvgDrawsWhatThePngDraws) {
  test::OutputDir out;
  const QSize size(600, 400);
  HeatmapView heatmap;
  heatmap.setData(smallHeatmap());
  ChartData bars;
  bars.categories = {"a", "b", "c"};
  bars.series = {{"s", {1, 9, 3}}};
  bars.yMax = 5.0;  // the middle bar runs off the top: both files must cut it at the plot
  ChartView chart;
  chart.setData(bars);
  ChartData lines;
  lines.kind = ChartKind::Line;
  lines.x = {0, 1, 2};
  lines.series = {{"s", {1, -4, 2}}};
  lines.yMin = 0.0;  // the middle point lies below the plot
  ChartView lineChart;
  lineChart.setData(lines);
  for (QWidget* view : std::initializer_list<QWidget*>{&heatmap, &chart, &lineChart}) {
    const auto svgPath = out / "svg_vs_png.svg";
    renderToSvg(*view, svgPath, size);
    QSvgRenderer renderer(test::readFile(svgPath));
    ASSERT_TRUE(renderer.isValid());
    QImage fromSvg(size, QImage::Format_RGB32);
    fromSvg.fill(Qt::white);
    {
      QPainter painter(&fromSvg);
      renderer.render(&painter);
    }
    const QImage png = renderToImage(*view, size);
    int differing = 0;
    QRect where;
    for (int y = 0; y < size.height(); ++y) {
      for (int x = 0; x < size.width(); ++x) {
        if (test::channelDistance(test::pixelAt(png, x, y), test::pixelAt(fromSvg, x, y)) > 60) {
          ++differing;
          where |= QRect(x, y, 1, 1);
        }
      }
    }
    // Text and antialiased edges may differ a little; shapes may not.
    EXPECT_LT(differing, size.width() * size.height() / 100)
        << view->metaObject()->className() << ": " << differing << " pixels differ, within ("
        << where.left() << ", " << where.top() << ") to (" << where.right() << ", "
        << where.bottom() << ")";
  }
  // Heatmap cells keep their exact colours in the SVG.
  renderToSvg(heatmap, out / "svg_heatmap.svg", size);
  QSvgRenderer renderer(test::readFile(out / "svg_heatmap.svg"));
  QImage fromSvg(size, QImage::Format_RGB32);
  fromSvg.fill(Qt::white);
  {
    QPainter painter(&fromSvg);
    renderer.render(&painter);
  }
  const QRect bounds(QPoint(0, 0), size);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      const QPoint centre = heatmap.cellRect(r, c, bounds).center();
      EXPECT_EQ(test::pixelAt(fromSvg, centre.x(), centre.y()),
                heatmap.colorScale().color(heatmap.data().values(r, c)))
          << r << "," << c;
    }
  }
  // Nothing drawn above the plot where the tall bar was cut.
  const QRectF plot = chart.plotRect(bounds);
  const QPointF top(chart.barRect(0, 1, bounds).center().x(), plot.top() - 3);
  renderToSvg(chart, out / "svg_chart.svg", size);
  QSvgRenderer chartRenderer(test::readFile(out / "svg_chart.svg"));
  QImage chartFromSvg(size, QImage::Format_RGB32);
  chartFromSvg.fill(Qt::white);
  {
    QPainter painter(&chartFromSvg);
    chartRenderer.render(&painter);
  }
  EXPECT_GT(test::channelDistance(
                test::pixelAt(chartFromSvg, static_cast<int>(top.x()), static_cast<int>(top.y())),
                paint::seriesColor(0)),
            60);
}

}  // namespace
}  // namespace cs::viewers
