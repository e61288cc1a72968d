// Token chips. One geometry function lays out the legend and the chips, line by line, for a given
// rectangle; paint(), the hit tests and heightForWidth() all use it, so what is hovered is what
// is drawn.
#include "viewers/token_attribution_view.h"

#include <QFontMetricsF>
#include <QLinearGradient>
#include <QMouseEvent>
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
constexpr int kGap = 6;
constexpr int kPadding = 4;     // around a chip's text
constexpr int kChipGap = 4;     // between chips on a line; leaves room for their frames
constexpr int kLineGap = 6;     // between lines of chips
constexpr int kLegendGap = 12;  // between the legend and the first line of chips
constexpr int kLegendBarHeight = 12;
constexpr int kMaxLegendBarWidth = 240;
constexpr int kMinLegendBarWidth = 40;

std::string viewName(const TokenAttributionData& data) {
  return data.title.empty() ? std::string("token attribution")
                            : "token attribution '" + data.title + "'";
}

// A chip's frame: light enough to recede, dark enough that a white (zero) chip still shows.
QColor chipFrameColor() { return QColor(190, 190, 190); }

}  // namespace

QString tokenChipText(const std::string& token) {
  if (token.empty()) return QStringLiteral("∅");
  const QString raw = QString::fromStdString(token);
  // Interior spaces show as gaps between letters already; only the ends would vanish.
  qsizetype first = 0;
  while (first < raw.size() && raw[first] == QLatin1Char(' ')) ++first;
  qsizetype last = raw.size();
  while (last > first && raw[last - 1] == QLatin1Char(' ')) --last;
  QString text;
  text.reserve(raw.size());
  for (qsizetype i = 0; i < raw.size(); ++i) {
    const QChar c = raw[i];
    if (c == QLatin1Char(' ') && (i < first || i >= last)) {
      text += QChar(0x00B7);  // middle dot
    } else if (c == QLatin1Char('\n')) {
      text += QChar(0x21B5);  // downwards arrow with corner leftwards
    } else if (c == QLatin1Char('\t')) {
      text += QChar(0x21E5);  // rightwards arrow to bar
    } else if (c.unicode() < 0x20) {
      text += QChar(0x2400 + c.unicode());  // the control pictures block
    } else if (c.unicode() == 0x7F) {
      text += QChar(0x2421);
    } else {
      text += c;
    }
  }
  return text;
}

struct TokenAttributionView::Geometry {
  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  int lineHeight = 0;
  QRectF titleRect;
  QRectF messageRect;  // "no data"
  QRectF legendNameRect;
  QRectF legendMinRect;
  QRect legendBar;
  QRectF legendMaxRect;
  QString legendMin;
  QString legendMax;
  std::vector<QString> texts;  // each chip's text, elided to its chip
  std::vector<QRect> chips;
  int contentBottom = 0;  // below the last line of chips, margin included
};

TokenAttributionView::TokenAttributionView(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
  QSizePolicy policy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  policy.setHeightForWidth(true);
  setSizePolicy(policy);
}

void TokenAttributionView::validate(const TokenAttributionData& data) {
  if (data.tokens.size() != data.scores.size()) {
    throw ConfigError(viewName(data) + ": " + std::to_string(data.tokens.size()) + " tokens but " +
                      std::to_string(data.scores.size()) +
                      " scores; give exactly one score per token");
  }
  for (size_t i = 0; i < data.scores.size(); ++i) {
    if (!std::isfinite(data.scores[i])) {
      throw ConfigError(viewName(data) + ": the score of token " + std::to_string(i) + " ('" +
                        data.tokens[i] + "') is " + formatValue(data.scores[i]) +
                        "; every score must be finite (check the analysis that produced them)");
    }
  }
  try {
    ColorScale::fitted(ScaleKind::Diverging, -1.0, 1.0, data.min, data.max);
  } catch (const ConfigError& e) {
    throw ConfigError(viewName(data) + ": " + e.what());
  }
}

void TokenAttributionView::setData(TokenAttributionData data) {
  validate(data);
  double lo = std::numeric_limits<double>::quiet_NaN();
  double hi = lo;
  if (!data.scores.empty()) {
    const auto [mn, mx] = std::minmax_element(data.scores.begin(), data.scores.end());
    lo = *mn;
    hi = *mx;
  }
  m_scale = ColorScale::fitted(ScaleKind::Diverging, lo, hi, data.min, data.max);
  m_data = std::move(data);
  updateGeometry();
  update();
}

QString TokenAttributionView::scoreName() const {
  return m_data.scoreName.empty() ? QStringLiteral("score")
                                  : QString::fromStdString(m_data.scoreName);
}

int TokenAttributionView::chipPadding() { return kPadding; }

TokenAttributionView::Geometry TokenAttributionView::geometryFor(const QRect& bounds) const {
  Geometry g;
  const auto frame = paint::frameFor(font(), bounds, !m_data.title.empty(), kMargin);
  g.titleFont = frame.titleFont;
  g.labelFont = frame.labelFont;
  g.lineHeight = static_cast<int>(std::ceil(frame.lineHeight));
  g.titleRect = frame.titleRect;
  const QFontMetricsF metrics(g.labelFont);
  const int left = static_cast<int>(std::lround(frame.left));
  const int right = std::max(left + 1, static_cast<int>(std::lround(frame.right)));
  int top = static_cast<int>(std::lround(frame.top));
  if (m_data.tokens.empty()) {
    g.messageRect = QRectF(frame.left, frame.top, frame.right - frame.left,
                           std::max(0.0, frame.bottom - frame.top));
    g.contentBottom = top + kMargin;
    return g;
  }
  g.empty = false;
  const int lh = g.lineHeight;

  // Legend: "<score name>  min [bar] max" on one line, the bar shrinking on narrow widths.
  g.legendMin = QString::fromStdString(formatValue(m_scale.min()));
  g.legendMax = QString::fromStdString(formatValue(m_scale.max()));
  const QString name = scoreName();
  const double nameWidth = metrics.horizontalAdvance(name);
  const double minWidth = metrics.horizontalAdvance(g.legendMin);
  const double maxWidth = metrics.horizontalAdvance(g.legendMax);
  const double textWidth = nameWidth + minWidth + maxWidth + 3 * kGap;
  const int barWidth = std::clamp(static_cast<int>(right - left - textWidth), kMinLegendBarWidth,
                                  kMaxLegendBarWidth);
  double x = left;
  g.legendNameRect = QRectF(x, top, nameWidth, lh);
  x += nameWidth + kGap;
  g.legendMinRect = QRectF(x, top, minWidth, lh);
  x += minWidth + kGap;
  g.legendBar = QRect(static_cast<int>(std::lround(x)), top + (lh - kLegendBarHeight) / 2, barWidth,
                      kLegendBarHeight);
  x = g.legendBar.left() + barWidth + kGap;
  g.legendMaxRect = QRectF(x, top, maxWidth, lh);
  top += lh + kLegendGap;

  // Chips, left to right, a new line whenever the next chip would cross the right edge. A token
  // wider than a whole line gets a line of its own, its text elided.
  const int chipHeight = lh + 2 * kPadding;
  const int lineWidth = right - left;
  int chipX = left;
  int chipY = top;
  g.texts.reserve(m_data.tokens.size());
  g.chips.reserve(m_data.tokens.size());
  for (const std::string& token : m_data.tokens) {
    QString text = tokenChipText(token);
    int width = static_cast<int>(std::ceil(metrics.horizontalAdvance(text))) + 2 * kPadding;
    width = std::max(width, chipHeight / 2 + 2 * kPadding);  // one-letter tokens stay clickable
    if (width > lineWidth) {
      width = lineWidth;
      text = metrics.elidedText(text, Qt::ElideRight, width - 2 * kPadding);
    }
    if (chipX > left && chipX + width > right) {
      chipX = left;
      chipY += chipHeight + kLineGap;
    }
    g.chips.emplace_back(chipX, chipY, width, chipHeight);
    g.texts.push_back(std::move(text));
    chipX += width + kChipGap;
  }
  g.contentBottom = chipY + chipHeight + kMargin;
  return g;
}

void TokenAttributionView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }

  // Legend: the gradient has a stop at each anchor, where that anchor's value falls, so it is
  // the scale itself (white at 0 even for an asymmetric fixed range).
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

  // Chips: flat fills without antialiasing so each is exactly its colour; the frame keeps a
  // white (zero) chip visible on the white background.
  for (size_t i = 0; i < g.chips.size(); ++i) {
    const QRect& chip = g.chips[i];
    if (chip.top() > bounds.bottom()) break;  // the rest lie below the view
    const QColor fill = m_scale.color(m_data.scores[i]);
    painter.setRenderHint(QPainter::Antialiasing, false);
    painter.fillRect(chip, fill);
    paint::frameOutside(painter, chip, chipFrameColor());
    painter.setRenderHint(QPainter::Antialiasing, true);
    painter.setPen(paint::textColorOn(fill));
    painter.drawText(chip.adjusted(kPadding, kPadding, -kPadding, -kPadding), Qt::AlignCenter,
                     g.texts[i]);
  }
  painter.restore();
}

QRect TokenAttributionView::chipRect(int index, const QRect& bounds) const {
  if (index < 0 || static_cast<size_t>(index) >= m_data.tokens.size()) return {};
  const Geometry g = geometryFor(bounds);
  return g.chips[static_cast<size_t>(index)];
}

QRect TokenAttributionView::legendBarRect(const QRect& bounds) const {
  return geometryFor(bounds).legendBar;
}

std::optional<int> TokenAttributionView::tokenAt(const QPoint& point) const {
  const Geometry g = geometryFor(rect());
  for (size_t i = 0; i < g.chips.size(); ++i) {
    if (g.chips[i].contains(point)) return static_cast<int>(i);
  }
  return std::nullopt;
}

QString TokenAttributionView::toolTipText(int index) const {
  const auto i = static_cast<size_t>(index);
  return QStringLiteral("token: %1\nposition: %2\n%3: %4")
      .arg(tokenChipText(m_data.tokens[i]), QString::number(index), scoreName(),
           QString::fromStdString(formatValue(m_data.scores[i])));
}

int TokenAttributionView::heightForWidth(int width) const {
  constexpr int kUnbounded = 1 << 20;
  return geometryFor(QRect(0, 0, std::max(width, 1), kUnbounded)).contentBottom;
}

QSize TokenAttributionView::sizeHint() const { return QSize(560, heightForWidth(560)); }
QSize TokenAttributionView::minimumSizeHint() const { return QSize(160, 80); }

bool TokenAttributionView::event(QEvent* event) {
  const auto textAt = [this](const QPoint& point) {
    const auto index = tokenAt(point);
    return index ? toolTipText(*index) : QString();
  };
  return paint::handleToolTip(*this, event, textAt) || QWidget::event(event);
}

void TokenAttributionView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

void TokenAttributionView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (const auto index = tokenAt(event->position().toPoint())) {
      emit tokenClicked(*index);
      return;
    }
  }
  QWidget::mousePressEvent(event);
}

}  // namespace cs::viewers
