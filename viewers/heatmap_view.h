// A heatmap widget: cells coloured by a ColorScale, row and column labels (thinned where they
// would overlap), axis titles, a title and a colour-bar legend. The screen, PNG and SVG all draw
// through paint(), so the report and the GUI never draw a heatmap two ways.
#pragma once

#include <QRect>
#include <QWidget>

#include <optional>

#include "viewers/color_scale.h"
#include "viewers/heatmap_data.h"

namespace cs::viewers {

/// A cell of the heatmap.
struct HeatmapCell {
  int row = 0;
  int column = 0;
  bool operator==(const HeatmapCell&) const = default;
};

class HeatmapView : public QWidget {
  Q_OBJECT

 public:
  explicit HeatmapView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem when `data` cannot be drawn: label counts that
  /// match neither the matrix nor zero, non-finite or empty fixed ranges.
  static void validate(const HeatmapData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it.
  /// A matrix with no rows or no columns draws a "no data" message.
  void setData(HeatmapData data);
  const HeatmapData& data() const { return m_data; }

  /// The scale the current data is drawn with.
  const ColorScale& colorScale() const { return m_scale; }

  /// Draws the whole heatmap into `bounds`. paintEvent, renderToPng and renderToSvg all call it.
  void paint(QPainter& painter, const QRect& bounds) const;

  /// Where paint() puts a cell, and the legend's colour bar (max at the top), for `bounds`.
  /// Empty rectangles when there is no data.
  QRect cellRect(int row, int column, const QRect& bounds) const;
  QRect legendBarRect(const QRect& bounds) const;

  /// The cell under `point` (widget coordinates), if any.
  std::optional<HeatmapCell> cellAt(const QPoint& point) const;

  /// The hover text for a cell: its row and column (titles and labels) and value.
  QString toolTipText(int row, int column) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  /// The user clicked a cell (left button).
  void cellClicked(int row, int column);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;

  QString rowLabel(int row) const;
  QString columnLabel(int column) const;

  HeatmapData m_data;
  ColorScale m_scale;
};

}  // namespace cs::viewers
