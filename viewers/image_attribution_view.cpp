// Image attribution painting. The blend is computed here pixel by pixel into one image of the
// displayed size (nearest image pixel, its patch's colour mixed in at the opacity), so the
// colours are exact and alike in a PNG, an SVG and on screen whatever their smoothing does.
#include "viewers/image_attribution_view.h"

#include <QFontMetricsF>
#include <QLabel>
#include <QLinearGradient>
#include <QPainter>
#include <QSignalBlocker>
#include <QSlider>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "viewers/axis_ticks.h"
#include "viewers/paint_helpers.h"

namespace cs::viewers {
namespace {

constexpr int kMargin = 8;
constexpr int kGap = 4;
constexpr int kLegendGap = 14;
constexpr int kLegendBarWidth = 14;
constexpr int kTickLength = 4;
constexpr int kMinLegendHeight = 120;
constexpr int kControlsHeight = 32;

std::string viewName(const ImageAttributionData& data) {
  return data.title.empty() ? std::string("image attribution")
                            : "image attribution '" + data.title + "'";
}

std::string sizeText(Eigen::Index rows, Eigen::Index columns) {
  return std::to_string(rows) + "x" + std::to_string(columns);
}

// The first pixel of part k when `size` pixels are split into `count` parts: pixel x belongs to
// part floor(x * count / size).
int partStart(int k, int size, int count) {
  return static_cast<int>((static_cast<std::int64_t>(k) * size + count - 1) / count);
}

int partOf(int x, int size, int count) {
  return static_cast<int>(static_cast<std::int64_t>(x) * count / size);
}

// The first displayed pixel showing image pixel p when `size` image pixels span `shown` screen
// pixels (screen pixel d shows image pixel floor(d * size / shown)).
int displayStart(int p, int size, int shown) {
  return static_cast<int>((static_cast<std::int64_t>(p) * shown + size - 1) / size);
}

QRgb mix(QRgb under, const QColor& over, double alpha) {
  const auto channel = [alpha](int a, int b) {
    return static_cast<int>(std::lround(a + (b - a) * alpha));
  };
  return qRgb(channel(qRed(under), over.red()), channel(qGreen(under), over.green()),
              channel(qBlue(under), over.blue()));
}

}  // namespace

struct ImageAttributionView::Geometry {
  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  double lineHeight = 0.0;
  QRectF titleRect;
  QRectF messageRect;  // "no data"
  QRect image;
  QRect legendBar;
  double legendTextLeft = 0.0;
  double legendTextWidth = 0.0;
  QRectF legendNameRect;  // vertical, right of the legend's labels
};

ImageAttributionView::ImageAttributionView(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
  m_sliderLabel = new QLabel(tr("overlay opacity"), this);
  m_slider = new QSlider(Qt::Horizontal, this);
  m_slider->setRange(0, 100);
  m_slider->setValue(static_cast<int>(std::lround(m_opacity * 100)));
  m_slider->setToolTip(tr("How much of the scores' colour covers the image"));
  m_sliderValue = new QLabel(this);
  m_sliderValue->setText(QStringLiteral("%1%").arg(m_slider->value()));
  m_sliderValue->setMinimumWidth(QFontMetrics(m_sliderValue->font()).horizontalAdvance("100%"));
  connect(m_slider, &QSlider::valueChanged, this,
          [this](int percent) { setOpacity(percent / 100.0); });
  placeControls();
}

void ImageAttributionView::validate(const ImageAttributionData& data) {
  const std::string name = viewName(data);
  if (data.image.isNull() || data.image.width() <= 0 || data.image.height() <= 0) {
    throw ConfigError(name + ": the image is empty; give the image the scores belong to");
  }
  const Eigen::Index rows = data.scores.rows();
  const Eigen::Index columns = data.scores.cols();
  if (rows == 0 || columns == 0) {
    throw ConfigError(name + ": the scores are empty (" + sizeText(rows, columns) +
                      "); give one score per patch or per pixel");
  }
  const std::string imageSize = std::to_string(data.image.height()) + "x" +
                                std::to_string(data.image.width()) + " (height x width)";
  if (data.grid == AttributionGrid::Pixels &&
      (rows != data.image.height() || columns != data.image.width())) {
    throw ConfigError(name + ": per-pixel scores are " + sizeText(rows, columns) +
                      " but the image is " + imageSize +
                      "; give one score per pixel, or use a patch grid");
  }
  if (data.grid == AttributionGrid::Patches &&
      (rows > data.image.height() || columns > data.image.width())) {
    throw ConfigError(name + ": a " + sizeText(rows, columns) +
                      " patch grid is finer than the image, " + imageSize +
                      "; give at most one patch per pixel");
  }
  for (Eigen::Index c = 0; c < columns; ++c) {
    for (Eigen::Index r = 0; r < rows; ++r) {
      if (std::isinf(data.scores(r, c))) {
        throw ConfigError(name + ": score (" + std::to_string(r) + ", " + std::to_string(c) +
                          ") is " + formatValue(data.scores(r, c)) +
                          "; scores must be finite (NaN marks a patch without a score)");
      }
    }
  }
  try {
    ColorScale::fitted(data.scale, 0.0, 1.0, data.min, data.max);
  } catch (const ConfigError& e) {
    throw ConfigError(name + ": " + e.what());
  }
}

void ImageAttributionView::setData(ImageAttributionData data) {
  validate(data);
  const auto [lo, hi] = finiteRange(data.scores);
  m_scale = ColorScale::fitted(data.scale, lo, hi, data.min, data.max);
  QImage opaque(data.image.size(), QImage::Format_RGB32);
  opaque.fill(Qt::white);
  {
    QPainter painter(&opaque);
    painter.drawImage(0, 0, data.image);
  }
  m_opaque = std::move(opaque);
  m_data = std::move(data);
  update();
}

void ImageAttributionView::clear() {
  m_data = ImageAttributionData{};
  m_opaque = QImage();
  m_scale = ColorScale();
  update();
}

void ImageAttributionView::setOpacity(double opacity) {
  const double clamped = std::isfinite(opacity) ? std::clamp(opacity, 0.0, 1.0) : 0.5;
  const int percent = static_cast<int>(std::lround(clamped * 100));
  {
    const QSignalBlocker blocker(m_slider);
    m_slider->setValue(percent);
  }
  m_sliderValue->setText(QStringLiteral("%1%").arg(percent));
  if (clamped == m_opacity) return;
  m_opacity = clamped;
  update();
  emit opacityChanged(m_opacity);
}

void ImageAttributionView::setControlsVisible(bool visible) {
  m_controlsVisible = visible;
  m_slider->setVisible(visible);
  m_sliderLabel->setVisible(visible);
  m_sliderValue->setVisible(visible);
  placeControls();
  update();
}

QRect ImageAttributionView::canvasRect() const {
  return m_controlsVisible ? rect().adjusted(0, 0, 0, -kControlsHeight) : rect();
}

void ImageAttributionView::placeControls() {
  // Placed by hand rather than by a layout: a layout only acts once the widget is shown, and
  // an offscreen render of a never-shown view must put the slider where the screen would.
  const int top = height() - kControlsHeight;
  const int labelWidth = m_sliderLabel->sizeHint().width();
  const int valueWidth = m_sliderValue->minimumWidth();
  const int sliderLeft = kMargin + labelWidth + kGap * 2;
  const int sliderWidth = std::max(40, width() - sliderLeft - valueWidth - kGap * 2 - kMargin);
  m_sliderLabel->setGeometry(kMargin, top, labelWidth, kControlsHeight);
  m_slider->setGeometry(sliderLeft, top, sliderWidth, kControlsHeight);
  m_sliderValue->setGeometry(sliderLeft + sliderWidth + kGap * 2, top, valueWidth, kControlsHeight);
}

QString ImageAttributionView::scoreName() const {
  return m_data.scoreName.empty() ? QStringLiteral("score")
                                  : QString::fromStdString(m_data.scoreName);
}

ImageAttributionView::Geometry ImageAttributionView::geometryFor(const QRect& bounds) const {
  Geometry g;
  const auto frame = paint::frameFor(font(), bounds, !m_data.title.empty(), kMargin);
  g.titleFont = frame.titleFont;
  g.labelFont = frame.labelFont;
  g.lineHeight = frame.lineHeight;
  g.titleRect = frame.titleRect;
  if (m_opaque.isNull()) {
    g.messageRect = QRectF(frame.left, frame.top, frame.right - frame.left,
                           std::max(0.0, frame.bottom - frame.top));
    return g;
  }
  g.empty = false;
  const QFontMetricsF metrics(g.labelFont);
  for (double v : {m_scale.min(), m_scale.centre(), m_scale.max()}) {
    g.legendTextWidth = std::max(g.legendTextWidth,
                                 metrics.horizontalAdvance(QString::fromStdString(formatValue(v))));
  }
  const double legendWidth =
      kLegendGap + kLegendBarWidth + kTickLength + kGap + g.legendTextWidth + kGap + g.lineHeight;
  const double availableWidth = std::max(1.0, frame.right - frame.left - legendWidth);
  const double availableHeight = std::max(1.0, frame.bottom - frame.top);

  // Whole screen pixels per image pixel whenever the image fits at least once: an 8x8 digit
  // becomes crisp squares. A larger image shrinks to fit.
  const int w = m_opaque.width();
  const int h = m_opaque.height();
  double scale = std::min(availableWidth / w, availableHeight / h);
  if (scale >= 1.0) scale = std::floor(scale);
  const int shownWidth = std::max(1, static_cast<int>(std::lround(w * scale)));
  const int shownHeight = std::max(1, static_cast<int>(std::lround(h * scale)));
  const int left = static_cast<int>(std::lround(frame.left + (availableWidth - shownWidth) / 2));
  const int top = static_cast<int>(std::lround(frame.top));
  g.image = QRect(left, top, shownWidth, shownHeight);

  const int legendHeight = std::max(
      shownHeight, std::min(kMinLegendHeight, static_cast<int>(std::floor(availableHeight))));
  g.legendBar = QRect(left + shownWidth + kLegendGap, top, kLegendBarWidth, legendHeight);
  g.legendTextLeft = g.legendBar.left() + kLegendBarWidth + kTickLength + kGap;
  g.legendNameRect = QRectF(g.legendTextLeft + g.legendTextWidth + kGap, top, g.lineHeight,
                            static_cast<double>(legendHeight));
  return g;
}

void ImageAttributionView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }

  // The blend, one screen pixel at a time through per-column and per-row lookups.
  const int w = m_opaque.width();
  const int h = m_opaque.height();
  const int rows = static_cast<int>(m_data.scores.rows());
  const int columns = static_cast<int>(m_data.scores.cols());
  const QSize shown = g.image.size();
  std::vector<int> sourceX(static_cast<size_t>(shown.width()));
  std::vector<int> sourceY(static_cast<size_t>(shown.height()));
  for (int x = 0; x < shown.width(); ++x) sourceX[x] = partOf(x, shown.width(), w);
  for (int y = 0; y < shown.height(); ++y) sourceY[y] = partOf(y, shown.height(), h);
  std::vector<int> patchColumn(static_cast<size_t>(w));
  std::vector<int> patchRow(static_cast<size_t>(h));
  for (int x = 0; x < w; ++x) patchColumn[x] = partOf(x, w, columns);
  for (int y = 0; y < h; ++y) patchRow[y] = partOf(y, h, rows);
  // Each score's colour once, not once per screen pixel.
  std::vector<QColor> colors(static_cast<size_t>(rows) * columns);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) colors[r * columns + c] = m_scale.color(m_data.scores(r, c));
  }
  QImage blended(shown, QImage::Format_RGB32);
  for (int y = 0; y < shown.height(); ++y) {
    const int sy = sourceY[y];
    const auto* source = reinterpret_cast<const QRgb*>(m_opaque.constScanLine(sy));
    auto* line = reinterpret_cast<QRgb*>(blended.scanLine(y));
    for (int x = 0; x < shown.width(); ++x) {
      const int sx = sourceX[x];
      const int r = patchRow[sy];
      const int c = patchColumn[sx];
      line[x] = std::isnan(m_data.scores(r, c))
                    ? source[sx]
                    : mix(source[sx], colors[r * columns + c], m_opacity);
    }
  }
  painter.setRenderHint(QPainter::Antialiasing, false);
  painter.drawImage(g.image.topLeft(), blended);
  if (m_data.gridLines && m_data.grid == AttributionGrid::Patches) {
    const QColor line(0, 0, 0, 110);
    for (int c = 1; c < columns; ++c) {
      const int x = g.image.left() + displayStart(partStart(c, w, columns), w, shown.width());
      paint::verticalHairline(painter, x, g.image.top(), g.image.top() + shown.height(), line);
    }
    for (int r = 1; r < rows; ++r) {
      const int y = g.image.top() + displayStart(partStart(r, h, rows), h, shown.height());
      paint::horizontalHairline(painter, g.image.left(), g.image.left() + shown.width(), y, line);
    }
  }
  paint::frameOutside(painter, g.image, paint::axisColor());

  // Legend: the scale's gradient (max at the top) with its ends and centre labelled.
  const QRect& bar = g.legendBar;
  const double barBottom = bar.top() + bar.height();
  QLinearGradient gradient(QPointF(0, barBottom), QPointF(0, bar.top()));
  const std::vector<QColor>& anchors = ColorScale::anchors(m_scale.kind());
  for (size_t k = 0; k < anchors.size(); ++k) {
    const double value =
        m_scale.valueAtPosition(static_cast<double>(k) / static_cast<double>(anchors.size() - 1));
    gradient.setColorAt((value - m_scale.min()) / (m_scale.max() - m_scale.min()), anchors[k]);
  }
  painter.fillRect(bar, gradient);
  paint::frameOutside(painter, bar, paint::axisColor());
  painter.setRenderHint(QPainter::Antialiasing, true);
  const double lh = g.lineHeight;
  for (double value : {m_scale.max(), m_scale.centre(), m_scale.min()}) {
    const double y = barBottom - m_scale.position(value) * bar.height();
    const double barRight = bar.left() + bar.width();
    paint::horizontalHairline(painter, barRight, barRight + 1 + kTickLength, std::min(y, barBottom),
                              paint::axisColor());
    painter.setPen(paint::textColor());
    painter.drawText(QRectF(g.legendTextLeft, y - lh / 2, g.legendTextWidth + kGap, lh),
                     Qt::AlignLeft | Qt::AlignVCenter, QString::fromStdString(formatValue(value)));
  }
  paint::drawVerticalText(painter, g.legendNameRect.center(), g.legendNameRect.height(),
                          scoreName(), true);
  painter.restore();
}

QRect ImageAttributionView::imageRect(const QRect& bounds) const {
  return geometryFor(bounds).image;
}

QRect ImageAttributionView::legendBarRect(const QRect& bounds) const {
  return geometryFor(bounds).legendBar;
}

QRect ImageAttributionView::patchPixels(int row, int column) const {
  const int rows = static_cast<int>(m_data.scores.rows());
  const int columns = static_cast<int>(m_data.scores.cols());
  if (m_opaque.isNull() || row < 0 || column < 0 || row >= rows || column >= columns) return {};
  const int w = m_opaque.width();
  const int h = m_opaque.height();
  const int x0 = partStart(column, w, columns);
  const int y0 = partStart(row, h, rows);
  return QRect(QPoint(x0, y0),
               QPoint(partStart(column + 1, w, columns) - 1, partStart(row + 1, h, rows) - 1));
}

std::pair<int, int> ImageAttributionView::patchOf(int x, int y) const {
  if (m_opaque.isNull()) return {-1, -1};
  return {partOf(std::clamp(y, 0, m_opaque.height() - 1), m_opaque.height(),
                 static_cast<int>(m_data.scores.rows())),
          partOf(std::clamp(x, 0, m_opaque.width() - 1), m_opaque.width(),
                 static_cast<int>(m_data.scores.cols()))};
}

QRect ImageAttributionView::patchRect(int row, int column, const QRect& bounds) const {
  const QRect pixels = patchPixels(row, column);
  if (pixels.isEmpty()) return {};
  const QRect image = imageRect(bounds);
  const int w = m_opaque.width();
  const int h = m_opaque.height();
  const int x0 = displayStart(pixels.left(), w, image.width());
  const int x1 = displayStart(pixels.left() + pixels.width(), w, image.width());
  const int y0 = displayStart(pixels.top(), h, image.height());
  const int y1 = displayStart(pixels.top() + pixels.height(), h, image.height());
  return QRect(image.left() + x0, image.top() + y0, x1 - x0, y1 - y0);
}

QColor ImageAttributionView::blendedColor(int x, int y) const {
  if (m_opaque.isNull()) return {};
  const QRgb under = m_opaque.pixel(std::clamp(x, 0, m_opaque.width() - 1),
                                    std::clamp(y, 0, m_opaque.height() - 1));
  const auto [row, column] = patchOf(x, y);
  const double score = m_data.scores(row, column);
  return QColor(std::isnan(score) ? under : mix(under, m_scale.color(score), m_opacity));
}

QString ImageAttributionView::toolTipAt(const QPoint& point) const {
  const QRect image = imageRect(canvasRect());
  if (image.isEmpty() || !image.contains(point)) return {};
  const int x = partOf(point.x() - image.left(), image.width(), m_opaque.width());
  const int y = partOf(point.y() - image.top(), image.height(), m_opaque.height());
  const auto [row, column] = patchOf(x, y);
  const QString where = m_data.grid == AttributionGrid::Pixels
                            ? QStringLiteral("pixel (x %1, y %2)").arg(x).arg(y)
                            : QStringLiteral("patch (row %1, column %2)\npixel (x %3, y %4)")
                                  .arg(row)
                                  .arg(column)
                                  .arg(x)
                                  .arg(y);
  return QStringLiteral("%1\n%2: %3")
      .arg(where, scoreName(), QString::fromStdString(formatValue(m_data.scores(row, column))));
}

QSize ImageAttributionView::sizeHint() const { return QSize(480, 440); }
QSize ImageAttributionView::minimumSizeHint() const { return QSize(200, 160); }

bool ImageAttributionView::event(QEvent* event) {
  return paint::handleToolTip(*this, event,
                              [this](const QPoint& point) { return toolTipAt(point); }) ||
         QWidget::event(event);
}

void ImageAttributionView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  if (m_controlsVisible) {
    painter.fillRect(QRect(0, height() - kControlsHeight, width(), kControlsHeight),
                     paint::backgroundColor());
  }
  paint(painter, canvasRect());
}

void ImageAttributionView::resizeEvent(QResizeEvent* event) {
  placeControls();
  QWidget::resizeEvent(event);
}

}  // namespace cs::viewers
