// The prune-and-patch panel: the active interventions (remove one, restore all, undo, redo),
// the metrics of the full, masked and compacted model side by side, and the accuracy-vs-latency
// chart that gains a point with every measured change. It shows what the window computes; it
// runs no model.
#pragma once

#include <QWidget>

#include <vector>

#include "app/gui/model_session.h"

class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace cs::viewers {
class ChartView;
}

namespace cs::gui {

class InterventionStack;

class PrunePanel : public QWidget {
  Q_OBJECT

 public:
  explicit PrunePanel(InterventionStack& interventions, QWidget* parent = nullptr);

  /// Accuracy, loss and logit difference of the full and the masked model.
  void showMetrics(const LiveMetrics& full, const LiveMetrics& masked);
  /// The whole comparison (latency, memory, parameters, compacted row); appends a chart point
  /// for the masked model, or the compacted one where it exists.
  void showPruningTable(const PruningTable& table);
  /// A new model or dataset: empty table and chart.
  void clearResults();

  struct TradeoffPoint {
    double latencyMs = 0.0;
    double accuracy = 0.0;
    QString label;  ///< what was masked at that point
  };
  const std::vector<TradeoffPoint>& tradeoff() const { return m_points; }

 Q_SIGNALS:
  void measureRequested();
  void exportMaskRequested();
  void importMaskRequested();
  void exportPrunedRequested();

 private:
  void showInterventions();
  void putMetrics(int row, const LiveMetrics& metrics);
  void setRow(int row, const VariantRow& variant);
  void updateChart();

  InterventionStack& m_interventions;
  QListWidget* m_list = nullptr;
  QPushButton* m_remove = nullptr;
  QTableWidget* m_table = nullptr;
  QLabel* m_note = nullptr;
  viewers::ChartView* m_chart = nullptr;
  std::vector<TradeoffPoint> m_points;
};

}  // namespace cs::gui
