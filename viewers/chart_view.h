// A bar or line chart widget: grouped bars with value labels, or lines with markers (left out
// when the points are too dense to tell apart); axes with
// round ticks; a legend when there is more than one series. The screen, PNG and SVG all draw
// through paint(), so the report and the GUI never draw a chart two ways.
#pragma once

#include <QPointF>
#include <QRect>
#include <QRectF>
#include <QWidget>

#include <optional>

#include "viewers/chart_data.h"

namespace cs::viewers {

class ChartView : public QWidget {
  Q_OBJECT

 public:
  explicit ChartView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem when `data` cannot be drawn: series whose length
  /// differs from the categories or x values, x values on a bar chart, both x values and
  /// categories on a line chart, non-finite x values, infinite y values (NaN means missing),
  /// non-finite or empty fixed y ranges.
  static void validate(const ChartData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it.
  /// No series, or no categories and no x values, draws a "no data" message.
  void setData(ChartData data);
  const ChartData& data() const { return m_data; }

  /// Draws the whole chart into `bounds`. paintEvent, renderToPng and renderToSvg all call it.
  void paint(QPainter& painter, const QRect& bounds) const;

  /// The plotting area paint() uses for `bounds` (axes on its left and bottom edges); empty when
  /// there is no data.
  QRectF plotRect(const QRect& bounds) const;

  /// The y axis range drawn: fixed ends where given, else round values around the data.
  std::pair<double, double> yRange() const;

  /// Where the point (x, y) lands for `bounds`. On a categorical axis (bars, or a line over
  /// categories) x is the category index.
  QPointF valueToPixel(double x, double y, const QRect& bounds) const;

  /// The bar of `series` in `category` as drawn for `bounds` (bar charts; empty otherwise).
  QRectF barRect(int series, int category, const QRect& bounds) const;

  /// The hover text at `point` (widget coordinates): series, category or x, and value of the bar
  /// or marker there; empty when there is none.
  QString toolTipAt(const QPoint& point) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;
  QRectF barRectIn(const Geometry& geometry, int series, int category) const;

  int pointCount() const;
  bool categorical() const;
  double xAt(int index) const;  // the x coordinate of the index-th category or x value

  ChartData m_data;
};

}  // namespace cs::viewers
