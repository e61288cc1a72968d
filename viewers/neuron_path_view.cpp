// Neuron path painting. One geometry function lays out the legend, the neuron axis, the column
// strips and the captions for a given rectangle; paint(), the hit tests and the accessors all use
// it, so what is clicked is what is drawn. Neuron n sits at the same height in every column: rows
// are assigned against the widest layer, and a row that holds several neurons shows (and hands
// to a click) the one with the largest |score|.
#include "viewers/neuron_path_view.h"

#include <QFontMetricsF>
#include <QImage>
#include <QLinearGradient>
#include <QMouseEvent>
#include <QPainter>
#include <QPen>
#include <QPolygonF>

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
constexpr int kLegendItemGap = 16;
constexpr int kLegendBarWidth = 120;
constexpr int kLegendBarHeight = 12;
constexpr int kLegendSample = 30;  // the line sample before a path's name
constexpr int kTickLength = 4;
constexpr int kMarkerRadius = 5;   // the path's filled circle
constexpr int kDiamondRadius = 7;  // the baseline's diamond: larger, so a shared neuron shows both
constexpr int kExtraRadius = 4;    // the rings of top-K neurons after the first
constexpr int kMarkSize = 9;       // the box of a mask cross or an enhance plus
constexpr int kMarkGap = 2;        // between a marker's reach and a mark
constexpr int kHitRadius = 7;      // how near a click must be to a marker to pick its neuron
constexpr int kMinStripWidth = 4;
constexpr int kMaxStripWidth = 24;

std::string viewName(const NeuronPathData& data) {
  return data.title.empty() ? std::string("neuron path view")
                            : "neuron path view '" + data.title + "'";
}

std::string columnName(const NeuronPathData& data, size_t column) {
  std::string name = "column ";
  name += std::to_string(column);
  if (column < data.layerLabels.size()) {
    name += " (";
    name += data.layerLabels[column];
    name += ')';
  }
  return name;
}

// Rows of a strip against the widest layer: neuron n's first row is floor(n * height / width).
// When there are more neurons than rows, each row holds the neurons whose first row it is.
struct RowMap {
  std::int64_t height = 1;  // H, pixel rows for the widest layer
  std::int64_t width = 1;   // W, the widest layer's neuron count

  std::int64_t home(std::int64_t n) const { return n * height / width; }
  std::int64_t end(std::int64_t n) const { return std::max(home(n) + 1, home(n + 1)); }
  std::int64_t centre(std::int64_t n) const { return (home(n) + end(n) - 1) / 2; }
  std::int64_t stripHeight(std::int64_t layerWidth) const { return end(layerWidth - 1); }

  // The neurons [first, last) that row `row` of a layer `layerWidth` wide shows.
  std::pair<std::int64_t, std::int64_t> bin(std::int64_t row, std::int64_t layerWidth) const {
    const std::int64_t first = (row * width + height - 1) / height;
    const std::int64_t last = std::min((((row + 1) * width) + height - 1) / height, layerWidth);
    if (first < last) return {first, last};
    // More rows than neurons: the row lies inside the rows of the neuron that starts above it.
    const std::int64_t covering = std::min(row * width / height, layerWidth - 1);
    return {covering, covering + 1};
  }
};

// The neuron of [first, last) a binned row shows: the largest |score|, so that a lone strong
// neuron stays visible; the first when all are NaN.
std::int64_t representative(const std::vector<double>& scores, std::int64_t first,
                            std::int64_t last) {
  std::int64_t best = first;
  double bestMagnitude = -1.0;
  for (std::int64_t n = first; n < last; ++n) {
    const double v = scores[static_cast<size_t>(n)];
    if (std::isnan(v)) continue;
    if (std::abs(v) > bestMagnitude) {
      bestMagnitude = std::abs(v);
      best = n;
    }
  }
  return best;
}

void checkPath(const NeuronPathData& data, const std::vector<std::vector<std::int64_t>>& path,
               const std::string& name) {
  if (path.empty()) return;
  const size_t columns = data.layerLabels.size();
  if (path.size() != columns) {
    throw ConfigError(viewName(data) + ": the " + name + " has " + std::to_string(path.size()) +
                      " layers but the view has " + std::to_string(columns) +
                      " layer columns; give one entry per column, or none to draw no " + name);
  }
  for (size_t c = 0; c < columns; ++c) {
    if (path[c].empty()) {
      throw ConfigError(viewName(data) + ": the " + name + " has no neuron in " +
                        columnName(data, c) + "; give at least one (the path neuron first)");
    }
    const auto width = static_cast<std::int64_t>(data.scores[c].size());
    for (const std::int64_t n : path[c]) {
      if (n < 0 || n >= width) {
        throw ConfigError(viewName(data) + ": the " + name + "'s neuron " + std::to_string(n) +
                          " in " + columnName(data, c) + " is outside the layer's " +
                          std::to_string(width) + " neurons (0.." + std::to_string(width - 1) +
                          "); check that the path and the scores come from the same result");
      }
    }
  }
}

void checkMarks(const NeuronPathData& data, const std::vector<NeuronMark>& marks,
                const char* kind) {
  const size_t columns = data.layerLabels.size();
  for (const NeuronMark& mark : marks) {
    if (mark.column < 0 || static_cast<size_t>(mark.column) >= columns) {
      throw ConfigError(viewName(data) + ": the " + kind + " neuron " +
                        std::to_string(mark.neuron) + " is in column " +
                        std::to_string(mark.column) + " but the view has " +
                        std::to_string(columns) + " layer columns");
    }
    const auto width =
        static_cast<std::int64_t>(data.scores[static_cast<size_t>(mark.column)].size());
    if (mark.neuron < 0 || mark.neuron >= width) {
      throw ConfigError(viewName(data) + ": the " + kind + " neuron " +
                        std::to_string(mark.neuron) + " in " +
                        columnName(data, static_cast<size_t>(mark.column)) +
                        " is outside the layer's " + std::to_string(width) + " neurons");
    }
  }
}

bool contains(const std::vector<NeuronMark>& marks, int column, std::int64_t neuron) {
  return std::find(marks.begin(), marks.end(), NeuronMark{column, neuron}) != marks.end();
}

std::string pathLegendText(const std::string& name, const std::string& scoreName,
                           const std::optional<double>& score) {
  if (!score) return name;
  std::string text = name;
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
  if (!scoreName.empty()) {
    text += ' ';
    text += scoreName;
  }
  text += ' ';
  text += formatValue(*score);
  return text;
}

QPolygonF diamond(const QPointF& centre, double radius) {
  return QPolygonF({centre + QPointF(0, -radius), centre + QPointF(radius, 0),
                    centre + QPointF(0, radius), centre + QPointF(-radius, 0)});
}

void drawPathMarker(QPainter& painter, const QPointF& centre, bool baseline, bool primary) {
  painter.setRenderHint(QPainter::Antialiasing, true);
  const QColor color = baseline ? NeuronPathView::baselineColor() : NeuronPathView::pathColor();
  if (primary) {
    // A white rim separates the marker from a strip of any colour.
    painter.setPen(QPen(paint::backgroundColor(), 1.5));
    painter.setBrush(color);
  } else {
    painter.setPen(QPen(color, 1.5));
    painter.setBrush(Qt::NoBrush);
  }
  if (baseline) {
    painter.drawPolygon(diamond(centre, primary ? kDiamondRadius : kExtraRadius + 1));
  } else {
    const double r = primary ? kMarkerRadius : kExtraRadius;
    painter.drawEllipse(centre, r, r);
  }
  painter.setBrush(Qt::NoBrush);
}

void drawMark(QPainter& painter, const QRect& box, NeuronPathView::MarkKind kind) {
  painter.setRenderHint(QPainter::Antialiasing, true);
  QPen pen(paint::textColor(), 2.0);
  pen.setCapStyle(Qt::FlatCap);
  painter.setPen(pen);
  const QRectF outer = QRectF(box).adjusted(0, 0, 1, 1);  // the box's outer pixel edges
  if (kind == NeuronPathView::MarkKind::Masked) {
    painter.drawLine(outer.topLeft(), outer.bottomRight());
    painter.drawLine(outer.topRight(), outer.bottomLeft());
  } else {
    const QPointF c = outer.center();
    painter.drawLine(QPointF(outer.left(), c.y()), QPointF(outer.right(), c.y()));
    painter.drawLine(QPointF(c.x(), outer.top()), QPointF(c.x(), outer.bottom()));
  }
}

void drawPathLine(QPainter& painter, const std::vector<QPointF>& points, bool baseline) {
  if (points.size() < 2) return;
  painter.setRenderHint(QPainter::Antialiasing, true);
  QPen pen(baseline ? NeuronPathView::baselineColor() : NeuronPathView::pathColor(), 2.0);
  if (baseline) pen.setStyle(Qt::DashLine);
  pen.setCapStyle(Qt::FlatCap);
  pen.setJoinStyle(Qt::RoundJoin);
  painter.setPen(pen);
  painter.drawPolyline(points.data(), static_cast<int>(points.size()));
}

enum class LegendKind { Path, Baseline, Masked, Enhanced };

struct LegendEntry {
  LegendKind kind;
  QRectF sample;
  QRectF textRect;
  QString text;
};

}  // namespace

struct NeuronPathView::Geometry {
  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  QFont valueFont;
  double lineHeight = 0.0;
  double valueLineHeight = 0.0;
  QRectF titleRect;
  QRectF messageRect;  // "no data"

  QRectF legendNameRect;
  QRectF legendMinRect;
  QRect legendBar;
  QRectF legendMaxRect;
  QString legendMin;
  QString legendMax;
  std::vector<LegendEntry> legend;

  RowMap rows;
  int plotTop = 0;
  int axisX = 0;  // the neuron axis' hairline column
  QRectF axisTitleRect;
  double tickLabelWidth = 0.0;
  std::vector<std::int64_t> ticks;  // neuron indices
  double slotWidth = 0.0;
  std::vector<double> slotCentres;
  std::vector<QRect> strips;
  int labelStep = 1;
  double captionTop = 0.0;

  QPointF centre(int column, std::int64_t neuron) const {
    const QRect& strip = strips[static_cast<size_t>(column)];
    return QPointF(strip.left() + strip.width() / 2 + 0.5,
                   plotTop + static_cast<double>(rows.centre(neuron)) + 0.5);
  }

  // How far a marker reaches from the strip's centre column, where the marks begin.
  int reach(int column) const {
    return std::max(strips[static_cast<size_t>(column)].width() / 2, kDiamondRadius) + kMarkGap;
  }

  QRect mark(MarkKind kind, int column, std::int64_t neuron) const {
    const QRect& strip = strips[static_cast<size_t>(column)];
    const int x = strip.left() + strip.width() / 2;
    const int y = plotTop + static_cast<int>(rows.centre(neuron));
    const int left =
        kind == MarkKind::Masked ? x - reach(column) - kMarkSize : x + reach(column) + 1;
    return QRect(left, y - kMarkSize / 2, kMarkSize, kMarkSize);
  }
};

NeuronPathView::NeuronPathView(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
}

QColor NeuronPathView::pathColor() { return QColor(0, 158, 115); }
QColor NeuronPathView::baselineColor() { return QColor(230, 159, 0); }

void NeuronPathView::validate(const NeuronPathData& data) {
  if (data.layerLabels.size() != data.scores.size()) {
    throw ConfigError(viewName(data) + ": " + std::to_string(data.layerLabels.size()) +
                      " layer labels but " + std::to_string(data.scores.size()) +
                      " columns of scores; give one column of candidate scores per layer");
  }
  for (size_t c = 0; c < data.scores.size(); ++c) {
    if (data.scores[c].empty()) {
      throw ConfigError(viewName(data) + ": " + columnName(data, c) +
                        " has no neuron scores; give the score of every neuron of the layer "
                        "(NaN where there is none)");
    }
    for (size_t n = 0; n < data.scores[c].size(); ++n) {
      if (std::isinf(data.scores[c][n])) {
        throw ConfigError(viewName(data) + ": the score of neuron " + std::to_string(n) + " in " +
                          columnName(data, c) + " is " + formatValue(data.scores[c][n]) +
                          "; scores must be finite, or NaN where not available");
      }
    }
  }
  checkPath(data, data.path, data.pathName.empty() ? std::string("path") : data.pathName);
  checkPath(data, data.baselinePath,
            data.baselineName.empty() ? std::string("baseline path") : data.baselineName);
  for (const auto& [score, name] : {std::pair{data.pathScore, data.pathName},
                                    std::pair{data.baselineScore, data.baselineName}}) {
    if (score && !std::isfinite(*score)) {
      throw ConfigError(viewName(data) + ": the " + name + "'s score is " + formatValue(*score) +
                        "; give a finite score or none");
    }
  }
  checkMarks(data, data.masked, "masked");
  checkMarks(data, data.enhanced, "enhanced");
  try {
    ColorScale::fitted(ScaleKind::Diverging, -1.0, 1.0, data.min, data.max);
  } catch (const ConfigError& e) {
    throw ConfigError(viewName(data) + ": " + e.what());
  }
}

void NeuronPathView::setData(NeuronPathData data) {
  validate(data);
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  std::int64_t widest = 0;
  for (const std::vector<double>& column : data.scores) {
    widest = std::max(widest, static_cast<std::int64_t>(column.size()));
    for (const double v : column) {
      if (std::isnan(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) lo = hi = std::numeric_limits<double>::quiet_NaN();
  m_scale = ColorScale::fitted(ScaleKind::Diverging, lo, hi, data.min, data.max);
  m_maxWidth = widest;
  m_data = std::move(data);
  update();
}

void NeuronPathView::setMarked(std::vector<NeuronMark> masked, std::vector<NeuronMark> enhanced) {
  checkMarks(m_data, masked, "masked");
  checkMarks(m_data, enhanced, "enhanced");
  m_data.masked = std::move(masked);
  m_data.enhanced = std::move(enhanced);
  update();
}

QString NeuronPathView::scoreName() const {
  return m_data.scoreName.empty() ? QStringLiteral("score")
                                  : QString::fromStdString(m_data.scoreName);
}

QString NeuronPathView::layerLabel(int column) const {
  return paint::displayLabel(m_data.layerLabels[static_cast<size_t>(column)]);
}

NeuronPathView::Geometry NeuronPathView::geometryFor(const QRect& bounds) const {
  Geometry g;
  const auto frame = paint::frameFor(font(), bounds, !m_data.title.empty(), kMargin);
  g.titleFont = frame.titleFont;
  g.labelFont = frame.labelFont;
  g.valueFont = frame.valueFont;
  g.lineHeight = frame.lineHeight;
  g.valueLineHeight = QFontMetricsF(g.valueFont).height();
  g.titleRect = frame.titleRect;
  const size_t columns = m_data.layerLabels.size();
  if (columns == 0) {
    g.messageRect = QRectF(frame.left, frame.top, frame.right - frame.left,
                           std::max(0.0, frame.bottom - frame.top));
    return g;
  }
  g.empty = false;
  const QFontMetricsF metrics(g.labelFont);
  const QFontMetricsF valueMetrics(g.valueFont);
  const double lh = g.lineHeight;
  const double vlh = g.valueLineHeight;

  // Legend, flowing left to right and wrapping: "<score name> min [bar] max", then a line sample
  // and name (with score) per path, then the mark symbols. The mark entries take their place even
  // before anything is marked, so the first click does not move the strips under the cursor.
  double x = frame.left;
  double y = frame.top;
  const auto place = [&](double width) {
    if (x > frame.left && x + width > frame.right) {
      x = frame.left;
      y += lh + kGap;
    }
    const double at = x;
    x += width + kLegendItemGap;
    return at;
  };
  g.legendMin = QString::fromStdString(formatValue(m_scale.min()));
  g.legendMax = QString::fromStdString(formatValue(m_scale.max()));
  const QString name = scoreName();
  const double nameWidth = metrics.horizontalAdvance(name);
  const double minWidth = metrics.horizontalAdvance(g.legendMin);
  const double maxWidth = metrics.horizontalAdvance(g.legendMax);
  double at = place(nameWidth + minWidth + maxWidth + kLegendBarWidth + 3 * kGap);
  g.legendNameRect = QRectF(at, y, nameWidth, lh);
  at += nameWidth + kGap;
  g.legendMinRect = QRectF(at, y, minWidth, lh);
  at += minWidth + kGap;
  g.legendBar = QRect(static_cast<int>(std::lround(at)),
                      static_cast<int>(std::lround(y + (lh - kLegendBarHeight) / 2)),
                      kLegendBarWidth, kLegendBarHeight);
  at = g.legendBar.left() + kLegendBarWidth + kGap;
  g.legendMaxRect = QRectF(at, y, maxWidth, lh);
  const auto addEntry = [&](LegendKind kind, const QString& text, double sampleWidth) {
    const double textWidth = metrics.horizontalAdvance(text);
    const double left = place(sampleWidth + kGap + textWidth);
    g.legend.push_back({kind, QRectF(left, y, sampleWidth, lh),
                        QRectF(left + sampleWidth + kGap, y, textWidth, lh), text});
  };
  if (!m_data.path.empty()) {
    addEntry(LegendKind::Path,
             QString::fromStdString(
                 pathLegendText(m_data.pathName, m_data.pathScoreName, m_data.pathScore)),
             kLegendSample);
  }
  if (!m_data.baselinePath.empty()) {
    addEntry(LegendKind::Baseline,
             QString::fromStdString(
                 pathLegendText(m_data.baselineName, m_data.pathScoreName, m_data.baselineScore)),
             kLegendSample);
  }
  addEntry(LegendKind::Masked, QStringLiteral("masked"), kMarkSize);
  addEntry(LegendKind::Enhanced, QStringLiteral("enhanced"), kMarkSize);
  const double legendBottom = y + lh;

  // Captions under each column: its layer label, then the path neuron's index and score, then
  // the baseline's.
  const int captionLines = (m_data.path.empty() ? 0 : 2) + (m_data.baselinePath.empty() ? 0 : 2);
  const double captionHeight = lh + captionLines * vlh;
  g.plotTop = static_cast<int>(std::ceil(legendBottom)) + kGap + kDiamondRadius + 2;
  const double plotBottom = frame.bottom - captionHeight - kGap - kDiamondRadius;
  const int height = std::max(1, static_cast<int>(std::floor(plotBottom)) - g.plotTop);
  g.rows = RowMap{height, std::max<std::int64_t>(1, m_maxWidth)};
  g.captionTop = g.plotTop + height + kDiamondRadius + kGap;

  // The neuron axis on the left: integer ticks against the widest layer.
  if (m_maxWidth > 1) {
    const AxisTicks ticks = ticksWithin(0.0, static_cast<double>(m_maxWidth - 1),
                                        std::clamp(static_cast<int>(height / (3 * lh)), 2, 8));
    for (const double t : ticks.values) {
      if (t == std::floor(t)) g.ticks.push_back(static_cast<std::int64_t>(t));
    }
  } else {
    g.ticks.push_back(0);
  }
  for (const std::int64_t t : g.ticks) {
    g.tickLabelWidth = std::max(
        g.tickLabelWidth, metrics.horizontalAdvance(QString::fromStdString(formatTick(t, 0))));
  }
  double left = frame.left;
  g.axisTitleRect = QRectF(left, g.plotTop, lh, height);
  left += lh + kGap + g.tickLabelWidth + kGap + kTickLength;
  g.axisX = static_cast<int>(std::lround(left));
  left = g.axisX + kGap;

  // Columns: equal slots, a strip centred in each, wide enough for the markers to read as on it.
  g.slotWidth = std::max(1.0, (frame.right - left) / static_cast<double>(columns));
  const int stripWidth =
      std::clamp(static_cast<int>(std::lround(g.slotWidth * 0.3)), kMinStripWidth, kMaxStripWidth);
  double widestLabel = 0.0;
  for (size_t c = 0; c < columns; ++c) {
    const double centre = left + (static_cast<double>(c) + 0.5) * g.slotWidth;
    g.slotCentres.push_back(centre);
    const auto layerWidth = static_cast<std::int64_t>(m_data.scores[c].size());
    g.strips.emplace_back(static_cast<int>(std::lround(centre - stripWidth / 2.0)), g.plotTop,
                          stripWidth, static_cast<int>(g.rows.stripHeight(layerWidth)));
    widestLabel = std::max(widestLabel, metrics.horizontalAdvance(layerLabel(static_cast<int>(c))));
  }
  g.labelStep = paint::labelStep(g.slotWidth, widestLabel);
  return g;
}

void NeuronPathView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }
  const int columns = static_cast<int>(m_data.layerLabels.size());
  const double lh = g.lineHeight;
  const double vlh = g.valueLineHeight;

  // Legend: the gradient has a stop at each anchor, where that anchor's value falls, so it is
  // the scale itself (white at 0 even for an asymmetric fixed range).
  painter.setPen(paint::textColor());
  painter.drawText(g.legendNameRect, Qt::AlignLeft | Qt::AlignVCenter, scoreName());
  painter.drawText(g.legendMinRect, Qt::AlignRight | Qt::AlignVCenter, g.legendMin);
  painter.drawText(g.legendMaxRect, Qt::AlignLeft | Qt::AlignVCenter, g.legendMax);
  const QRect& bar = g.legendBar;
  QLinearGradient gradient(QPointF(bar.left(), 0), QPointF(bar.left() + bar.width(), 0));
  const std::vector<QColor>& anchors = ColorScale::anchors(m_scale.kind());
  for (size_t k = 0; k < anchors.size(); ++k) {
    const double value =
        m_scale.valueAtPosition(static_cast<double>(k) / static_cast<double>(anchors.size() - 1));
    gradient.setColorAt((value - m_scale.min()) / (m_scale.max() - m_scale.min()), anchors[k]);
  }
  painter.setRenderHint(QPainter::Antialiasing, false);
  painter.fillRect(bar, gradient);
  paint::frameOutside(painter, bar, paint::axisColor());
  const bool anyMasked = !m_data.masked.empty();
  const bool anyEnhanced = !m_data.enhanced.empty();
  for (const LegendEntry& entry : g.legend) {
    // The mark entries keep their room but only show once something is marked.
    if ((entry.kind == LegendKind::Masked && !anyMasked) ||
        (entry.kind == LegendKind::Enhanced && !anyEnhanced)) {
      continue;
    }
    const QPointF middle = entry.sample.center();
    switch (entry.kind) {
      case LegendKind::Path:
      case LegendKind::Baseline: {
        const bool baseline = entry.kind == LegendKind::Baseline;
        drawPathLine(
            painter,
            {QPointF(entry.sample.left(), middle.y()), QPointF(entry.sample.right(), middle.y())},
            baseline);
        drawPathMarker(painter, middle, baseline, true);
        break;
      }
      case LegendKind::Masked:
      case LegendKind::Enhanced: {
        const QRect box(static_cast<int>(std::lround(entry.sample.left())),
                        static_cast<int>(std::lround(middle.y())) - kMarkSize / 2, kMarkSize,
                        kMarkSize);
        drawMark(painter, box,
                 entry.kind == LegendKind::Masked ? MarkKind::Masked : MarkKind::Enhanced);
        break;
      }
    }
    painter.setPen(paint::textColor());
    painter.drawText(entry.textRect, Qt::AlignLeft | Qt::AlignVCenter, entry.text);
  }

  // Neuron axis.
  painter.setRenderHint(QPainter::Antialiasing, false);
  const int plotHeight = static_cast<int>(g.rows.height);
  paint::verticalHairline(painter, g.axisX, g.plotTop, g.plotTop + plotHeight, paint::axisColor());
  painter.setRenderHint(QPainter::Antialiasing, true);
  painter.setPen(paint::textColor());
  for (const std::int64_t t : g.ticks) {
    const double y = g.plotTop + static_cast<double>(g.rows.centre(t)) + 0.5;
    paint::horizontalHairline(painter, g.axisX - kTickLength, g.axisX, y, paint::axisColor());
    painter.setPen(paint::textColor());
    painter.drawText(
        QRectF(g.axisX - kTickLength - kGap - g.tickLabelWidth, y - lh / 2, g.tickLabelWidth, lh),
        Qt::AlignRight | Qt::AlignVCenter, QString::fromStdString(formatTick(t, 0)));
  }
  paint::drawVerticalText(painter, g.axisTitleRect.center(), g.axisTitleRect.height(),
                          QStringLiteral("neuron"), true);

  // Strips: one colour per row, flat (no smoothing), so each row is exactly its neuron's colour.
  painter.setRenderHint(QPainter::Antialiasing, false);
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  for (int c = 0; c < columns; ++c) {
    const std::vector<double>& scores = m_data.scores[static_cast<size_t>(c)];
    const QRect& strip = g.strips[static_cast<size_t>(c)];
    const auto layerWidth = static_cast<std::int64_t>(scores.size());
    QImage image(1, strip.height(), QImage::Format_RGB32);
    for (int row = 0; row < strip.height(); ++row) {
      const auto [first, last] = g.rows.bin(row, layerWidth);
      const double v = scores[static_cast<size_t>(representative(scores, first, last))];
      *reinterpret_cast<QRgb*>(image.scanLine(row)) = m_scale.color(v).rgb();
    }
    painter.drawImage(QRectF(strip), image);
    paint::frameOutside(painter, strip, paint::axisColor());
  }

  // Paths: lines first, then markers on top, the path over the baseline.
  const auto primaryPoints = [&](const std::vector<std::vector<std::int64_t>>& path) {
    std::vector<QPointF> points;
    for (int c = 0; c < static_cast<int>(path.size()); ++c) {
      points.push_back(g.centre(c, path[static_cast<size_t>(c)].front()));
    }
    return points;
  };
  drawPathLine(painter, primaryPoints(m_data.baselinePath), true);
  drawPathLine(painter, primaryPoints(m_data.path), false);
  for (const auto* path : {&m_data.baselinePath, &m_data.path}) {
    const bool baseline = path == &m_data.baselinePath;
    for (int c = 0; c < static_cast<int>(path->size()); ++c) {
      const std::vector<std::int64_t>& chosen = (*path)[static_cast<size_t>(c)];
      for (size_t k = chosen.size(); k-- > 1;) {
        drawPathMarker(painter, g.centre(c, chosen[k]), baseline, false);
      }
    }
  }
  for (const auto* path : {&m_data.baselinePath, &m_data.path}) {
    const bool baseline = path == &m_data.baselinePath;
    for (int c = 0; c < static_cast<int>(path->size()); ++c) {
      drawPathMarker(painter, g.centre(c, (*path)[static_cast<size_t>(c)].front()), baseline, true);
    }
  }
  for (const NeuronMark& mark : m_data.masked) {
    drawMark(painter, g.mark(MarkKind::Masked, mark.column, mark.neuron), MarkKind::Masked);
  }
  for (const NeuronMark& mark : m_data.enhanced) {
    drawMark(painter, g.mark(MarkKind::Enhanced, mark.column, mark.neuron), MarkKind::Enhanced);
  }

  // Captions: the layer labels (thinned where they would overlap), then per path a line of
  // neuron indices and a line of their scores. A line some column has no room for is left out
  // whole (the tooltip still has it), so that no column reads as missing its value.
  painter.setRenderHint(QPainter::Antialiasing, true);
  const auto slotRect = [&](int c, double top, double height) {
    return QRectF(g.slotCentres[static_cast<size_t>(c)] - g.slotWidth / 2, top, g.slotWidth,
                  height);
  };
  const QFontMetricsF metrics(g.labelFont);
  painter.setPen(paint::textColor());
  for (int c = 0; c < columns; c += g.labelStep) {
    painter.drawText(slotRect(c, g.captionTop, lh), Qt::AlignCenter,
                     metrics.elidedText(layerLabel(c), Qt::ElideRight, g.slotWidth * g.labelStep));
  }
  painter.setFont(g.valueFont);
  const QFontMetricsF valueMetrics(g.valueFont);
  double top = g.captionTop + lh;
  const auto captionLine = [&](const QColor& color, const auto& textOf) {
    std::vector<QString> texts;
    for (int c = 0; c < columns; ++c) {
      texts.push_back(textOf(c));
      if (valueMetrics.horizontalAdvance(texts.back()) > g.slotWidth - 2) return;
    }
    painter.setPen(color);
    for (int c = 0; c < columns; ++c) {
      painter.drawText(slotRect(c, top, vlh), Qt::AlignCenter, texts[static_cast<size_t>(c)]);
    }
    top += vlh;
  };
  for (const auto* path : {&m_data.path, &m_data.baselinePath}) {
    if (path->empty()) continue;
    const auto neuronOf = [&](int c) { return (*path)[static_cast<size_t>(c)].front(); };
    // Darker than the markers: the bright marker colours are too light for text on white.
    const QColor color = (path == &m_data.path ? pathColor() : baselineColor()).darker(140);
    captionLine(color, [&](int c) { return QStringLiteral("#%1").arg(neuronOf(c)); });
    captionLine(color, [&](int c) {
      const std::vector<double>& scores = m_data.scores[static_cast<size_t>(c)];
      return QString::fromStdString(formatValue(scores[static_cast<size_t>(neuronOf(c))]));
    });
  }
  painter.restore();
}

QRect NeuronPathView::columnRect(int column, const QRect& bounds) const {
  if (column < 0 || static_cast<size_t>(column) >= m_data.layerLabels.size()) return {};
  return geometryFor(bounds).strips[static_cast<size_t>(column)];
}

QPointF NeuronPathView::neuronPoint(int column, std::int64_t neuron, const QRect& bounds) const {
  if (column < 0 || static_cast<size_t>(column) >= m_data.layerLabels.size() || neuron < 0 ||
      neuron >= static_cast<std::int64_t>(m_data.scores[static_cast<size_t>(column)].size())) {
    return QPointF(-1, -1);
  }
  return geometryFor(bounds).centre(column, neuron) - QPointF(0.5, 0.5);
}

QRect NeuronPathView::markRect(MarkKind kind, int column, std::int64_t neuron,
                               const QRect& bounds) const {
  if (column < 0 || static_cast<size_t>(column) >= m_data.layerLabels.size() || neuron < 0 ||
      neuron >= static_cast<std::int64_t>(m_data.scores[static_cast<size_t>(column)].size())) {
    return {};
  }
  return geometryFor(bounds).mark(kind, column, neuron);
}

QRect NeuronPathView::legendBarRect(const QRect& bounds) const {
  return geometryFor(bounds).legendBar;
}

std::optional<std::pair<int, std::int64_t>> NeuronPathView::neuronAt(const QPoint& point,
                                                                     const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (g.empty) return std::nullopt;
  const int columns = static_cast<int>(m_data.layerLabels.size());

  // Drawn symbols first: the nearest within reach wins, the path's own neuron on a tie.
  std::optional<std::pair<int, std::int64_t>> best;
  double bestDistance = std::numeric_limits<double>::infinity();
  const QPointF p = QPointF(point) + QPointF(0.5, 0.5);  // the pixel's centre
  const auto consider = [&](int c, std::int64_t n, const QPointF& at, double reach) {
    const double d = std::hypot(p.x() - at.x(), p.y() - at.y());
    if (d <= reach && d < bestDistance) {
      bestDistance = d;
      best = std::pair{c, n};
    }
  };
  for (const auto* path : {&m_data.path, &m_data.baselinePath}) {
    for (int c = 0; c < static_cast<int>(path->size()); ++c) {
      for (const std::int64_t n : (*path)[static_cast<size_t>(c)]) {
        consider(c, n, g.centre(c, n), kHitRadius);
      }
    }
  }
  for (const auto& [marks, kind] :
       {std::pair{&m_data.masked, MarkKind::Masked}, {&m_data.enhanced, MarkKind::Enhanced}}) {
    for (const NeuronMark& mark : *marks) {
      const QRectF box = QRectF(g.mark(kind, mark.column, mark.neuron)).adjusted(-1, -1, 2, 2);
      if (box.contains(p)) consider(mark.column, mark.neuron, box.center(), kMarkSize);
    }
  }
  if (best) return best;

  for (int c = 0; c < columns; ++c) {
    const QRect& strip = g.strips[static_cast<size_t>(c)];
    const int halo = std::max(0, kMarkerRadius - strip.width() / 2);  // thin strips stay clickable
    if (!strip.adjusted(-halo, 0, halo, 0).contains(point)) continue;
    const std::vector<double>& scores = m_data.scores[static_cast<size_t>(c)];
    const auto [first, last] =
        g.rows.bin(point.y() - strip.top(), static_cast<std::int64_t>(scores.size()));
    return std::pair{c, representative(scores, first, last)};
  }
  return std::nullopt;
}

QString NeuronPathView::toolTipText(int column, std::int64_t neuron) const {
  const auto c = static_cast<size_t>(column);
  QString text =
      QStringLiteral("layer %1, neuron %2: %3 %4")
          .arg(layerLabel(column), QString::number(neuron), scoreName(),
               QString::fromStdString(formatValue(m_data.scores[c][static_cast<size_t>(neuron)])));
  for (const auto& [path, name] : {std::pair{&m_data.path, &m_data.pathName},
                                   std::pair{&m_data.baselinePath, &m_data.baselineName}}) {
    if (path->empty()) continue;
    const std::vector<std::int64_t>& chosen = (*path)[c];
    const auto at = std::find(chosen.begin(), chosen.end(), neuron);
    if (at == chosen.end()) continue;
    text += QStringLiteral("\n") + QString::fromStdString(*name);
    if (chosen.size() > 1) {
      text += QStringLiteral(" (rank %1 of %2)")
                  .arg(QString::number(at - chosen.begin() + 1), QString::number(chosen.size()));
    }
  }
  if (contains(m_data.masked, column, neuron)) text += QStringLiteral("\nmasked (set to 0)");
  if (contains(m_data.enhanced, column, neuron)) text += QStringLiteral("\nenhanced");
  return text;
}

QString NeuronPathView::toolTipAt(const QPoint& point) const {
  const auto hit = neuronAt(point, rect());
  return hit ? toolTipText(hit->first, hit->second) : QString();
}

QSize NeuronPathView::sizeHint() const { return QSize(640, 440); }
QSize NeuronPathView::minimumSizeHint() const { return QSize(200, 160); }

bool NeuronPathView::event(QEvent* event) {
  const auto textAt = [this](const QPoint& point) { return toolTipAt(point); };
  return paint::handleToolTip(*this, event, textAt) || QWidget::event(event);
}

void NeuronPathView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

void NeuronPathView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (const auto hit = neuronAt(event->position().toPoint(), rect())) {
      Q_EMIT neuronClicked(hit->first, static_cast<qint64>(hit->second), event->modifiers());
      return;
    }
  }
  QWidget::mousePressEvent(event);
}

}  // namespace cs::viewers
