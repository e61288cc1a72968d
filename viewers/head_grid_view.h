// A layers x heads heatmap of any per-head score (patching effect, divergence, direct logit
// attribution, ...). Click a cell to select that head; Ctrl- or Shift-click asks to toggle its
// mask. Masked heads are crossed out and the selection outlined inside paint(), so PNG and SVG
// exports show them as the screen does.
#pragma once

#include <Eigen/Core>

#include <compare>
#include <optional>
#include <set>
#include <string>

#include "viewers/heatmap_view.h"

namespace cs::viewers {

/// One attention head.
struct HeadId {
  int layer = 0;
  int head = 0;
  auto operator<=>(const HeadId&) const = default;
};

/// What a HeadGridView shows. Plain data like HeatmapData.
struct HeadGridData {
  Eigen::MatrixXd scores;  // [layers, heads]; NaN draws grey (no score, or no such head)
  std::string title;       // e.g. "logit difference restored by patching each head"
  /// Unset: diverging when the finite scores have both signs, else sequential.
  std::optional<ScaleKind> scale;
  std::optional<double> min;  // fixed colour-scale ends, as in HeatmapData
  std::optional<double> max;
  bool annotate = false;  // print each score in its cell where it fits
};

/// A HeatmapView whose rows are labelled "L0", "L1", ... (title "layer") and whose columns "H0",
/// "H1", ... (title "head"). Fill it with setData(HeadGridData); the inherited cell geometry,
/// hit tests and tooltips apply unchanged.
class HeadGridView : public HeatmapView {
  Q_OBJECT

 public:
  explicit HeadGridView(QWidget* parent = nullptr);

  /// The heatmap `data` becomes (labels, titles, the scale chosen).
  static HeatmapData heatmapFor(const HeadGridData& data);

  /// Throws cs::ConfigError as HeatmapView::validate does (bad fixed ranges).
  static void validate(const HeadGridData& data);

  /// Checks and shows `data`; on error the view keeps what it showed. The selection and the
  /// masked heads are kept (those outside the new grid are simply not drawn).
  void setData(HeadGridData data);
  const HeadGridData& gridData() const { return m_grid; }

  /// The outlined head; none at first. Setting it emits nothing.
  void setSelectedHead(std::optional<HeadId> head);
  std::optional<HeadId> selectedHead() const { return m_selected; }

  /// The heads drawn crossed out. The view never changes them itself: a Ctrl/Shift-click only
  /// emits headMaskToggled, and the owner of the masks calls this with the new set.
  void setMaskedHeads(std::set<HeadId> heads);
  const std::set<HeadId>& maskedHeads() const { return m_masked; }

 Q_SIGNALS:
  /// A plain left click on a cell: that head is now selected (and outlined).
  void headSelected(int layer, int head);
  /// A left click with Ctrl or Shift held on a cell: the user asks to mask or unmask the head.
  void headMaskToggled(int layer, int head);

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void paintOverlay(QPainter& painter, const QRect& bounds) const override;

 private:
  bool contains(const HeadId& head) const;

  HeadGridData m_grid;
  std::optional<HeadId> m_selected;
  std::set<HeadId> m_masked;
};

}  // namespace cs::viewers
