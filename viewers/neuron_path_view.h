// An influential neuron path (ALGORITHMS.md section 1) drawn across layers: one column per layer,
// each a compact colour strip of that layer's FFN candidate scores (binned by largest |score|
// when the strip is shorter than the layer is wide, so a strong neuron never vanishes), the
// chosen path and the activation-argmax baseline joined column to column, and the neurons the
// user masked or enhanced marked. The screen, PNG and SVG all draw through paint().
#pragma once

#include <QPoint>
#include <QPointF>
#include <QRect>
#include <QString>
#include <QWidget>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "viewers/color_scale.h"

namespace cs::viewers {

/// One neuron of the view: `neuron` of layer column `column` (an index into layerLabels).
struct NeuronMark {
  int column = 0;
  std::int64_t neuron = 0;
  auto operator<=>(const NeuronMark&) const = default;
};

/// What a NeuronPathView shows. Plain data: the GUI and the report fill it from a neuron path
/// result and hand it to the view, which checks it.
struct NeuronPathData {
  /// One per column, left to right, e.g. "L0".."L11"; their count is the column count.
  std::vector<std::string> layerLabels;
  /// Per column, the candidate score of each of the layer's neurons (widths may differ, at least
  /// one neuron each). NaN: not available (drawn grey); infinities are refused.
  std::vector<std::vector<double>> scores;
  /// Per column, the chosen neurons best first (top-K): path[c][0] is the path neuron of column
  /// c. Empty: no path drawn; else one non-empty entry per column.
  std::vector<std::vector<std::int64_t>> path;
  /// The baseline (activation-argmax) path, laid out like `path`; empty: none drawn.
  std::vector<std::vector<std::int64_t>> baselinePath;
  std::string pathName = "neuron path";
  std::string baselineName = "activation path";
  /// What the paths' scores are, printed between name and score in the legend.
  std::string pathScoreName = "JAS";
  std::optional<double> pathScore;  // finite when set; unset: the legend shows the name alone
  std::optional<double> baselineScore;
  /// Neurons the user set to 0 (crossed, left of the strip) and enhanced (a plus, right of it).
  std::vector<NeuronMark> masked;
  std::vector<NeuronMark> enhanced;
  std::string title;
  std::string scoreName;      // what the strips show, e.g. "candidate score"; "score" when empty
  std::optional<double> min;  // fixed colour-scale ends; unset: symmetric about 0 from the data
  std::optional<double> max;
};

class NeuronPathView : public QWidget {
  Q_OBJECT

 public:
  enum class MarkKind { Masked, Enhanced };

  explicit NeuronPathView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem: label and score column counts that differ, an
  /// empty or infinite-scored column, a path (or baseline) whose length is not the column count,
  /// a path column without neurons, a path or marked neuron outside its layer's width, a
  /// non-finite path score, non-finite or empty fixed ranges.
  static void validate(const NeuronPathData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it. No
  /// columns draws a "no data" message.
  void setData(NeuronPathData data);
  const NeuronPathData& data() const { return m_data; }

  /// Replaces the masked and enhanced neurons only. Throws cs::ConfigError (and keeps the old
  /// marks) for a mark outside the columns or its layer's width.
  void setMarked(std::vector<NeuronMark> masked, std::vector<NeuronMark> enhanced);

  /// The diverging scale the strips are coloured with.
  const ColorScale& colorScale() const { return m_scale; }

  /// The colours of the path (solid line, filled circles) and the baseline (dashed line, filled
  /// diamonds).
  static QColor pathColor();
  static QColor baselineColor();

  /// Draws the whole view into `bounds`. paintEvent, renderToPng and renderToSvg all call it.
  void paint(QPainter& painter, const QRect& bounds) const;

  /// Column `column`'s strip for `bounds`: its top row is neuron 0, and one neuron index maps to
  /// the same height in every column, so a narrower layer has a shorter strip. Empty for a bad
  /// column or no data.
  QRect columnRect(int column, const QRect& bounds) const;

  /// The pixel at which paint() centres neuron `neuron`'s marker in `column` (the middle row of
  /// the neuron's rows, or the row of its bin when neurons share rows); its toPoint() lies
  /// inside the strip. (-1, -1) for a bad column or neuron.
  QPointF neuronPoint(int column, std::int64_t neuron, const QRect& bounds) const;

  /// Where paint() draws a mask cross (left of the strip) or an enhance plus (right of it) for
  /// the neuron; empty for a bad column or neuron.
  QRect markRect(MarkKind kind, int column, std::int64_t neuron, const QRect& bounds) const;

  /// The legend's colour bar (min on the left); empty without data.
  QRect legendBarRect(const QRect& bounds) const;

  /// The neuron under `point`: a path, baseline or mark symbol near the point first (so clicking
  /// a drawn marker picks its neuron even in a dense strip), else the strip row's neuron (in a
  /// binned row, the one with the largest |score|, the one whose colour the row shows).
  std::optional<std::pair<int, std::int64_t>> neuronAt(const QPoint& point,
                                                       const QRect& bounds) const;

  /// "layer L3, neuron 17: score 0.412", and a line for each path or mark the neuron is on.
  QString toolTipText(int column, std::int64_t neuron) const;
  /// toolTipText() of the neuron under `point` (widget coordinates); empty where there is none.
  QString toolTipAt(const QPoint& point) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  /// The user left-clicked a neuron (see neuronAt()); the GUI decides what the modifiers mean
  /// (e.g. click: mask, Shift-click: enhance). The view changes no marks itself.
  void neuronClicked(int layerColumn, qint64 neuron, Qt::KeyboardModifiers modifiers);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;
  QString scoreName() const;
  QString layerLabel(int column) const;

  NeuronPathData m_data;
  ColorScale m_scale;
  std::int64_t m_maxWidth = 0;  // the widest column's neuron count
};

}  // namespace cs::viewers
