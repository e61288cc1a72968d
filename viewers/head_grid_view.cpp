// Head grid. The selection ring and the mask crosses are drawn in HeatmapView's overlay step, so
// they sit on the cells exactly where cellRect() says and appear in every export.
#include "viewers/head_grid_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPen>

#include <algorithm>
#include <cmath>
#include <limits>

#include "viewers/paint_helpers.h"

namespace cs::viewers {

HeadGridView::HeadGridView(QWidget* parent) : HeatmapView(parent) {
  connect(this, &HeatmapView::cellClicked, this, [this](int row, int column) {
    setSelectedHead(HeadId{row, column});
    emit headSelected(row, column);
  });
}

namespace {

// Built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string numbered(char prefix, Eigen::Index index) {
  std::string text(1, prefix);
  text += std::to_string(index);
  return text;
}

}  // namespace

HeatmapData HeadGridView::heatmapFor(const HeadGridData& data) {
  HeatmapData heatmap;
  heatmap.values = data.scores;
  for (Eigen::Index layer = 0; layer < data.scores.rows(); ++layer) {
    heatmap.rowLabels.push_back(numbered('L', layer));
  }
  for (Eigen::Index head = 0; head < data.scores.cols(); ++head) {
    heatmap.columnLabels.push_back(numbered('H', head));
  }
  heatmap.rowTitle = "layer";
  heatmap.columnTitle = "head";
  heatmap.title = data.title;
  heatmap.min = data.min;
  heatmap.max = data.max;
  heatmap.annotate = data.annotate;
  if (data.scale) {
    heatmap.scale = *data.scale;
  } else {
    // Signed scores (an effect that helps some heads and hurts others) need white at zero.
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const double v : data.scores.reshaped()) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    heatmap.scale = lo < 0.0 && hi > 0.0 ? ScaleKind::Diverging : ScaleKind::Sequential;
  }
  return heatmap;
}

void HeadGridView::validate(const HeadGridData& data) { HeatmapView::validate(heatmapFor(data)); }

void HeadGridView::setData(HeadGridData data) {
  HeatmapView::setData(heatmapFor(data));
  m_grid = std::move(data);
}

void HeadGridView::setSelectedHead(std::optional<HeadId> head) {
  if (head == m_selected) return;
  m_selected = head;
  update();
}

void HeadGridView::setMaskedHeads(std::set<HeadId> heads) {
  if (heads == m_masked) return;
  m_masked = std::move(heads);
  update();
}

bool HeadGridView::contains(const HeadId& head) const {
  return head.layer >= 0 && head.head >= 0 && head.layer < m_grid.scores.rows() &&
         head.head < m_grid.scores.cols();
}

void HeadGridView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton &&
      (event->modifiers() & (Qt::ControlModifier | Qt::ShiftModifier))) {
    if (const auto cell = cellAt(event->position().toPoint())) {
      emit headMaskToggled(cell->row, cell->column);
      return;
    }
  }
  HeatmapView::mousePressEvent(event);
}

void HeadGridView::paintOverlay(QPainter& painter, const QRect& bounds) const {
  for (const HeadId& head : m_masked) {
    if (!contains(head)) continue;
    const QRect cell = cellRect(head.layer, head.head, bounds);
    if (cell.isEmpty()) continue;
    // A cross in black or white, whichever reads on the cell, thick enough to see on small
    // cells and kept inside the cell.
    const QColor fill = colorScale().color(m_grid.scores(head.layer, head.head));
    QPen pen(paint::textColorOn(fill));
    pen.setWidthF(std::max(2.0, std::min(cell.width(), cell.height()) / 16.0));
    painter.save();
    painter.setClipRect(cell);
    painter.setRenderHint(QPainter::Antialiasing, true);
    painter.setPen(pen);
    const QRectF box = QRectF(cell).adjusted(0, 0, 1, 1);  // the cell's outer pixel edges
    painter.drawLine(box.topLeft(), box.bottomRight());
    painter.drawLine(box.topRight(), box.bottomLeft());
    painter.restore();
  }
  if (m_selected && contains(*m_selected)) {
    const QRect cell = cellRect(m_selected->layer, m_selected->head, bounds);
    if (cell.width() >= 6 && cell.height() >= 6) {
      // A dark ring on the cell's edge and a white one inside it: one of them shows on any
      // colour of either scale.
      paint::frameOutside(painter, cell.adjusted(1, 1, -1, -1), paint::textColor());
      paint::frameOutside(painter, cell.adjusted(2, 2, -2, -2), paint::textColor());
      paint::frameOutside(painter, cell.adjusted(3, 3, -3, -3), paint::backgroundColor());
    } else if (!cell.isEmpty()) {
      paint::frameOutside(painter, cell, paint::textColor());
    }
  }
}

}  // namespace cs::viewers
