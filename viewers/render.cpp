// Rendering goes through QWidget::render, which calls the widget's own paintEvent with the
// painter redirected to the image or SVG generator: there is no second drawing path to drift.
#include "viewers/render.h"

#include <QBuffer>
#include <QImageWriter>
#include <QPainter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QWidget>

#include <string>

#include "core/error.h"

namespace cs::viewers {
namespace {

void checkSize(QSize size, const char* what) {
  if (size.width() <= 0 || size.height() <= 0) {
    throw ConfigError(std::string(what) + ": size " + std::to_string(size.width()) + "x" +
                      std::to_string(size.height()) +
                      " is empty; give a positive width and height");
  }
}

QString qtPath(const std::filesystem::path& path) { return QString::fromStdString(path.string()); }

// Resizes a widget for one rendering and gives it its old size back.
class SizeScope {
 public:
  SizeScope(QWidget& widget, QSize size) : m_widget(widget), m_old(widget.size()) {
    if (m_old != size) m_widget.resize(size);
  }
  ~SizeScope() {
    if (m_widget.size() != m_old) m_widget.resize(m_old);
  }
  SizeScope(const SizeScope&) = delete;
  SizeScope& operator=(const SizeScope&) = delete;

 private:
  QWidget& m_widget;
  QSize m_old;
};

// QSvgGenerator gives the document's size in millimetres, which renderers convert back to
// pixels at differing resolutions (Qt's own at 90 dpi, browsers at 96): a 640-pixel figure could
// come out 602 pixels wide, blurred. Width and height in pixels make it `size` everywhere.
QByteArray withPixelSize(QByteArray svg, QSize size) {
  const qsizetype start = svg.indexOf("<svg");
  const qsizetype end = start < 0 ? -1 : svg.indexOf('>', start);
  if (end < 0) return svg;
  QByteArray tag = svg.mid(start, end - start);
  static const QRegularExpression kWidth(QStringLiteral("\\bwidth=\"[^\"]*\""));
  static const QRegularExpression kHeight(QStringLiteral("\\bheight=\"[^\"]*\""));
  QString text = QString::fromUtf8(tag);
  text.replace(kWidth, QStringLiteral("width=\"%1\"").arg(size.width()));
  text.replace(kHeight, QStringLiteral("height=\"%1\"").arg(size.height()));
  return svg.replace(start, end - start, text.toUtf8());
}

void drawWidget(QWidget& widget, QPainter& painter) {
  widget.ensurePolished();
  widget.render(&painter, QPoint(), QRegion(),
                QWidget::DrawWindowBackground | QWidget::DrawChildren);
}

}  // namespace

QImage renderToImage(QWidget& widget, QSize size) {
  checkSize(size, "rendering a widget");
  QImage image(size, QImage::Format_RGB32);
  image.fill(Qt::white);
  SizeScope scope(widget, size);
  QPainter painter(&image);
  drawWidget(widget, painter);
  painter.end();
  return image;
}

void renderToPng(QWidget& widget, const std::filesystem::path& path, QSize size) {
  checkSize(size, ("rendering " + path.string()).c_str());
  const QImage image = renderToImage(widget, size);
  QImageWriter writer(qtPath(path), "png");
  if (!writer.write(image)) {
    throw IoError("writing PNG " + path.string() + ": " + writer.errorString().toStdString() +
                  "; check that the folder exists and is writable");
  }
}

void renderToSvg(QWidget& widget, const std::filesystem::path& path, QSize size) {
  checkSize(size, ("rendering " + path.string()).c_str());
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  {
    QSvgGenerator generator;
    generator.setOutputDevice(&buffer);
    generator.setSize(size);
    generator.setViewBox(QRect(QPoint(0, 0), size));
    // 96 dpi, like QImage: any point-sized text measures the same in both.
    generator.setResolution(96);
    generator.setTitle(widget.windowTitle());
    generator.setDescription(QStringLiteral("drawn by circuitscope"));
    SizeScope scope(widget, size);
    QPainter painter;
    if (!painter.begin(&generator)) {
      throw IoError("writing SVG " + path.string() + ": could not start the SVG generator");
    }
    drawWidget(widget, painter);
    painter.end();
  }
  const QByteArray svg = withPixelSize(buffer.data(), size);
  QSaveFile file(qtPath(path));
  if (!file.open(QIODevice::WriteOnly) || file.write(svg) != svg.size() || !file.commit()) {
    throw IoError("writing SVG " + path.string() + ": " + file.errorString().toStdString() +
                  "; check that the folder exists and is writable");
  }
}

}  // namespace cs::viewers
