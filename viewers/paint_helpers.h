// Colours, fonts and text placement shared by the views, so that a heatmap and a chart drawn
// side by side read as one family. Fonts are set in pixels: a PNG, an SVG and the screen then
// lay text out alike whatever the device's resolution.
#pragma once

#include <QColor>
#include <QEvent>
#include <QFont>
#include <QPainter>
#include <QPointF>
#include <QRect>
#include <QRectF>
#include <QString>
#include <QWidget>

#include <functional>

#include <string>

namespace cs::viewers::paint {

/// Handles a tooltip request for `widget`: shows textAt(position), or hides the tip (and ignores
/// the event) where that is empty. Returns false for any other event, which the widget passes
/// on to QWidget::event.
bool handleToolTip(QWidget& widget, QEvent* event,
                   const std::function<QString(const QPoint&)>& textAt);

/// The start every figure's paint() shares: the background, the title (when there is one), the
/// label font, and "no data" when the figure is `empty`. Saves the painter; returns false, with
/// the painter restored, when the figure is empty, else true and the caller draws the rest and
/// restores it.
bool beginFigure(QPainter& painter, const QRect& bounds, const std::string& title,
                 const QFont& titleFont, const QRectF& titleRect, const QFont& labelFont,
                 bool empty, const QRectF& messageRect);

QColor backgroundColor();
QColor textColor();
QColor axisColor();
QColor gridColor();

/// The colour of series `index` (a colour-blind-aware qualitative palette of ten, repeating).
QColor seriesColor(int index);

/// Black or white, whichever reads better on `fill`.
QColor textColorOn(const QColor& fill);

/// `base` at `scale` times its size, in pixels.
QFont pixelFont(const QFont& base, double scale = 1.0, bool bold = false);

/// The frame every view starts from: its fonts, the title's place, and what is left inside the
/// margins below the title.
struct Frame {
  QFont titleFont, labelFont, valueFont;
  double lineHeight = 0.0;  ///< of labelFont
  QRectF titleRect;         ///< empty without a title
  double left = 0.0, right = 0.0, top = 0.0, bottom = 0.0;
};
Frame frameFor(const QFont& base, const QRect& bounds, bool hasTitle, int margin);

/// A label as drawn: UTF-8 decoded, with newlines and tabs shown as \n and \t so that a token
/// such as "\n" stays on one line and stays visible.
QString displayLabel(const std::string& label);

/// Draw every k-th label, k >= 1 the smallest step at which labels `extent` pixels long,
/// placed in slots `slot` pixels apart, do not overlap.
int labelStep(double slot, double extent);

/// One-pixel lines and frames, filled rather than stroked: a stroked 1 px line on a pixel edge
/// comes out crisp in an aliased PNG but as a blurred 2 px line in an antialiased SVG viewer; a
/// filled pixel row is the same in both. A horizontal line takes pixel row floor(y), a vertical
/// one pixel column floor(x).
void horizontalHairline(QPainter& painter, double x0, double x1, double y, const QColor& color);
void verticalHairline(QPainter& painter, double x, double y0, double y1, const QColor& color);
/// A one-pixel frame in the pixels just outside `inner`.
void frameOutside(QPainter& painter, const QRect& inner, const QColor& color);

/// Draws `text` rotated to read bottom to top, its end at `anchor` (for labels hanging below an
/// axis) or, with `centred`, its middle at `anchor` (for vertical axis titles).
void drawVerticalText(QPainter& painter, const QPointF& anchor, double length, const QString& text,
                      bool centred);

}  // namespace cs::viewers::paint
