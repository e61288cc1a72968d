// A heatmap widget: cells coloured by a ColorScale, row and column labels (thinned where they
// would overlap), axis titles, a title and a colour-bar legend. The screen, PNG and SVG all draw
// through paint(), so the report and the GUI never draw a heatmap two ways. The cells' colours are
// computed once per setData into an image, so that a 1024 x 1024 attention pattern repaints fast.
#pragma once

#include <QImage>
#include <QRect>
#include <QWidget>

#include <optional>
#include <utility>

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

  /// The cells' colours, one pixel per cell (x the column, y the row), NaN grey. Built by setData
  /// and only there: painting reuses it (a null image when there is no data).
  const QImage& cellImage() const { return m_cells; }

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

 Q_SIGNALS:
  /// The user clicked a cell (left button).
  void cellClicked(int row, int column);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

  /// Called by paint() after the cells, their frame and annotations, before the labels: for
  /// marks on cells (a selection, masked heads) that the PNG and SVG must show too. Find cells
  /// with cellRect(row, column, bounds). The painter's state is restored afterwards.
  virtual void paintOverlay(QPainter& painter, const QRect& bounds) const;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;

  // The widest row and column labels in `font`: measured once per data and font, since every
  // hit test lays the heatmap out again and 1024 labels a side take milliseconds to measure.
  std::pair<double, double> labelWidths(const QFont& font) const;

  // m_cells spread over `size` device pixels, each pixel taking the cell whose edges (as in
  // cellRect) hold it; rebuilt when the size or the data changes.
  const QImage& gridImage(QSize size) const;

  QString rowLabel(int row) const;
  QString columnLabel(int column) const;

  HeatmapData m_data;
  ColorScale m_scale;
  QImage m_cells;  // [rows, columns] as height x width
  mutable QImage m_gridImage;
  mutable qint64 m_gridImageSource = 0;  // m_cells.cacheKey() that m_gridImage was built from
  mutable std::optional<std::pair<double, double>> m_labelWidths;  // row, column
  mutable QFont m_labelWidthsFont;
};

}  // namespace cs::viewers
