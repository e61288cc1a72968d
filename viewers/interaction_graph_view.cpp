// Interaction graph painting. One geometry function lays out the legend line, the columns and the
// captions for a given rectangle; paint(), the hit tests and the accessors all use it, so what is
// clicked is what is drawn. Node n sits at the same height in every column, so the LIB order
// (most important first) reads across layers. Edge extremes are taken over whole matrices, hidden
// nodes included, so the threshold means the same whatever number of nodes is drawn.
#include "viewers/interaction_graph_view.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <QPainter>
#include <QPen>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "viewers/axis_ticks.h"
#include "viewers/paint_helpers.h"

namespace cs::viewers {
namespace {

constexpr int kMargin = 8;
constexpr int kGap = 4;
constexpr int kLegendItemGap = 16;
constexpr double kMaxPitch = 48.0;  // a small graph is not stretched over the whole height
constexpr double kMinRadius = 2.0;  // the least important node still shows
constexpr double kMaxRadius = 16.0;
constexpr double kMinEdgeWidth = 0.75;
constexpr double kMaxEdgeWidth = 6.0;
constexpr double kMinEdgeOpacity = 0.1;
constexpr double kDimmedOpacity = 0.15;  // what is left of an edge away from the selection
constexpr double kNodeReach = 4.0;       // a small node is clickable this far from its centre
constexpr double kEdgeReach = 3.0;

std::string viewName(const InteractionGraphData& data) {
  return data.title.empty() ? std::string("interaction graph view")
                            : "interaction graph view '" + data.title + "'";
}

std::string layerName(const InteractionGraphData& data, size_t layer) {
  std::string name = "layer ";
  name += std::to_string(layer);
  if (layer < data.layers.size() && !data.layers[layer].name.empty()) {
    name += " (";
    name += data.layers[layer].name;
    name += ')';
  }
  return name;
}

std::string pairName(const InteractionGraphData& data, size_t pair) {
  std::string name = "edge matrix ";
  name += std::to_string(pair);
  name += " (";
  name += layerName(data, pair);
  name += " -> ";
  name += layerName(data, pair + 1);
  name += ')';
  return name;
}

QColor blend(const QColor& color, const QColor& background, double keep) {
  const auto mix = [&](int a, int b) {
    return static_cast<int>(std::lround(keep * a + (1 - keep) * b));
  };
  return QColor(mix(color.red(), background.red()), mix(color.green(), background.green()),
                mix(color.blue(), background.blue()));
}

double segmentDistance(const QPointF& p, const QPointF& a, const QPointF& b) {
  const QPointF ab = b - a;
  const double length2 = QPointF::dotProduct(ab, ab);
  const double t =
      length2 > 0.0 ? std::clamp(QPointF::dotProduct(p - a, ab) / length2, 0.0, 1.0) : 0.0;
  const QPointF nearest = a + t * ab;
  return std::hypot(p.x() - nearest.x(), p.y() - nearest.y());
}

QString percent(double fraction) {
  return QString::fromStdString(formatValue(100.0 * fraction)) + QLatin1Char('%');
}

}  // namespace

struct InteractionGraphView::Edge {
  InteractionEdgeId id;
  double value = 0.0;
  double norm = 0.0;  // value / its reference, in (0, 1]
};

struct InteractionGraphView::Geometry {
  bool empty = true;
  QFont titleFont;
  QFont labelFont;
  QFont valueFont;
  double lineHeight = 0.0;
  double valueLineHeight = 0.0;
  QRectF titleRect;
  QRectF messageRect;  // "no data"

  // The legend line: "<N of M edges shown>  <threshold>  <what sizes mean>", wrapping.
  std::vector<std::pair<QRectF, QString>> legend;

  double plotTop = 0.0;
  double pitch = 0.0;  // vertical distance between node centres
  double maxRadius = 0.0;
  double maxEdgeWidth = 0.0;
  double slotWidth = 0.0;
  std::vector<double> slotCentres;
  std::vector<int> visible;
  double captionTop = 0.0;
  int labelStep = 1;

  QPointF centre(int layer, int node) const {
    return QPointF(slotCentres[static_cast<size_t>(layer)], plotTop + (node + 0.5) * pitch);
  }
  double edgeWidth(double norm) const { return std::max(kMinEdgeWidth, maxEdgeWidth * norm); }
};

InteractionGraphView::InteractionGraphView(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
}

QColor InteractionGraphView::nodeColor() { return QColor(0xf2, 0x8e, 0x2b); }
QColor InteractionGraphView::edgeColor() { return QColor(0x4e, 0x79, 0xa7); }

void InteractionGraphView::validate(const InteractionGraphData& data) {
  const size_t layers = data.layers.size();
  const size_t expected = layers == 0 ? 0 : layers - 1;
  if (data.edges.size() != expected) {
    throw ConfigError(viewName(data) + ": " + std::to_string(layers) + " node layers need " +
                      std::to_string(expected) + " edge matrices (one per consecutive pair), got " +
                      std::to_string(data.edges.size()) +
                      "; check that layers and edges come from the same LIB result");
  }
  for (size_t l = 0; l < layers; ++l) {
    const std::vector<double>& importance = data.layers[l].importance;
    if (importance.empty()) {
      throw ConfigError(viewName(data) + ": " + layerName(data, l) +
                        " has no directions; give the importance Lambda of each of its nodes");
    }
    for (size_t n = 0; n < importance.size(); ++n) {
      if (!std::isfinite(importance[n]) || importance[n] < 0.0) {
        throw ConfigError(viewName(data) + ": the importance Lambda of direction " +
                          std::to_string(n) + " in " + layerName(data, l) + " is " +
                          formatValue(importance[n]) + "; importances must be finite and >= 0");
      }
    }
  }
  for (size_t p = 0; p < data.edges.size(); ++p) {
    const InteractionEdges& edges = data.edges[p];
    const size_t fromNodes = data.layers[p].importance.size();
    const size_t toNodes = data.layers[p + 1].importance.size();
    if (edges.rows < 0 || edges.cols < 0 || static_cast<size_t>(edges.rows) != toNodes ||
        static_cast<size_t>(edges.cols) != fromNodes) {
      throw ConfigError(viewName(data) + ": " + pairName(data, p) + " is " +
                        std::to_string(edges.rows) + " x " + std::to_string(edges.cols) +
                        " but must be [nodes of layer " + std::to_string(p + 1) +
                        ", nodes of layer " + std::to_string(p) + "] = " + std::to_string(toNodes) +
                        " x " + std::to_string(fromNodes));
    }
    const size_t count = static_cast<size_t>(edges.rows) * static_cast<size_t>(edges.cols);
    if (edges.values.size() != count) {
      throw ConfigError(viewName(data) + ": " + pairName(data, p) + " has " +
                        std::to_string(edges.values.size()) + " values but its " +
                        std::to_string(edges.rows) + " x " + std::to_string(edges.cols) +
                        " shape needs " + std::to_string(count) + " (row-major)");
    }
    for (size_t k = 0; k < count; ++k) {
      const double v = edges.values[k];
      if (std::isfinite(v) && v >= 0.0) continue;
      const size_t row = k / static_cast<size_t>(edges.cols);
      const size_t col = k % static_cast<size_t>(edges.cols);
      throw ConfigError(viewName(data) + ": " + pairName(data, p) + " has E = " + formatValue(v) +
                        " at [" + std::to_string(row) + ", " + std::to_string(col) +
                        "] (direction " + std::to_string(col) + " -> " + std::to_string(row) +
                        "); interaction strengths must be finite and >= 0");
    }
  }
}

void InteractionGraphView::setData(InteractionGraphData data) {
  validate(data);
  m_layerMax.clear();
  for (const InteractionLayer& layer : data.layers) {
    m_layerMax.push_back(*std::max_element(layer.importance.begin(), layer.importance.end()));
  }
  m_pairMax.clear();
  m_globalMax = 0.0;
  m_edgesTotal = 0;
  for (const InteractionEdges& edges : data.edges) {
    double largest = 0.0;
    for (const double v : edges.values) {
      largest = std::max(largest, v);
      if (v > 0.0) ++m_edgesTotal;
    }
    m_pairMax.push_back(largest);
    m_globalMax = std::max(m_globalMax, largest);
  }
  m_data = std::move(data);
  if (m_selected && !drawn(m_selected->first, m_selected->second)) m_selected.reset();
  update();
}

void InteractionGraphView::setThreshold(double fraction) {
  if (std::isnan(fraction)) return;
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (fraction == m_threshold) return;
  m_threshold = fraction;
  update();
  Q_EMIT thresholdChanged(fraction);
}

void InteractionGraphView::setEdgeScale(EdgeScale scale) {
  if (scale == m_edgeScale) return;
  m_edgeScale = scale;
  update();
}

void InteractionGraphView::setMaxNodesPerLayer(int count) {
  if (count < 1) {
    throw ConfigError(viewName(m_data) + ": cannot draw at most " + std::to_string(count) +
                      " nodes per layer; give 1 or more");
  }
  m_maxNodes = count;
  if (m_selected && !drawn(m_selected->first, m_selected->second)) m_selected.reset();
  update();
}

int InteractionGraphView::visibleNodes(int layer) const {
  if (layer < 0 || static_cast<size_t>(layer) >= m_data.layers.size()) return 0;
  const auto count = m_data.layers[static_cast<size_t>(layer)].importance.size();
  return static_cast<int>(std::min(count, static_cast<size_t>(m_maxNodes)));
}

bool InteractionGraphView::valid(int layer, int node) const {
  return layer >= 0 && static_cast<size_t>(layer) < m_data.layers.size() && node >= 0 &&
         static_cast<size_t>(node) < m_data.layers[static_cast<size_t>(layer)].importance.size();
}

bool InteractionGraphView::drawn(int layer, int node) const {
  return valid(layer, node) && node < visibleNodes(layer);
}

double InteractionGraphView::reference(int layer) const {
  return m_edgeScale == EdgeScale::Global ? m_globalMax : m_pairMax[static_cast<size_t>(layer)];
}

std::vector<InteractionGraphView::Edge> InteractionGraphView::shownEdges() const {
  std::vector<Edge> shown;
  for (int p = 0; p < static_cast<int>(m_data.edges.size()); ++p) {
    const double ref = reference(p);
    if (ref <= 0.0) continue;
    const InteractionEdges& edges = m_data.edges[static_cast<size_t>(p)];
    const int toCount = visibleNodes(p + 1);
    const int fromCount = visibleNodes(p);
    for (int to = 0; to < toCount; ++to) {
      for (int from = 0; from < fromCount; ++from) {
        const double v = edges.at(to, from);
        if (v <= 0.0) continue;
        const double norm = v / ref;
        if (norm >= m_threshold) shown.push_back({{p, from, to}, v, norm});
      }
    }
  }
  return shown;
}

int InteractionGraphView::edgesShown() const { return static_cast<int>(shownEdges().size()); }
int InteractionGraphView::edgesTotal() const { return m_edgesTotal; }

QString InteractionGraphView::edgeSummary() const {
  return QStringLiteral("%1 of %2 edges shown").arg(edgesShown()).arg(m_edgesTotal);
}

void InteractionGraphView::setSelectedNode(std::optional<std::pair<int, int>> node) {
  if (node && !drawn(node->first, node->second)) node.reset();
  if (node == m_selected) return;
  m_selected = node;
  update();
}

QString InteractionGraphView::shortLayerName(const std::string& name) {
  QString text = paint::displayLabel(name);
  // "blocks.3.hook_resid_pre" -> "L3 resid_pre", "blocks.0.mlp.hook_post" -> "L0 mlp post".
  if (text.startsWith(QLatin1String("blocks."))) text = QLatin1Char('L') + text.mid(7);
  text.replace(QLatin1String("hook_"), QString());
  text.replace(QLatin1Char('.'), QLatin1Char(' '));
  return text;
}

InteractionGraphView::Geometry InteractionGraphView::geometryFor(const QRect& bounds) const {
  Geometry g;
  const auto frame = paint::frameFor(font(), bounds, !m_data.title.empty(), kMargin);
  g.titleFont = frame.titleFont;
  g.labelFont = frame.labelFont;
  g.valueFont = frame.valueFont;
  g.lineHeight = frame.lineHeight;
  g.valueLineHeight = QFontMetricsF(g.valueFont).height();
  g.titleRect = frame.titleRect;
  const size_t layers = m_data.layers.size();
  if (layers == 0) {
    g.messageRect = QRectF(frame.left, frame.top, frame.right - frame.left,
                           std::max(0.0, frame.bottom - frame.top));
    return g;
  }
  g.empty = false;
  const QFontMetricsF metrics(g.labelFont);
  const double lh = g.lineHeight;
  const double vlh = g.valueLineHeight;

  double x = frame.left;
  double y = frame.top;
  const auto add = [&](const QString& text) {
    const double width = metrics.horizontalAdvance(text);
    if (x > frame.left && x + width > frame.right) {
      x = frame.left;
      y += lh;
    }
    g.legend.emplace_back(QRectF(x, y, width, lh), text);
    x += width + kLegendItemGap;
  };
  add(edgeSummary());
  const QString against = m_edgeScale == EdgeScale::Global
                              ? QStringLiteral("the largest E of the graph")
                              : QStringLiteral("the largest E of each layer pair");
  add(m_threshold > 0.0 ? QStringLiteral("E ≥ %1 of %2").arg(percent(m_threshold), against)
                        : QStringLiteral("every E > 0"));
  add(QStringLiteral("node area ∝ Λ, edge width ∝ E / %1").arg(against));
  g.plotTop = y + lh + 2 * kGap;

  // Below the nodes: a "+ N more" line, then the layer captions.
  const double plotHeight = std::max(1.0, frame.bottom - lh - kGap - vlh - g.plotTop);
  int tallest = 1;
  for (size_t l = 0; l < layers; ++l) {
    g.visible.push_back(visibleNodes(static_cast<int>(l)));
    tallest = std::max(tallest, g.visible.back());
  }
  g.pitch = std::min(kMaxPitch, plotHeight / tallest);
  g.captionTop = g.plotTop + tallest * g.pitch + vlh + kGap;

  g.slotWidth = std::max(1.0, (frame.right - frame.left) / static_cast<double>(layers));
  double widestLabel = 0.0;
  for (size_t l = 0; l < layers; ++l) {
    g.slotCentres.push_back(frame.left + (static_cast<double>(l) + 0.5) * g.slotWidth);
    widestLabel =
        std::max(widestLabel, metrics.horizontalAdvance(shortLayerName(m_data.layers[l].name)));
  }
  g.labelStep = paint::labelStep(g.slotWidth, widestLabel);
  g.maxRadius = std::clamp(std::min(0.45 * g.pitch, 0.15 * g.slotWidth), kMinRadius, kMaxRadius);
  g.maxEdgeWidth = std::clamp(0.5 * g.pitch, 1.0, kMaxEdgeWidth);
  return g;
}

namespace {

double radiusOf(double importance, double layerMax, double maxRadius) {
  const double share = layerMax > 0.0 ? importance / layerMax : 0.0;
  return std::max(kMinRadius, maxRadius * std::sqrt(share));
}

}  // namespace

void InteractionGraphView::paint(QPainter& painter, const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (!paint::beginFigure(painter, bounds, m_data.title, g.titleFont, g.titleRect, g.labelFont,
                          g.empty, g.messageRect)) {
    return;
  }
  const int layers = static_cast<int>(m_data.layers.size());
  painter.setPen(paint::textColor());
  for (const auto& [rect, text] : g.legend) {
    painter.drawText(rect, Qt::AlignLeft | Qt::AlignVCenter, text);
  }

  // Edges: away from the selection first and dimmed, then the selection's own; within each, weak
  // under strong so that a strong edge is never hidden under a crowd of faint ones.
  std::vector<Edge> edges = shownEdges();
  const auto touches = [&](const Edge& e) {
    return m_selected && ((m_selected->first == e.id.layer && m_selected->second == e.id.from) ||
                          (m_selected->first == e.id.layer + 1 && m_selected->second == e.id.to));
  };
  std::vector<std::vector<bool>> lit(static_cast<size_t>(layers));
  for (int l = 0; l < layers; ++l) {
    lit[static_cast<size_t>(l)].assign(static_cast<size_t>(g.visible[static_cast<size_t>(l)]),
                                       !m_selected);
  }
  if (m_selected)
    lit[static_cast<size_t>(m_selected->first)][static_cast<size_t>(m_selected->second)] = true;
  for (const Edge& e : edges) {
    if (!touches(e)) continue;
    lit[static_cast<size_t>(e.id.layer)][static_cast<size_t>(e.id.from)] = true;
    lit[static_cast<size_t>(e.id.layer + 1)][static_cast<size_t>(e.id.to)] = true;
  }
  std::stable_sort(edges.begin(), edges.end(), [&](const Edge& a, const Edge& b) {
    const bool ta = touches(a);
    const bool tb = touches(b);
    return ta != tb ? tb : a.norm < b.norm;
  });
  painter.setRenderHint(QPainter::Antialiasing, true);
  for (const Edge& e : edges) {
    QColor color = edgeColor();
    double opacity = std::max(kMinEdgeOpacity, e.norm);
    if (m_selected && !touches(e)) opacity *= kDimmedOpacity;
    color.setAlphaF(static_cast<float>(opacity));
    QPen pen(color, g.edgeWidth(e.norm));
    pen.setCapStyle(Qt::FlatCap);
    painter.setPen(pen);
    painter.drawLine(g.centre(e.id.layer, e.id.from), g.centre(e.id.layer + 1, e.id.to));
  }

  // Nodes, with a darker rim so that touching circles stay apart.
  const QColor dimmed = blend(nodeColor(), paint::backgroundColor(), 0.3);
  for (int l = 0; l < layers; ++l) {
    const std::vector<double>& importance = m_data.layers[static_cast<size_t>(l)].importance;
    for (int n = 0; n < g.visible[static_cast<size_t>(l)]; ++n) {
      const QColor fill =
          lit[static_cast<size_t>(l)][static_cast<size_t>(n)] ? nodeColor() : dimmed;
      painter.setPen(QPen(fill.darker(140), 1.0));
      painter.setBrush(fill);
      const double r = radiusOf(importance[static_cast<size_t>(n)],
                                m_layerMax[static_cast<size_t>(l)], g.maxRadius);
      painter.drawEllipse(g.centre(l, n), r, r);
    }
  }
  painter.setBrush(Qt::NoBrush);
  if (m_selected) {
    const auto [l, n] = *m_selected;
    const double r =
        radiusOf(m_data.layers[static_cast<size_t>(l)].importance[static_cast<size_t>(n)],
                 m_layerMax[static_cast<size_t>(l)], g.maxRadius);
    painter.setPen(QPen(paint::textColor(), 2.0));
    painter.drawEllipse(g.centre(l, n), r + 3, r + 3);
  }

  // Under each column that hides nodes, how many; then the layer captions, thinned where they
  // would overlap.
  const auto slotRect = [&](int l, double top, double height) {
    return QRectF(g.slotCentres[static_cast<size_t>(l)] - g.slotWidth / 2, top, g.slotWidth,
                  height);
  };
  painter.setFont(g.valueFont);
  painter.setPen(paint::textColor());
  for (int l = 0; l < layers; ++l) {
    const auto total = static_cast<int>(m_data.layers[static_cast<size_t>(l)].importance.size());
    const int visible = g.visible[static_cast<size_t>(l)];
    if (visible >= total) continue;
    painter.drawText(slotRect(l, g.plotTop + visible * g.pitch, g.valueLineHeight), Qt::AlignCenter,
                     QStringLiteral("+ %1 more").arg(total - visible));
  }
  painter.setFont(g.labelFont);
  const QFontMetricsF metrics(g.labelFont);
  for (int l = 0; l < layers; l += g.labelStep) {
    painter.drawText(slotRect(l, g.captionTop, g.lineHeight), Qt::AlignCenter,
                     metrics.elidedText(shortLayerName(m_data.layers[static_cast<size_t>(l)].name),
                                        Qt::ElideRight, g.slotWidth * g.labelStep));
  }
  painter.restore();
}

QPointF InteractionGraphView::nodeCenter(int layer, int node, const QRect& bounds) const {
  if (!drawn(layer, node)) return QPointF(-1, -1);
  return geometryFor(bounds).centre(layer, node);
}

double InteractionGraphView::nodeRadius(int layer, int node, const QRect& bounds) const {
  if (!drawn(layer, node)) return 0.0;
  return radiusOf(m_data.layers[static_cast<size_t>(layer)].importance[static_cast<size_t>(node)],
                  m_layerMax[static_cast<size_t>(layer)], geometryFor(bounds).maxRadius);
}

double InteractionGraphView::edgeWidth(const InteractionEdgeId& edge, const QRect& bounds) const {
  for (const Edge& e : shownEdges()) {
    if (e.id == edge) return geometryFor(bounds).edgeWidth(e.norm);
  }
  return 0.0;
}

std::optional<std::pair<int, int>> InteractionGraphView::nodeAt(const QPoint& point,
                                                                const QRect& bounds) const {
  const Geometry g = geometryFor(bounds);
  if (g.empty) return std::nullopt;
  const QPointF p = QPointF(point) + QPointF(0.5, 0.5);  // the pixel's centre
  std::optional<std::pair<int, int>> best;
  double bestDistance = std::numeric_limits<double>::infinity();
  for (int l = 0; l < static_cast<int>(m_data.layers.size()); ++l) {
    const std::vector<double>& importance = m_data.layers[static_cast<size_t>(l)].importance;
    for (int n = 0; n < g.visible[static_cast<size_t>(l)]; ++n) {
      const QPointF c = g.centre(l, n);
      const double d = std::hypot(p.x() - c.x(), p.y() - c.y());
      const double r = radiusOf(importance[static_cast<size_t>(n)],
                                m_layerMax[static_cast<size_t>(l)], g.maxRadius);
      if (d <= std::max(r + 1.0, kNodeReach) && d < bestDistance) {
        bestDistance = d;
        best = std::pair{l, n};
      }
    }
  }
  return best;
}

std::optional<InteractionEdgeId> InteractionGraphView::edgeAt(const QPoint& point,
                                                              const QRect& bounds) const {
  if (nodeAt(point, bounds)) return std::nullopt;
  const Geometry g = geometryFor(bounds);
  if (g.empty) return std::nullopt;
  const QPointF p = QPointF(point) + QPointF(0.5, 0.5);
  std::optional<InteractionEdgeId> best;
  double bestDistance = std::numeric_limits<double>::infinity();
  double bestNorm = 0.0;
  for (const Edge& e : shownEdges()) {
    const double d =
        segmentDistance(p, g.centre(e.id.layer, e.id.from), g.centre(e.id.layer + 1, e.id.to));
    if (d > std::max(kEdgeReach, g.edgeWidth(e.norm) / 2 + 1.0)) continue;
    // The nearest line; among equally near ones the strongest, which is drawn on top.
    if (d < bestDistance || (d == bestDistance && e.norm > bestNorm)) {
      bestDistance = d;
      bestNorm = e.norm;
      best = e.id;
    }
  }
  return best;
}

QString InteractionGraphView::nodeToolTip(int layer, int node) const {
  if (!valid(layer, node)) return {};
  const auto l = static_cast<size_t>(layer);
  const QString name = m_data.layers[l].name.empty() ? QStringLiteral("layer %1").arg(layer)
                                                     : paint::displayLabel(m_data.layers[l].name);
  QString text = QStringLiteral("%1, direction %2: Λ = %3")
                     .arg(name, QString::number(node),
                          QString::fromStdString(
                              formatValue(m_data.layers[l].importance[static_cast<size_t>(node)])));
  // Over every direction of the neighbouring layers, drawn or not: the strongest partner may be
  // one the column hides.
  if (layer > 0) {
    const InteractionEdges& in = m_data.edges[l - 1];
    int best = -1;
    for (int j = 0; j < in.cols; ++j) {
      if (in.at(node, j) > 0.0 && (best < 0 || in.at(node, j) > in.at(node, best))) best = j;
    }
    if (best >= 0) {
      text += QStringLiteral("\nstrongest in: %1 -> %2, E = %3")
                  .arg(QString::number(best), QString::number(node),
                       QString::fromStdString(formatValue(in.at(node, best))));
    }
  }
  if (l < m_data.edges.size()) {
    const InteractionEdges& out = m_data.edges[l];
    int best = -1;
    for (int i = 0; i < out.rows; ++i) {
      if (out.at(i, node) > 0.0 && (best < 0 || out.at(i, node) > out.at(best, node))) best = i;
    }
    if (best >= 0) {
      text += QStringLiteral("\nstrongest out: %1 -> %2, E = %3")
                  .arg(QString::number(node), QString::number(best),
                       QString::fromStdString(formatValue(out.at(best, node))));
    }
  }
  return text;
}

QString InteractionGraphView::edgeToolTip(const InteractionEdgeId& edge) const {
  if (!valid(edge.layer, edge.from) || !valid(edge.layer + 1, edge.to)) return {};
  const auto l = static_cast<size_t>(edge.layer);
  const auto nameOf = [&](size_t layer) {
    return m_data.layers[layer].name.empty() ? QStringLiteral("layer %1").arg(layer)
                                             : paint::displayLabel(m_data.layers[layer].name);
  };
  return QStringLiteral("%1 -> %2: E = %3\n%4 -> %5")
      .arg(QString::number(edge.from), QString::number(edge.to),
           QString::fromStdString(formatValue(m_data.edges[l].at(edge.to, edge.from))), nameOf(l),
           nameOf(l + 1));
}

QString InteractionGraphView::toolTipAt(const QPoint& point) const {
  if (const auto node = nodeAt(point, rect())) return nodeToolTip(node->first, node->second);
  if (const auto edge = edgeAt(point, rect())) return edgeToolTip(*edge);
  return {};
}

QSize InteractionGraphView::sizeHint() const { return QSize(640, 440); }
QSize InteractionGraphView::minimumSizeHint() const { return QSize(200, 160); }

bool InteractionGraphView::event(QEvent* event) {
  const auto textAt = [this](const QPoint& point) { return toolTipAt(point); };
  return paint::handleToolTip(*this, event, textAt) || QWidget::event(event);
}

void InteractionGraphView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

void InteractionGraphView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) {
    QWidget::mousePressEvent(event);
    return;
  }
  const QPoint point = event->position().toPoint();
  if (const auto node = nodeAt(point, rect())) {
    setSelectedNode(node);
    Q_EMIT nodeClicked(node->first, node->second);
    return;
  }
  // A click on an edge keeps the selection (its tooltip is what the user wanted); a click on
  // empty space clears it.
  if (!edgeAt(point, rect())) setSelectedNode(std::nullopt);
}

}  // namespace cs::viewers
