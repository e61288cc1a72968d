// Bar and line chart painting. One geometry function lays out title, legend, axes and plot area
// for a given rectangle; paint(), the coordinate queries and the tooltips all use it.
#include "viewers/chart_view.h"

#include <QLineF>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "viewers/axis_ticks.h"
#include "viewers/paint_helpers.h"

namespace cs::viewers {
namespace {

constexpr int kMargin = 8;
constexpr int kGap = 4;
constexpr int kTickLength = 4;
constexpr int kYTickTarget = 5;
constexpr double kGroupFill = 0.8;     // share of a category's slot that its bars fill
constexpr double kXPadding = 0.03;     // numeric x axes extend this share beyond the data
constexpr double kMarkerRadius = 4.0;  // line chart markers
constexpr double kSwatchSize = 10.0;   // legend

std::string chartName(const ChartData& data) {
  const std::string kind = data.kind == ChartKind::Bar ? "bar chart" : "line chart";
  return data.title.empty() ? kind : kind + " '" + data.title + "'";
}

// The part of segment a-b inside `rect` (Liang-Barsky), if any. The views clip by geometry, not
// with QPainter::setClipRect, which Qt 6.4's SVG generator does not write.
std::optional<QLineF> clipSegment(const QPointF& a, const QPointF& b, const QRectF& rect) {
  const QPointF d = b - a;
  const double p[4] = {-d.x(), d.x(), -d.y(), d.y()};
  const double q[4] = {a.x() - rect.left(), rect.right() - a.x(), a.y() - rect.top(),
                       rect.bottom() - a.y()};
  double t0 = 0.0;
  double t1 = 1.0;
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0.0) {
      if (q[i] < 0.0) return std::nullopt;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0.0) {
      if (t > t1) return std::nullopt;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return std::nullopt;
      t1 = std::min(t1, t);
    }
  }
  // Unclipped ends stay exact, so that consecutive segments join into one path.
  return QLineF(t0 == 0.0 ? a : a + d * t0, t1 == 1.0 ? b : a + d * t1);
}

std::string numberText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

QString seriesName(const ChartData& data, size_t index) {
  const std::string& name = data.series[index].name;
  return name.empty() ? QStringLiteral("series %1").arg(index + 1) : paint::displayLabel(name);
}

}  // namespace

struct ChartView::Geometry {
  struct LegendEntry {
    QRectF swatch;
    QRectF text;
    QString name;
    QColor color;
  };

  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  QFont valueFont;
  double lineHeight = 0.0;
  QRectF titleRect;
  QRectF messageRect;
  std::vector<LegendEntry> legend;
  QRectF plot;
  AxisTicks yTicks;
  double xMin = 0.0;
  double xMax = 1.0;
  AxisTicks xTicks;  // numeric x axes only
  bool xLabelsVertical = false;
  double xLabelExtent = 0.0;
  int xStep = 1;
  double yLabelWidth = 0.0;
  QRectF xTitleRect;
  QRectF yTitleRect;

  double mapX(double x) const { return plot.left() + (x - xMin) / (xMax - xMin) * plot.width(); }
  double mapY(double y) const {
    return plot.bottom() - (y - yTicks.min) / (yTicks.max - yTicks.min) * plot.height();
  }
};

ChartView::ChartView(QWidget* parent) : QWidget(parent) { setAttribute(Qt::WA_OpaquePaintEvent); }

void ChartView::validate(const ChartData& data) {
  const std::string name = chartName(data);
  if (data.kind == ChartKind::Bar && !data.x.empty()) {
    throw ConfigError(name +
                      ": has x values, but bars stand on categories; give categories "
                      "(x values are for line charts)");
  }
  if (data.kind == ChartKind::Line && !data.x.empty() && !data.categories.empty()) {
    throw ConfigError(name + ": has both x values and categories; give one of them");
  }
  const bool numeric = data.kind == ChartKind::Line && !data.x.empty();
  const size_t count = numeric ? data.x.size() : data.categories.size();
  const std::string unit = numeric ? "x values" : "categories";
  for (size_t i = 0; i < data.x.size(); ++i) {
    if (!std::isfinite(data.x[i])) {
      throw ConfigError(name + ": x value #" + std::to_string(i) + " (" + numberText(data.x[i]) +
                        ") is not finite; x values must be finite numbers");
    }
  }
  for (size_t s = 0; s < data.series.size(); ++s) {
    const ChartSeries& series = data.series[s];
    const std::string label =
        "series '" + (series.name.empty() ? std::to_string(s + 1) : series.name) + "'";
    if (series.values.size() != count) {
      throw ConfigError(name + ": " + label + " has " + std::to_string(series.values.size()) +
                        " values for " + std::to_string(count) + " " + unit +
                        "; give one value per " + (numeric ? "x value" : "category"));
    }
    for (size_t i = 0; i < series.values.size(); ++i) {
      if (std::isinf(series.values[i])) {
        throw ConfigError(name + ": " + label + " value #" + std::to_string(i) +
                          " is infinite; use NaN for a missing value");
      }
    }
  }
  for (const auto& [end, what] :
       {std::pair{data.yMin, "minimum"}, std::pair{data.yMax, "maximum"}}) {
    if (end && !std::isfinite(*end)) {
      throw ConfigError(name + ": the fixed y " + what + " " + numberText(*end) +
                        " is not finite; give a finite value or leave it unset");
    }
  }
  if (data.yMin && data.yMax && !(*data.yMin < *data.yMax)) {
    throw ConfigError(name + ": the fixed y range [" + numberText(*data.yMin) + ", " +
                      numberText(*data.yMax) + "] is empty; the minimum must be below the maximum");
  }
}

void ChartView::setData(ChartData data) {
  validate(data);
  m_data = std::move(data);
  update();
}

bool ChartView::categorical() const { return m_data.kind == ChartKind::Bar || m_data.x.empty(); }

int ChartView::pointCount() const {
  return static_cast<int>(categorical() ? m_data.categories.size() : m_data.x.size());
}

double ChartView::xAt(int index) const {
  return categorical() ? static_cast<double>(index) : m_data.x[static_cast<size_t>(index)];
}

std::pair<double, double> ChartView::yRange() const {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const ChartSeries& series : m_data.series) {
    for (double v : series.values) {
      if (std::isnan(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) {
    lo = 0.0;
    hi = 1.0;
  }
  if (m_data.kind == ChartKind::Bar) {  // bars stand on zero
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (m_data.yMin && m_data.yMax) return {*m_data.yMin, *m_data.yMax};
  if (m_data.yMin) {
    const double from = *m_data.yMin;
    const double to = hi > from ? hi : from + std::max(1.0, std::abs(from) * 0.5);
    return {from, niceAxis(from, to, kYTickTarget).max};
  }
  if (m_data.yMax) {
    const double to = *m_data.yMax;
    const double from = lo < to ? lo : to - std::max(1.0, std::abs(to) * 0.5);
    return {niceAxis(from, to, kYTickTarget).min, to};
  }
  const AxisTicks nice = niceAxis(lo, hi, kYTickTarget);
  return {nice.min, nice.max};
}

ChartView::Geometry ChartView::geometryFor(const QRect& bounds) const {
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
  const int count = pointCount();
  if (m_data.series.empty() || count == 0) {
    g.messageRect = QRectF(left, top, right - left, std::max(0.0, bottom - top));
    return g;
  }
  g.empty = false;

  if (m_data.series.size() > 1) {
    double x = left;
    double y = top;
    for (size_t s = 0; s < m_data.series.size(); ++s) {
      const QString name = seriesName(m_data, s);
      const double textWidth = metrics.horizontalAdvance(name) + 1;
      const double width = kSwatchSize + kGap + textWidth;
      if (x + width > right && x > left) {
        x = left;
        y += lh + 2;
      }
      g.legend.push_back({QRectF(x, y + (lh - kSwatchSize) / 2, kSwatchSize, kSwatchSize),
                          QRectF(x + kSwatchSize + kGap, y, textWidth, lh), name,
                          paint::seriesColor(static_cast<int>(s))});
      x += width + 16;
    }
    top = y + lh + 6;
  }

  const auto [yLo, yHi] = yRange();
  g.yTicks = ticksWithin(yLo, yHi, kYTickTarget);
  for (double v : g.yTicks.values) {
    g.yLabelWidth = std::max(
        g.yLabelWidth,
        metrics.horizontalAdvance(QString::fromStdString(formatTick(v, g.yTicks.decimals))));
  }
  if (!m_data.yTitle.empty()) {
    g.yTitleRect = QRectF(left, 0.0, lh, 0.0);  // vertical extent set once the plot is known
    left += lh + kGap;
  }
  left += g.yLabelWidth + kGap + kTickLength;
  right -= 12;    // room for half of the last x label
  top += lh / 2;  // room for half of the top y label
  if (!m_data.xTitle.empty()) {
    bottom -= lh;
    g.xTitleRect = QRectF(0.0, bottom, 0.0, lh);  // horizontal extent set once the plot is known
    bottom -= kGap;
  }

  const double plotWidth = std::max(1.0, right - left);
  if (categorical()) {
    g.xMin = -0.5;
    g.xMax = count - 0.5;
    const double slot = plotWidth / count;
    double widest = 0.0;
    for (const std::string& label : m_data.categories) {
      widest = std::max(widest, metrics.horizontalAdvance(paint::displayLabel(label)));
    }
    if (widest <= slot - 4) {
      g.xLabelExtent = lh;
    } else {
      g.xLabelsVertical = true;
      g.xLabelExtent = std::min(widest, std::max(30.0, 0.3 * (bottom - top)));
      g.xStep = paint::labelStep(slot, lh);
    }
  } else {
    const auto [lo, hi] = std::minmax_element(m_data.x.begin(), m_data.x.end());
    double xLo = *lo;
    double xHi = *hi;
    if (xLo == xHi) {
      xLo -= 0.5;
      xHi += 0.5;
    }
    const double pad = (xHi - xLo) * kXPadding;
    g.xMin = xLo - pad;
    g.xMax = xHi + pad;
    // As many ticks as fit with their labels a little apart.
    for (int target = std::clamp(static_cast<int>(plotWidth / 70), 2, 10); target >= 1; --target) {
      g.xTicks = ticksWithin(g.xMin, g.xMax, target);
      double widest = 0.0;
      for (double v : g.xTicks.values) {
        widest = std::max(widest, metrics.horizontalAdvance(
                                      QString::fromStdString(formatTick(v, g.xTicks.decimals))));
      }
      if (widest + 12 <= g.xTicks.step / (g.xMax - g.xMin) * plotWidth) break;
    }
    g.xLabelExtent = lh;
  }
  bottom -= kTickLength + kGap + g.xLabelExtent;

  const double plotLeft = std::round(left);
  const double plotTop = std::round(top);
  g.plot = QRectF(plotLeft, plotTop, std::max(1.0, std::round(right) - plotLeft),
                  std::max(1.0, std::round(bottom) - plotTop));
  if (!m_data.yTitle.empty())
    g.yTitleRect = QRectF(g.yTitleRect.left(), g.plot.top(), lh, g.plot.height());
  if (!m_data.xTitle.empty())
    g.xTitleRect = QRectF(g.plot.left(), g.xTitleRect.top(), g.plot.width(), lh);
  return g;
}

void ChartView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }
  const double lh = g.lineHeight;
  const QRectF& plot = g.plot;
  const int count = pointCount();
  const QFontMetricsF metrics(g.labelFont);

  // Grid lines and the y axis's ticks and labels.
  painter.setRenderHint(QPainter::Antialiasing, false);
  for (double v : g.yTicks.values) {
    const double y = g.mapY(v);
    paint::horizontalHairline(painter, plot.left(), plot.right(), y, paint::gridColor());
    paint::horizontalHairline(painter, plot.left() - 1 - kTickLength, plot.left(), y,
                              paint::axisColor());
    painter.setPen(paint::textColor());
    painter.drawText(
        QRectF(plot.left() - kTickLength - kGap - g.yLabelWidth, y - lh / 2, g.yLabelWidth, lh),
        Qt::AlignRight | Qt::AlignVCenter,
        QString::fromStdString(formatTick(v, g.yTicks.decimals)));
  }

  // The x axis's ticks and labels.
  const double labelTop = plot.bottom() + kTickLength + kGap;
  if (categorical()) {
    const double slot = plot.width() / count;
    for (int c = 0; c < count; c += g.xStep) {
      const double x = g.mapX(c);
      paint::verticalHairline(painter, x, plot.bottom(), plot.bottom() + 1 + kTickLength,
                              paint::axisColor());
      painter.setPen(paint::textColor());
      const double room = g.xLabelsVertical ? g.xLabelExtent : slot;
      const QString text = metrics.elidedText(
          paint::displayLabel(m_data.categories[static_cast<size_t>(c)]), Qt::ElideRight, room);
      if (g.xLabelsVertical) {
        paint::drawVerticalText(painter, QPointF(x, labelTop), room, text, false);
      } else {
        painter.drawText(QRectF(x - slot / 2, labelTop, slot, lh), Qt::AlignCenter, text);
      }
    }
  } else {
    for (double v : g.xTicks.values) {
      const double x = g.mapX(v);
      paint::verticalHairline(painter, std::min(x, plot.right() - 1), plot.bottom(),
                              plot.bottom() + 1 + kTickLength, paint::axisColor());
      painter.setPen(paint::textColor());
      painter.drawText(QRectF(x - 60, labelTop, 120, lh), Qt::AlignCenter,
                       QString::fromStdString(formatTick(v, g.xTicks.decimals)));
    }
  }
  // Axes in the pixel row just below the plot and the column just left of it.
  paint::horizontalHairline(painter, plot.left() - 1, plot.right(), plot.bottom(),
                            paint::axisColor());
  paint::verticalHairline(painter, plot.left() - 1, plot.top(), plot.bottom(), paint::axisColor());

  // The data.
  if (m_data.kind == ChartKind::Bar) {
    for (size_t s = 0; s < m_data.series.size(); ++s) {
      for (int c = 0; c < count; ++c) {
        const QRectF bar = barRectIn(g, static_cast<int>(s), c).intersected(plot);
        if (!bar.isEmpty()) painter.fillRect(bar, paint::seriesColor(static_cast<int>(s)));
      }
    }
    const double baseline = g.mapY(std::clamp(0.0, g.yTicks.min, g.yTicks.max));
    if (baseline < plot.bottom() - 0.5) {
      paint::horizontalHairline(painter, plot.left(), plot.right(), baseline, paint::axisColor());
    }
    // Value labels above positive bars and below negative ones, inside the bar where the plot
    // ends; left out where a label is wider than its bar.
    painter.setRenderHint(QPainter::Antialiasing, true);
    painter.setFont(g.valueFont);
    const QFontMetricsF valueMetrics(g.valueFont);
    const double valueHeight = valueMetrics.height();
    for (size_t s = 0; s < m_data.series.size(); ++s) {
      for (int c = 0; c < count; ++c) {
        const double v = m_data.series[s].values[static_cast<size_t>(c)];
        if (std::isnan(v)) continue;
        const QRectF bar = barRectIn(g, static_cast<int>(s), c).intersected(plot);
        const QString text = QString::fromStdString(formatValue(v));
        const double width = valueMetrics.horizontalAdvance(text) + 2;
        if (width > bar.width() + 2) continue;
        QRectF box(bar.center().x() - width / 2, 0.0, width, valueHeight);
        QColor color = paint::textColor();
        if (v >= 0) {
          box.moveBottom(bar.top() - 1);
          if (box.top() < plot.top()) {
            box.moveTop(bar.top() + 1);
            color = paint::textColorOn(paint::seriesColor(static_cast<int>(s)));
          }
        } else {
          box.moveTop(bar.bottom() + 1);
          if (box.bottom() > plot.bottom()) {
            box.moveBottom(bar.bottom() - 1);
            color = paint::textColorOn(paint::seriesColor(static_cast<int>(s)));
          }
        }
        painter.setPen(color);
        painter.drawText(box, Qt::AlignCenter, text);
      }
    }
    painter.setFont(g.labelFont);
  } else {
    painter.save();
    painter.setRenderHint(QPainter::Antialiasing, true);
    // Markers where points are a few marker widths apart; a dense curve (a loss over thousands
    // of steps) reads better as a bare line.
    const bool markersShown = count <= plot.width() / (3 * kMarkerRadius);
    for (size_t s = 0; s < m_data.series.size(); ++s) {
      const QColor color = paint::seriesColor(static_cast<int>(s));
      QPainterPath path;
      std::vector<QPointF> markers;
      QPointF previous;
      bool joined = false;  // false at the start and after a gap
      for (int i = 0; i < count; ++i) {
        const double v = m_data.series[s].values[static_cast<size_t>(i)];
        if (std::isnan(v)) {
          joined = false;
          continue;
        }
        const QPointF point(g.mapX(xAt(i)), g.mapY(v));
        if (joined) {
          if (const auto segment = clipSegment(previous, point, plot)) {
            if (path.elementCount() == 0 || path.currentPosition() != segment->p1()) {
              path.moveTo(segment->p1());
            }
            path.lineTo(segment->p2());
          }
        }
        if (plot.adjusted(-0.5, -0.5, 0.5, 0.5).contains(point)) markers.push_back(point);
        previous = point;
        joined = true;
      }
      painter.setPen(QPen(color, 2.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
      painter.setBrush(Qt::NoBrush);
      painter.drawPath(path);
      if (!markersShown) continue;
      painter.setPen(Qt::NoPen);
      painter.setBrush(color);
      for (const QPointF& point : markers) painter.drawEllipse(point, kMarkerRadius, kMarkerRadius);
    }
    painter.restore();
  }

  // Legend and axis titles.
  painter.setRenderHint(QPainter::Antialiasing, true);
  for (const Geometry::LegendEntry& entry : g.legend) {
    painter.fillRect(entry.swatch, entry.color);
    painter.setPen(paint::textColor());
    painter.drawText(entry.text, Qt::AlignLeft | Qt::AlignVCenter, entry.name);
  }
  painter.setPen(paint::textColor());
  if (!m_data.yTitle.empty()) {
    paint::drawVerticalText(painter, g.yTitleRect.center(), g.yTitleRect.height(),
                            QString::fromStdString(m_data.yTitle), true);
  }
  if (!m_data.xTitle.empty()) {
    painter.drawText(g.xTitleRect, Qt::AlignCenter, QString::fromStdString(m_data.xTitle));
  }
  painter.restore();
}

QRectF ChartView::plotRect(const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  return g.empty ? QRectF() : g.plot;
}

QPointF ChartView::valueToPixel(double x, double y, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (g.empty) return {};
  return QPointF(g.mapX(x), g.mapY(y));
}

QRectF ChartView::barRect(int series, int category, const QRect& bounds) const {
  return barRectIn(geometryFor(bounds), series, category);
}

QRectF ChartView::barRectIn(const Geometry& g, int series, int category) const {
  if (g.empty || m_data.kind != ChartKind::Bar || series < 0 || category < 0 ||
      series >= static_cast<int>(m_data.series.size()) || category >= pointCount()) {
    return {};
  }
  const double v = m_data.series[static_cast<size_t>(series)].values[static_cast<size_t>(category)];
  if (std::isnan(v)) return {};
  const double slot = g.plot.width() / pointCount();
  const double groupWidth = slot * kGroupFill;
  const double barWidth = groupWidth / static_cast<double>(m_data.series.size());
  const double left = g.plot.left() + slot * category + (slot - groupWidth) / 2 + barWidth * series;
  const double base = g.mapY(std::clamp(0.0, g.yTicks.min, g.yTicks.max));
  const double end = g.mapY(v);
  return QRectF(QPointF(left, std::min(base, end)), QPointF(left + barWidth, std::max(base, end)));
}

QString ChartView::toolTipAt(const QPoint& point) const {
  const Geometry g = geometryFor(rect());
  if (g.empty) return {};
  const int count = pointCount();
  const auto describe = [&](size_t s, int i) {
    const QString where =
        categorical() ? paint::displayLabel(m_data.categories[static_cast<size_t>(i)])
                      : QStringLiteral("x = %1").arg(
                            QString::fromStdString(formatValue(m_data.x[static_cast<size_t>(i)])));
    const QString value = QString::fromStdString(formatValue(m_data.series[s].values[i]));
    QString text = QStringLiteral("%1: %2").arg(where, value);
    if (m_data.series.size() > 1 || !m_data.series[s].name.empty()) {
      text.prepend(seriesName(m_data, s) + QLatin1Char('\n'));
    }
    return text;
  };
  if (m_data.kind == ChartKind::Bar) {
    for (size_t s = 0; s < m_data.series.size(); ++s) {
      for (int c = 0; c < count; ++c) {
        if (barRectIn(g, static_cast<int>(s), c).contains(point)) return describe(s, c);
      }
    }
    return {};
  }
  double best = (kMarkerRadius + 4) * (kMarkerRadius + 4);
  QString text;
  for (size_t s = 0; s < m_data.series.size(); ++s) {
    for (int i = 0; i < count; ++i) {
      const double v = m_data.series[s].values[static_cast<size_t>(i)];
      if (std::isnan(v)) continue;
      const QPointF d = QPointF(g.mapX(xAt(i)), g.mapY(v)) - QPointF(point);
      const double distance = d.x() * d.x() + d.y() * d.y();
      if (distance <= best) {
        best = distance;
        text = describe(s, i);
      }
    }
  }
  return text;
}

QSize ChartView::sizeHint() const { return QSize(560, 360); }
QSize ChartView::minimumSizeHint() const { return QSize(160, 120); }

bool ChartView::event(QEvent* event) {
  return paint::handleToolTip(*this, event,
                              [this](const QPoint& point) { return toolTipAt(point); }) ||
         QWidget::event(event);
}

void ChartView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

}  // namespace cs::viewers
