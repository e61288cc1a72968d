// The Local Interaction Basis interaction graph (ALGORITHMS.md section 9, "Outputs") drawn as a
// layered graph: one column of circles per node layer (area by importance Lambda), lines between
// consecutive columns (width and opacity by interaction strength E), only the edges at or above a
// threshold fraction of the largest E. The screen, PNG and SVG all draw through paint().
#pragma once

#include <QPoint>
#include <QPointF>
#include <QRect>
#include <QString>
#include <QWidget>

#include <compare>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cs::viewers {

/// One node layer: its LIB directions, most important first.
struct InteractionLayer {
  std::string name;                ///< e.g. "blocks.0.hook_resid_pre", "output"
  std::vector<double> importance;  ///< Lambda per direction (finite, >= 0), in LIB order
};

/// The interactions between node layer l and l + 1: E[i][j] is how strongly direction j of layer
/// l drives direction i of layer l + 1.
struct InteractionEdges {
  int rows = 0;                ///< directions of layer l + 1
  int cols = 0;                ///< directions of layer l
  std::vector<double> values;  ///< row-major [rows, cols], finite and >= 0
  double at(int row, int col) const {
    return values[static_cast<size_t>(row) * static_cast<size_t>(cols) + static_cast<size_t>(col)];
  }
};

/// What an InteractionGraphView shows. Plain data: the GUI and the report fill it from a LIB
/// result and hand it to the view, which checks it.
struct InteractionGraphData {
  std::vector<InteractionLayer> layers;  ///< left to right; at least one direction each
  std::vector<InteractionEdges> edges;   ///< edges[l] joins layers[l] and layers[l + 1]
  std::string title;
};

/// One edge: direction `from` of node layer `layer` to direction `to` of layer `layer + 1`.
struct InteractionEdgeId {
  int layer = 0;
  int from = 0;
  int to = 0;
  auto operator<=>(const InteractionEdgeId&) const = default;
};

class InteractionGraphView : public QWidget {
  Q_OBJECT

 public:
  /// What an edge's E is measured against (for width, opacity and the threshold): the largest E
  /// of its own pair of layers, or the largest of the whole graph.
  enum class EdgeScale { PerPair, Global };

  explicit InteractionGraphView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem: an edge matrix count other than layers - 1, a
  /// layer without directions, a matrix whose shape is not [nodes of l + 1, nodes of l] or whose
  /// value count is not rows x cols, a negative or non-finite E or Lambda.
  static void validate(const InteractionGraphData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it. The
  /// selected node stays selected when it is still drawn. No layers draws "no data".
  void setData(InteractionGraphData data);
  const InteractionGraphData& data() const { return m_data; }

  /// Edges with E >= fraction x (the largest E, see EdgeScale) and E > 0 are drawn. Clamped to
  /// [0, 1]; NaN is ignored. Emits thresholdChanged when the value changes.
  void setThreshold(double fraction);
  double threshold() const { return m_threshold; }

  void setEdgeScale(EdgeScale scale);
  EdgeScale edgeScale() const { return m_edgeScale; }

  /// At most this many directions per layer are drawn (the first, the most important); the
  /// column says how many more there are. Throws cs::ConfigError below 1.
  void setMaxNodesPerLayer(int count);
  int maxNodesPerLayer() const { return m_maxNodes; }

  /// Directions drawn in `layer` (0 for a bad layer).
  int visibleNodes(int layer) const;

  /// The edges drawn (between drawn nodes, at or above the threshold) and all edges with E > 0.
  int edgesShown() const;
  int edgesTotal() const;
  /// "12 of 40 edges shown", as the view prints it.
  QString edgeSummary() const;

  /// The highlighted node: it, its drawn edges and their other ends keep full colour, the rest
  /// is dimmed. Setting it emits nothing; a node that is not drawn clears it.
  void setSelectedNode(std::optional<std::pair<int, int>> node);
  std::optional<std::pair<int, int>> selectedNode() const { return m_selected; }

  static QColor nodeColor();
  static QColor edgeColor();

  /// Draws the whole view into `bounds`. paintEvent, renderToPng and renderToSvg all call it.
  void paint(QPainter& painter, const QRect& bounds) const;

  /// Where paint() centres node `node` of `layer`; (-1, -1) for a bad or hidden node.
  QPointF nodeCenter(int layer, int node, const QRect& bounds) const;
  /// The node's drawn radius: proportional to sqrt(Lambda / the layer's largest Lambda), so area
  /// follows Lambda, with a minimum that stays visible; 0 for a bad or hidden node.
  double nodeRadius(int layer, int node, const QRect& bounds) const;
  /// The width paint() draws a shown edge with; 0 for an edge that is not drawn.
  double edgeWidth(const InteractionEdgeId& edge, const QRect& bounds) const;

  /// The drawn node under `point` (within its circle, or a few pixels of a small one).
  std::optional<std::pair<int, int>> nodeAt(const QPoint& point, const QRect& bounds) const;
  /// The drawn edge nearest `point` within reach of its line, where there is no node.
  std::optional<InteractionEdgeId> edgeAt(const QPoint& point, const QRect& bounds) const;

  /// "blocks.0.hook_resid_pre, direction 3: Λ = 0.12" and its strongest incoming and outgoing
  /// edges over all directions of the neighbouring layers.
  QString nodeToolTip(int layer, int node) const;
  /// "3 -> 1: E = 0.5" and the two layers' names.
  QString edgeToolTip(const InteractionEdgeId& edge) const;
  /// The tooltip of the node or edge under `point` (widget coordinates); empty where none.
  QString toolTipAt(const QPoint& point) const;

  /// "L0 resid_pre" for "blocks.0.hook_resid_pre": the column caption.
  static QString shortLayerName(const std::string& name);

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void thresholdChanged(double fraction);
  /// The user left-clicked a drawn node; it is now selected.
  void nodeClicked(int layer, int node);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  struct Geometry;
  struct Edge;
  Geometry geometryFor(const QRect& bounds) const;
  std::vector<Edge> shownEdges() const;
  double reference(int layer) const;
  bool valid(int layer, int node) const;
  bool drawn(int layer, int node) const;

  InteractionGraphData m_data;
  std::vector<double> m_layerMax;  // the largest Lambda of each layer
  std::vector<double> m_pairMax;   // the largest E of each edge matrix
  double m_globalMax = 0.0;
  int m_edgesTotal = 0;
  double m_threshold = 0.1;
  EdgeScale m_edgeScale = EdgeScale::PerPair;
  int m_maxNodes = 40;
  std::optional<std::pair<int, int>> m_selected;
};

}  // namespace cs::viewers
