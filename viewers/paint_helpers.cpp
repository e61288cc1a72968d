// Shared painting helpers. The series palette is Tableau 10, whose hues stay apart for the
// common colour-vision deficiencies better than Qt's default chart palette.
#include "viewers/paint_helpers.h"

#include <QFontInfo>
#include <QFontMetricsF>
#include <QHelpEvent>
#include <QToolTip>

#include <algorithm>
#include <array>
#include <cmath>

namespace cs::viewers::paint {

bool handleToolTip(QWidget& widget, QEvent* event,
                   const std::function<QString(const QPoint&)>& textAt) {
  if (event->type() != QEvent::ToolTip) return false;
  auto* help = static_cast<QHelpEvent*>(event);
  const QString text = textAt(help->pos());
  if (!text.isEmpty()) {
    QToolTip::showText(help->globalPos(), text, &widget);
  } else {
    QToolTip::hideText();
    event->ignore();
  }
  return true;
}

bool beginFigure(QPainter& painter, const QRect& bounds, const std::string& title,
                 const QFont& titleFont, const QRectF& titleRect, const QFont& labelFont,
                 bool empty, const QRectF& messageRect) {
  painter.save();
  painter.fillRect(bounds, backgroundColor());
  painter.setRenderHint(QPainter::TextAntialiasing, true);
  painter.setPen(textColor());
  if (!title.empty()) {
    painter.setFont(titleFont);
    painter.drawText(titleRect, Qt::AlignCenter, QString::fromStdString(title));
  }
  painter.setFont(labelFont);
  if (!empty) return true;
  painter.drawText(messageRect, Qt::AlignCenter, QStringLiteral("no data"));
  painter.restore();
  return false;
}

QColor backgroundColor() { return QColor(255, 255, 255); }
QColor textColor() { return QColor(32, 32, 32); }
QColor axisColor() { return QColor(80, 80, 80); }
QColor gridColor() { return QColor(225, 225, 225); }

QColor seriesColor(int index) {
  static const std::array<QRgb, 10> kPalette = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                                0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
  const auto i = static_cast<size_t>(index < 0 ? 0 : index) % kPalette.size();
  return QColor(kPalette[i]);
}

QColor textColorOn(const QColor& fill) {
  // Rec. 709 luma of the sRGB values: good enough to pick between black and white.
  const double luma = 0.2126 * fill.red() + 0.7152 * fill.green() + 0.0722 * fill.blue();
  return luma > 140.0 ? QColor(0, 0, 0) : QColor(255, 255, 255);
}

QFont pixelFont(const QFont& base, double scale, bool bold) {
  QFont font(base);
  const int basePixels = base.pixelSize() > 0 ? base.pixelSize() : QFontInfo(base).pixelSize();
  font.setPixelSize(std::max(6, static_cast<int>(std::lround(basePixels * scale))));
  font.setBold(bold);
  return font;
}

QString displayLabel(const std::string& label) {
  QString text = QString::fromStdString(label);
  text.replace(QLatin1Char('\n'), QLatin1String("\\n"));
  text.replace(QLatin1Char('\t'), QLatin1String("\\t"));
  text.replace(QLatin1Char('\r'), QLatin1String("\\r"));
  return text;
}

int labelStep(double slot, double extent) {
  if (slot <= 0.0) return 1 << 30;
  return std::max(1, static_cast<int>(std::ceil(extent * 1.15 / slot)));
}

void horizontalHairline(QPainter& painter, double x0, double x1, double y, const QColor& color) {
  const double left = std::round(std::min(x0, x1));
  const double right = std::round(std::max(x0, x1));
  painter.fillRect(QRectF(left, std::floor(y), right - left, 1.0), color);
}

void verticalHairline(QPainter& painter, double x, double y0, double y1, const QColor& color) {
  const double top = std::round(std::min(y0, y1));
  const double bottom = std::round(std::max(y0, y1));
  painter.fillRect(QRectF(std::floor(x), top, 1.0, bottom - top), color);
}

void frameOutside(QPainter& painter, const QRect& inner, const QColor& color) {
  const int left = inner.left() - 1;
  const int right = inner.left() + inner.width();
  const int top = inner.top() - 1;
  const int bottom = inner.top() + inner.height();
  painter.fillRect(QRect(left, top, right - left + 1, 1), color);
  painter.fillRect(QRect(left, bottom, right - left + 1, 1), color);
  painter.fillRect(QRect(left, inner.top(), 1, inner.height()), color);
  painter.fillRect(QRect(right, inner.top(), 1, inner.height()), color);
}

void drawVerticalText(QPainter& painter, const QPointF& anchor, double length, const QString& text,
                      bool centred) {
  const double height = QFontMetricsF(painter.font()).height();
  painter.save();
  painter.translate(anchor);
  painter.rotate(-90.0);
  // After the rotation +x points up the page: the text runs from -length (below) to 0 (anchor).
  const QRectF box = centred ? QRectF(-length / 2, -height / 2, length, height)
                             : QRectF(-length, -height / 2, length, height);
  painter.drawText(box, (centred ? Qt::AlignHCenter : Qt::AlignRight) | Qt::AlignVCenter, text);
  painter.restore();
}

Frame frameFor(const QFont& base, const QRect& bounds, bool hasTitle, int margin) {
  Frame f;
  f.titleFont = pixelFont(base, 1.25, true);
  f.labelFont = pixelFont(base);
  f.valueFont = pixelFont(base, 0.9);
  const QFontMetricsF titleMetrics(f.titleFont);
  f.lineHeight = QFontMetricsF(f.labelFont).height();
  f.left = bounds.left() + margin;
  f.right = bounds.left() + bounds.width() - margin;
  f.top = bounds.top() + margin;
  f.bottom = bounds.top() + bounds.height() - margin;
  if (hasTitle) {
    f.titleRect = QRectF(f.left, f.top, f.right - f.left, titleMetrics.height());
    f.top += titleMetrics.height() + 6;
  }
  return f;
}

}  // namespace cs::viewers::paint
