// Heatmap painting. One geometry function lays out title, labels, grid and legend for a given
// rectangle; paint() and the hit tests both use it, so what is hovered is what is drawn. Cells are
// coloured once per setData (cellImage) and spread over the grid's pixels once per size.
#include "viewers/heatmap_view.h"

#include <QImage>
#include <QLinearGradient>
#include <QMouseEvent>
#include <QPaintEngine>
#include <QPainter>

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
// Up to this many cells an SVG gets one rectangle per cell (crisp at any zoom), above it one
// image: SVG files spend about 200 bytes per rectangle. Annotations stop here too: beyond it no
// cell has room for a number.
constexpr Eigen::Index kMaxVectorCells = 4096;

std::string heatmapName(const HeatmapData& data) {
  return data.title.empty() ? std::string("heatmap") : "heatmap '" + data.title + "'";
}

std::vector<int> edges(int start, int length, Eigen::Index count) {
  std::vector<int> result(static_cast<size_t>(count) + 1);
  for (Eigen::Index i = 0; i <= count; ++i) {
    result[static_cast<size_t>(i)] =
        start + static_cast<int>(std::lround(static_cast<double>(length) * static_cast<double>(i) /
                                             static_cast<double>(count)));
  }
  return result;
}

// For each of `length` pixels, the cell among `count` whose edges (see edges()) hold it.
std::vector<int> cellOfPixel(int length, Eigen::Index count) {
  const std::vector<int> cellEdges = edges(0, length, count);
  std::vector<int> cells(static_cast<size_t>(length));
  for (int p = 0; p < length; ++p) {
    cells[static_cast<size_t>(p)] = static_cast<int>(
        std::upper_bound(cellEdges.begin(), cellEdges.end(), p) - cellEdges.begin() - 1);
  }
  return cells;
}

QImage cellImageFor(const Eigen::MatrixXd& values, const ColorScale& scale) {
  if (values.size() == 0) return {};
  QImage image(static_cast<int>(values.cols()), static_cast<int>(values.rows()),
               QImage::Format_RGB32);
  for (int r = 0; r < image.height(); ++r) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(r));
    for (int c = 0; c < image.width(); ++c) line[c] = scale.color(values(r, c)).rgb();
  }
  return image;
}

struct LegendLabel {
  double value;
  QString text;
};

}  // namespace

struct HeatmapView::Geometry {
  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  QFont valueFont;
  double lineHeight = 0.0;
  QRectF titleRect;
  QRectF messageRect;  // "no data"
  QRect grid;
  std::vector<int> xEdges;  // columns + 1
  std::vector<int> yEdges;  // rows + 1
  double rowLabelWidth = 0.0;
  int rowStep = 1;
  bool columnLabelsVertical = false;
  double columnLabelExtent = 0.0;
  int columnStep = 1;
  QRectF rowTitleRect;
  QRectF columnTitleRect;
  QRect legendBar;
  std::vector<LegendLabel> legendLabels;  // ends first, then interior ticks
};

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
}

void HeatmapView::validate(const HeatmapData& data) {
  const auto rows = static_cast<size_t>(data.values.rows());
  const auto columns = static_cast<size_t>(data.values.cols());
  if (!data.rowLabels.empty() && data.rowLabels.size() != rows) {
    throw ConfigError(heatmapName(data) + ": " + std::to_string(data.rowLabels.size()) +
                      " row labels for a matrix with " + std::to_string(rows) +
                      " rows; give one label per row or none");
  }
  if (!data.columnLabels.empty() && data.columnLabels.size() != columns) {
    throw ConfigError(heatmapName(data) + ": " + std::to_string(data.columnLabels.size()) +
                      " column labels for a matrix with " + std::to_string(columns) +
                      " columns; give one label per column or none");
  }
  try {
    ColorScale::fitted(data.scale, 0.0, 1.0, data.min, data.max);
  } catch (const ConfigError& e) {
    throw ConfigError(heatmapName(data) + ": " + e.what());
  }
}

void HeatmapView::setData(HeatmapData data) {
  validate(data);
  const auto [lo, hi] = finiteRange(data.values);
  m_scale = ColorScale::fitted(data.scale, lo, hi, data.min, data.max);
  m_data = std::move(data);
  m_cells = cellImageFor(m_data.values, m_scale);
  m_gridImage = QImage();
  m_labelWidths.reset();
  update();
}

QString HeatmapView::rowLabel(int row) const {
  if (m_data.rowLabels.empty()) return QString::number(row);
  return paint::displayLabel(m_data.rowLabels[static_cast<size_t>(row)]);
}

QString HeatmapView::columnLabel(int column) const {
  if (m_data.columnLabels.empty()) return QString::number(column);
  return paint::displayLabel(m_data.columnLabels[static_cast<size_t>(column)]);
}

HeatmapView::Geometry HeatmapView::geometryFor(const QRect& bounds) const {
  Geometry g;
  const auto frame = paint::frameFor(font(), bounds, !m_data.title.empty(), kMargin);
  g.titleFont = frame.titleFont;
  g.labelFont = frame.labelFont;
  g.valueFont = frame.valueFont;
  g.lineHeight = frame.lineHeight;
  g.titleRect = frame.titleRect;
  const QFontMetricsF metrics(g.labelFont);
  const double lh = g.lineHeight;
  double left = frame.left, right = frame.right, top = frame.top, bottom = frame.bottom;
  const Eigen::Index rows = m_data.values.rows();
  const Eigen::Index columns = m_data.values.cols();
  if (rows == 0 || columns == 0) {
    g.messageRect = QRectF(left, top, right - left, std::max(0.0, bottom - top));
    return g;
  }
  g.empty = false;

  // Legend on the right: a colour bar with its exact ends labelled and round ticks between.
  const AxisTicks ticks = ticksWithin(
      m_scale.min(), m_scale.max(), std::clamp(static_cast<int>((bottom - top) / (3 * lh)), 2, 8));
  // An end that falls on a tick reads like the ticks ("1.00" beside "0.75"), else it shows its
  // value to three significant digits.
  const auto endText = [&](double value) {
    const double k = value / ticks.step;
    return QString::fromStdString(std::abs(k - std::round(k)) < 1e-9
                                      ? formatTick(value, ticks.decimals)
                                      : formatValue(value));
  };
  g.legendLabels.push_back({m_scale.max(), endText(m_scale.max())});
  g.legendLabels.push_back({m_scale.min(), endText(m_scale.min())});
  for (double t : ticks.values) {
    g.legendLabels.push_back({t, QString::fromStdString(formatTick(t, ticks.decimals))});
  }
  double legendTextWidth = 0.0;
  for (const LegendLabel& label : g.legendLabels) {
    legendTextWidth = std::max(legendTextWidth, metrics.horizontalAdvance(label.text));
  }
  right -= kLegendGap + kLegendBarWidth + kTickLength + kGap + legendTextWidth;

  if (!m_data.rowTitle.empty()) {
    g.rowTitleRect = QRectF(left, top, lh, 0.0);  // height set once the grid is known
    left += lh + kGap;
  }
  const auto [rowLabelWidth, columnLabelWidth] = labelWidths(g.labelFont);
  g.rowLabelWidth = std::min(rowLabelWidth, std::max(40.0, 0.25 * (right - left)));
  left += g.rowLabelWidth + kGap;

  if (!m_data.columnTitle.empty()) {
    bottom -= lh;
    g.columnTitleRect = QRectF(left, bottom, 0.0, lh);  // width set once the grid is known
    bottom -= kGap;
  }
  const double cellWidth = (right - left) / static_cast<double>(columns);
  if (columnLabelWidth <= cellWidth - 2) {
    g.columnLabelsVertical = false;
    g.columnLabelExtent = lh;
    g.columnStep = 1;
  } else {
    g.columnLabelsVertical = true;
    g.columnLabelExtent = std::min(columnLabelWidth, std::max(30.0, 0.3 * (bottom - top)));
    g.columnStep = paint::labelStep(cellWidth, lh);
  }
  bottom -= g.columnLabelExtent + kGap;

  const int gridLeft = static_cast<int>(std::lround(left));
  const int gridTop = static_cast<int>(std::lround(top));
  const int gridWidth = std::max(1, static_cast<int>(std::lround(right)) - gridLeft);
  const int gridHeight = std::max(1, static_cast<int>(std::lround(bottom)) - gridTop);
  g.grid = QRect(gridLeft, gridTop, gridWidth, gridHeight);
  g.xEdges = edges(gridLeft, gridWidth, columns);
  g.yEdges = edges(gridTop, gridHeight, rows);
  g.rowStep = paint::labelStep(static_cast<double>(gridHeight) / static_cast<double>(rows), lh);
  if (!m_data.rowTitle.empty()) g.rowTitleRect.setHeight(gridHeight);
  if (!m_data.columnTitle.empty()) g.columnTitleRect.setWidth(gridWidth);
  g.legendBar = QRect(gridLeft + gridWidth + kLegendGap, gridTop, kLegendBarWidth, gridHeight);
  return g;
}

void HeatmapView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }
  const Eigen::Index rows = m_data.values.rows();
  const Eigen::Index columns = m_data.values.cols();
  const double lh = g.lineHeight;
  const QFontMetricsF metrics(g.labelFont);

  // Cells: exact colours, no antialiasing, so that every cell is flat.
  painter.setRenderHint(QPainter::Antialiasing, false);
  const bool vector =
      painter.paintEngine() != nullptr && painter.paintEngine()->type() == QPaintEngine::SVG;
  if (vector && rows * columns <= kMaxVectorCells) {
    // Each cell reaches one pixel into its right and lower neighbours, which are painted over
    // it (the last row and column reach under the frame), so that viewers that antialias shared
    // edges (an SVG at any zoom) show no hairline seams.
    for (Eigen::Index r = 0; r < rows; ++r) {
      for (Eigen::Index c = 0; c < columns; ++c) {
        const int width = g.xEdges[c + 1] - g.xEdges[c];
        const int height = g.yEdges[r + 1] - g.yEdges[r];
        if (width <= 0 || height <= 0) continue;
        painter.fillRect(QRect(g.xEdges[c], g.yEdges[r], width + 1, height + 1),
                         m_scale.color(m_data.values(r, c)));
      }
    }
  } else {
    // The cached cells spread to the grid's device pixels by our own edges rather than by Qt's
    // nearest-neighbour scaling, whose 16.16 fixed-point step puts cell boundaries up to a few
    // pixels away from cellRect() and cellAt() on large cells. An SVG viewer then shows the image
    // at one image pixel per pixel, not smoothed.
    const qreal ratio = vector ? 1.0 : painter.device()->devicePixelRatioF();
    const QSize size(std::max(1, static_cast<int>(std::lround(g.grid.width() * ratio))),
                     std::max(1, static_cast<int>(std::lround(g.grid.height() * ratio))));
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    painter.drawImage(QRectF(g.grid), gridImage(size));
  }
  paint::frameOutside(painter, g.grid, paint::axisColor());

  if (m_data.annotate && rows * columns <= kMaxVectorCells) {
    painter.setFont(g.valueFont);
    const QFontMetricsF valueMetrics(g.valueFont);
    for (Eigen::Index r = 0; r < rows; ++r) {
      for (Eigen::Index c = 0; c < columns; ++c) {
        const QRect cell(QPoint(g.xEdges[c], g.yEdges[r]),
                         QPoint(g.xEdges[c + 1] - 1, g.yEdges[r + 1] - 1));
        const double v = m_data.values(r, c);
        const QString text = QString::fromStdString(formatValue(v));
        if (valueMetrics.horizontalAdvance(text) > cell.width() - 2 ||
            valueMetrics.height() > cell.height()) {
          continue;
        }
        painter.setPen(paint::textColorOn(m_scale.color(v)));
        painter.drawText(cell, Qt::AlignCenter, text);
      }
    }
    painter.setFont(g.labelFont);
  }

  painter.save();
  paintOverlay(painter, bounds);
  painter.restore();

  // Labels.
  painter.setRenderHint(QPainter::Antialiasing, true);
  painter.setRenderHint(QPainter::TextAntialiasing, true);
  painter.setPen(paint::textColor());
  for (Eigen::Index r = 0; r < rows; r += g.rowStep) {
    const double centre = (g.yEdges[r] + g.yEdges[r + 1]) / 2.0;
    const QRectF box(g.grid.left() - kGap - g.rowLabelWidth, centre - lh / 2, g.rowLabelWidth, lh);
    painter.drawText(
        box, Qt::AlignRight | Qt::AlignVCenter,
        metrics.elidedText(rowLabel(static_cast<int>(r)), Qt::ElideRight, g.rowLabelWidth));
  }
  const double labelTop = g.grid.bottom() + 1 + kGap;
  for (Eigen::Index c = 0; c < columns; c += g.columnStep) {
    const double centre = (g.xEdges[c] + g.xEdges[c + 1]) / 2.0;
    const double width = g.xEdges[c + 1] - g.xEdges[c];
    const double room = g.columnLabelsVertical ? g.columnLabelExtent : width;
    const QString text = metrics.elidedText(columnLabel(static_cast<int>(c)), Qt::ElideRight, room);
    if (g.columnLabelsVertical) {
      // Hanging from the grid, reading bottom to top, so the label's end meets its column.
      paint::drawVerticalText(painter, QPointF(centre, labelTop), room, text, false);
    } else {
      painter.drawText(QRectF(centre - width / 2, labelTop, width, lh), Qt::AlignCenter, text);
    }
  }
  if (!m_data.rowTitle.empty()) {
    paint::drawVerticalText(painter, g.rowTitleRect.center(), g.rowTitleRect.height(),
                            QString::fromStdString(m_data.rowTitle), true);
  }
  if (!m_data.columnTitle.empty()) {
    painter.drawText(g.columnTitleRect, Qt::AlignCenter,
                     QString::fromStdString(m_data.columnTitle));
  }

  // Legend: the bar's gradient has a stop at each anchor, placed where that anchor's value falls,
  // so it is the scale itself (a diverging scale's white sits at its centre value).
  const QRect& bar = g.legendBar;
  const double barBottom = bar.top() + bar.height();
  const auto yOf = [&](double value) {
    return barBottom - (value - m_scale.min()) / (m_scale.max() - m_scale.min()) * bar.height();
  };
  QLinearGradient gradient(QPointF(0, barBottom), QPointF(0, bar.top()));
  const std::vector<QColor>& anchors = ColorScale::anchors(m_scale.kind());
  for (size_t k = 0; k < anchors.size(); ++k) {
    const double value =
        m_scale.valueAtPosition(static_cast<double>(k) / static_cast<double>(anchors.size() - 1));
    gradient.setColorAt((value - m_scale.min()) / (m_scale.max() - m_scale.min()), anchors[k]);
  }
  painter.setRenderHint(QPainter::Antialiasing, false);
  painter.fillRect(bar, gradient);
  paint::frameOutside(painter, bar, paint::axisColor());
  painter.setRenderHint(QPainter::Antialiasing, true);
  const double textLeft = bar.left() + bar.width() + kTickLength + kGap;
  const double yMax = yOf(m_scale.max());
  const double yMin = yOf(m_scale.min());
  for (size_t i = 0; i < g.legendLabels.size(); ++i) {
    const LegendLabel& label = g.legendLabels[i];
    const double y = yOf(label.value);
    const bool end = i < 2;
    if (!end && (std::abs(y - yMax) < 1.2 * lh || std::abs(y - yMin) < 1.2 * lh)) continue;
    const double barRight = bar.left() + bar.width();
    paint::horizontalHairline(painter, barRight, barRight + 1 + kTickLength, std::min(y, barBottom),
                              paint::axisColor());
    painter.setPen(paint::textColor());
    painter.drawText(QRectF(textLeft, y - lh / 2, bounds.right() - textLeft, lh),
                     Qt::AlignLeft | Qt::AlignVCenter, label.text);
  }
  painter.restore();
}

void HeatmapView::paintOverlay(QPainter&, const QRect&) const {}

std::pair<double, double> HeatmapView::labelWidths(const QFont& font) const {
  if (m_labelWidths && m_labelWidthsFont == font) return *m_labelWidths;
  const QFontMetricsF metrics(font);
  double rowWidth = 0.0;
  for (Eigen::Index r = 0; r < m_data.values.rows(); ++r) {
    rowWidth = std::max(rowWidth, metrics.horizontalAdvance(rowLabel(static_cast<int>(r))));
  }
  double columnWidth = 0.0;
  for (Eigen::Index c = 0; c < m_data.values.cols(); ++c) {
    columnWidth =
        std::max(columnWidth, metrics.horizontalAdvance(columnLabel(static_cast<int>(c))));
  }
  m_labelWidths = {rowWidth, columnWidth};
  m_labelWidthsFont = font;
  return *m_labelWidths;
}

const QImage& HeatmapView::gridImage(QSize size) const {
  if (m_gridImage.size() == size && m_gridImageSource == m_cells.cacheKey()) return m_gridImage;
  const std::vector<int> columnOf = cellOfPixel(size.width(), m_cells.width());
  const std::vector<int> rowOf = cellOfPixel(size.height(), m_cells.height());
  QImage image(size, QImage::Format_RGB32);
  for (int y = 0; y < size.height(); ++y) {
    const auto* cells = reinterpret_cast<const QRgb*>(m_cells.constScanLine(rowOf[y]));
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(y));
    for (int x = 0; x < size.width(); ++x) line[x] = cells[columnOf[x]];
  }
  m_gridImage = std::move(image);
  m_gridImageSource = m_cells.cacheKey();
  return m_gridImage;
}

QRect HeatmapView::cellRect(int row, int column, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (g.empty || row < 0 || column < 0 || row >= m_data.values.rows() ||
      column >= m_data.values.cols()) {
    return {};
  }
  return QRect(QPoint(g.xEdges[column], g.yEdges[row]),
               QPoint(g.xEdges[column + 1] - 1, g.yEdges[row + 1] - 1));
}

QRect HeatmapView::legendBarRect(const QRect& bounds) const {
  return geometryFor(bounds).legendBar;
}

std::optional<HeatmapCell> HeatmapView::cellAt(const QPoint& point) const {
  const Geometry g = geometryFor(rect());
  if (g.empty || !g.grid.contains(point)) return std::nullopt;
  const auto column =
      std::upper_bound(g.xEdges.begin(), g.xEdges.end(), point.x()) - g.xEdges.begin() - 1;
  const auto row =
      std::upper_bound(g.yEdges.begin(), g.yEdges.end(), point.y()) - g.yEdges.begin() - 1;
  if (row < 0 || column < 0 || row >= m_data.values.rows() || column >= m_data.values.cols()) {
    return std::nullopt;
  }
  return HeatmapCell{static_cast<int>(row), static_cast<int>(column)};
}

QString HeatmapView::toolTipText(int row, int column) const {
  const QString rowTitle =
      m_data.rowTitle.empty() ? QStringLiteral("row") : QString::fromStdString(m_data.rowTitle);
  const QString columnTitle = m_data.columnTitle.empty()
                                  ? QStringLiteral("column")
                                  : QString::fromStdString(m_data.columnTitle);
  const auto labelled = [](int index, const QString& label) {
    const QString number = QString::number(index);
    return label == number ? number : QStringLiteral("%1 (%2)").arg(number, label);
  };
  return QStringLiteral("%1: %2\n%3: %4\nvalue: %5")
      .arg(rowTitle, labelled(row, rowLabel(row)), columnTitle,
           labelled(column, columnLabel(column)),
           QString::fromStdString(formatValue(m_data.values(row, column))));
}

QSize HeatmapView::sizeHint() const { return QSize(560, 440); }
QSize HeatmapView::minimumSizeHint() const { return QSize(160, 120); }

bool HeatmapView::event(QEvent* event) {
  const auto textAt = [this](const QPoint& point) {
    const auto cell = cellAt(point);
    return cell ? toolTipText(cell->row, cell->column) : QString();
  };
  return paint::handleToolTip(*this, event, textAt) || QWidget::event(event);
}

void HeatmapView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

void HeatmapView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (const auto cell = cellAt(event->position().toPoint())) {
      emit cellClicked(cell->row, cell->column);
      return;
    }
  }
  QWidget::mousePressEvent(event);
}

}  // namespace cs::viewers
