#include "app/gui/prune_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QTableWidget>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include "app/gui/intervention_stack.h"
#include "viewers/chart_view.h"

namespace cs::gui {

namespace {

enum Column { kAccuracy, kLoss, kLogitDiff, kLatency, kMemory, kParameters, kColumns };
constexpr int kFullRow = 0;
constexpr int kMaskedRow = 1;
constexpr int kCompactedRow = 2;

QString percent(double v) { return QStringLiteral("%1%").arg(100.0 * v, 0, 'f', 1); }

}  // namespace

PrunePanel::PrunePanel(InterventionStack& interventions, QWidget* parent)
    : QWidget(parent), m_interventions(interventions) {
  auto* layout = new QVBoxLayout(this);

  layout->addWidget(new QLabel(tr("Interventions")));
  m_list = new QListWidget;
  m_list->setObjectName(QStringLiteral("interventionList"));
  m_list->setSelectionMode(QAbstractItemView::SingleSelection);
  layout->addWidget(m_list, 1);
  auto* buttons = new QHBoxLayout;
  m_remove = new QPushButton(tr("Remove"));
  m_remove->setObjectName(QStringLiteral("removeIntervention"));
  m_remove->setEnabled(false);
  auto* clear = new QPushButton(tr("Restore all"));
  clear->setObjectName(QStringLiteral("restoreAll"));
  auto* undo = new QToolButton;
  undo->setDefaultAction(m_interventions.undoStack()->createUndoAction(this, tr("Undo")));
  auto* redo = new QToolButton;
  redo->setDefaultAction(m_interventions.undoStack()->createRedoAction(this, tr("Redo")));
  buttons->addWidget(m_remove);
  buttons->addWidget(clear);
  buttons->addStretch(1);
  buttons->addWidget(undo);
  buttons->addWidget(redo);
  layout->addLayout(buttons);

  m_table = new QTableWidget(3, kColumns);
  m_table->setObjectName(QStringLiteral("metricsTable"));
  m_table->setHorizontalHeaderLabels({tr("Accuracy"), tr("Loss"), tr("Logit diff"),
                                      tr("Latency (ms)"), tr("Memory (MB)"), tr("Parameters")});
  m_table->setVerticalHeaderLabels({tr("full"), tr("masked"), tr("compacted")});
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  layout->addWidget(m_table);
  m_note = new QLabel;
  m_note->setObjectName(QStringLiteral("pruneNote"));
  m_note->setWordWrap(true);
  layout->addWidget(m_note);

  auto* actions = new QHBoxLayout;
  auto* measure = new QPushButton(tr("Measure latency"));
  measure->setObjectName(QStringLiteral("measureLatency"));
  measure->setToolTip(tr("time the full, masked and compacted model (done after every change)"));
  auto* exportMask = new QPushButton(tr("Export mask..."));
  auto* importMask = new QPushButton(tr("Import mask..."));
  auto* exportPruned = new QPushButton(tr("Export pruned model..."));
  exportPruned->setObjectName(QStringLiteral("exportPruned"));
  for (auto* b : {measure, exportMask, importMask, exportPruned}) actions->addWidget(b);
  layout->addLayout(actions);

  m_chart = new viewers::ChartView;
  m_chart->setObjectName(QStringLiteral("tradeoffChart"));
  m_chart->setMinimumHeight(180);
  layout->addWidget(m_chart, 2);
  updateChart();

  connect(m_list, &QListWidget::currentRowChanged, this,
          [this](int row) { m_remove->setEnabled(row >= 0); });
  connect(m_remove, &QPushButton::clicked, this, [this]() {
    const int row = m_list->currentRow();
    const auto& entries = m_interventions.masks().entries();
    if (row < 0 || row >= static_cast<int>(entries.size())) return;
    const auto e = entries[static_cast<std::size_t>(row)];
    m_interventions.remove(e.component, e.layer, e.index);
  });
  connect(clear, &QPushButton::clicked, this, [this]() { m_interventions.clear(); });
  connect(measure, &QPushButton::clicked, this, &PrunePanel::measureRequested);
  connect(exportMask, &QPushButton::clicked, this, &PrunePanel::exportMaskRequested);
  connect(importMask, &QPushButton::clicked, this, &PrunePanel::importMaskRequested);
  connect(exportPruned, &QPushButton::clicked, this, &PrunePanel::exportPrunedRequested);
  connect(&m_interventions, &InterventionStack::masksChanged, this, &PrunePanel::showInterventions);
  showInterventions();
}

void PrunePanel::showInterventions() {
  m_list->clear();
  for (const auto& e : m_interventions.masks().entries()) m_list->addItem(describeEntry(e));
  m_remove->setEnabled(false);
}

void PrunePanel::putMetrics(int row, const LiveMetrics& m) {
  m_table->setItem(row, kAccuracy, new QTableWidgetItem(percent(m.accuracy)));
  m_table->setItem(row, kLoss, new QTableWidgetItem(QString::number(m.loss, 'f', 3)));
  m_table->setItem(row, kLogitDiff,
                   new QTableWidgetItem(m.hasLogitDiff ? QString::number(m.logitDiff, 'f', 3)
                                                       : QStringLiteral("-")));
}

void PrunePanel::showMetrics(const LiveMetrics& full, const LiveMetrics& masked) {
  putMetrics(kFullRow, full);
  putMetrics(kMaskedRow, masked);
}

void PrunePanel::setRow(int row, const VariantRow& v) {
  for (int c = 0; c < kColumns; ++c) m_table->setItem(row, c, new QTableWidgetItem);
  if (!v.present) {
    auto* item = new QTableWidgetItem(tr("not built"));
    item->setToolTip(QString::fromStdString(v.absentReason));
    m_table->setItem(row, kAccuracy, item);
    return;
  }
  putMetrics(row, v.metrics);
  m_table->setItem(row, kLatency, new QTableWidgetItem(QString::number(v.latencyMs, 'f', 2)));
  auto* memory =
      new QTableWidgetItem(v.peakKind == "unavailable"
                               ? QStringLiteral("-")
                               : QString::number(static_cast<double>(v.peakBytes) / 1e6, 'f', 1));
  memory->setToolTip(tr("peak during the timed runs: %1").arg(QString::fromStdString(v.peakKind)));
  m_table->setItem(row, kMemory, memory);
  m_table->setItem(row, kParameters, new QTableWidgetItem(QString::number(v.parameters)));
}

void PrunePanel::showPruningTable(const PruningTable& table) {
  for (std::size_t i = 0; i < table.rows.size() && i < 3; ++i) {
    setRow(static_cast<int>(i), table.rows[i]);
  }
  if (table.rows.size() < 3) return;
  const auto& masked = table.rows[kMaskedRow];
  const auto& compacted = table.rows[kCompactedRow];
  const auto& best = compacted.present ? compacted : masked;
  m_note->setText(
      compacted.present
          ? tr("Latency per batch of %1; compacted vs masked logits differ by at most %2.")
                .arg(table.latencyBatch)
                .arg(table.compactedVsMaskedMaxDiff, 0, 'g', 3)
          : tr("Latency per batch of %1; no compacted model: %2")
                .arg(table.latencyBatch)
                .arg(QString::fromStdString(compacted.absentReason)));
  QStringList what;
  for (const auto& e : m_interventions.masks().entries()) what << describeEntry(e);
  m_points.push_back({best.latencyMs, best.metrics.accuracy,
                      what.isEmpty() ? tr("nothing masked") : what.join(QStringLiteral(", "))});
  updateChart();
}

void PrunePanel::clearResults() {
  m_table->clearContents();
  m_note->clear();
  m_points.clear();
  updateChart();
}

void PrunePanel::updateChart() {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Line;
  data.title = tr("Accuracy vs latency, one point per change").toStdString();
  data.xTitle = tr("latency per batch (ms)").toStdString();
  data.yTitle = tr("accuracy").toStdString();
  data.yMin = 0.0;
  data.yMax = 1.0;
  viewers::ChartSeries series;
  series.name = "masked (compacted where built)";
  for (const auto& p : m_points) {
    data.x.push_back(p.latencyMs);
    series.values.push_back(p.accuracy);
  }
  data.series.push_back(std::move(series));
  m_chart->setData(std::move(data));
}

}  // namespace cs::gui
