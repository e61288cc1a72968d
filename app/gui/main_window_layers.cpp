// Layer charts: per-layer importance bars for blocks, attention and MLP, the drop curve, and the
// residual-stream CKA matrix as a heatmap.
#include <QDockWidget>
#include <QVBoxLayout>

#include "app/gui/main_window.h"
#include "viewers/chart_view.h"
#include "viewers/heatmap_view.h"

namespace cs::gui {

namespace {

viewers::ChartData importanceBars(const analysis::LayerSimilarityResult& r) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Bar;
  data.title = "Layer importance: 1 - cos(input, output) on " + std::to_string(r.samples) + " rows";
  data.xTitle = "block";
  data.yTitle = "importance";
  for (std::size_t l = 0; l < r.blockImportance.size(); ++l) {
    data.categories.push_back(std::to_string(l));
  }
  data.series = {
      {"block", r.blockImportance}, {"attention", r.attnImportance}, {"MLP", r.mlpImportance}};
  return data;
}

viewers::ChartData dropCurve(const analysis::LayerSimilarityResult& r) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Line;
  data.title = "Accuracy with the least important " + r.target + " sublayers skipped";
  data.xTitle = "modules skipped";
  data.yTitle = "accuracy";
  data.yMin = 0.0;
  data.yMax = 1.0;
  viewers::ChartSeries accuracy{"accuracy", {}};
  for (const auto& p : r.curve) {
    data.x.push_back(p.dropped);
    accuracy.values.push_back(p.accuracy);
  }
  data.series.push_back(std::move(accuracy));
  return data;
}

}  // namespace

void MainWindow::askLayerImportance() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("layerImportance"), tr("Layer importance and drop curve"),
      {intField(QStringLiteral("rows"), tr("Calibration rows"),
                tr("The first rows of the evaluation set the similarities are averaged over"), 256,
                1, 1000000),
       choiceField(QStringLiteral("target"), tr("Drop"),
                   tr("What the drop curve skips, least important first"), QStringLiteral("attn"),
                   {QStringLiteral("attn"), QStringLiteral("mlp"), QStringLiteral("block"),
                    QStringLiteral("sublayers")},
                   {tr("attention sublayers"), tr("MLP sublayers"), tr("whole blocks"),
                    tr("attention and MLP sublayers")}),
       intField(QStringLiteral("dropN"), tr("Modules dropped"),
                tr("Points of the drop curve (clipped to what the model has)"), 8, 1, 1000)});
  if (!values) return;
  LayerImportanceSettings settings;
  settings.rows = values->value(QStringLiteral("rows")).toLongLong();
  settings.target = values->value(QStringLiteral("target")).toString().toStdString();
  settings.dropN = values->value(QStringLiteral("dropN")).toInt();
  runLayerImportance(settings);
}

void MainWindow::askResidualCka() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("cka"), tr("Residual-stream CKA"),
      {intField(QStringLiteral("rows"), tr("Samples"),
                tr("The first rows of the evaluation set (one sample each: the last position, or "
                   "an image model's class token)"),
                256, 2, 1000000)});
  if (!values) return;
  CkaSettings settings;
  settings.rows = values->value(QStringLiteral("rows")).toLongLong();
  runResidualCka(settings);
}

void MainWindow::runLayerImportance(const LayerImportanceSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<analysis::LayerSimilarityResult>(
      tr("layer importance"),
      [session, settings](Progress& progress) {
        return session->layerImportance(progress, settings);
      },
      [this](analysis::LayerSimilarityResult r) {
        auto* panel = new QWidget;
        auto* layout = new QVBoxLayout(panel);
        auto* bars = new viewers::ChartView;
        bars->setObjectName(QStringLiteral("layerImportanceChart"));
        bars->setData(importanceBars(r));
        auto* curve = new viewers::ChartView;
        curve->setObjectName(QStringLiteral("dropCurveChart"));
        curve->setData(dropCurve(r));
        layout->addWidget(bars, 1);
        layout->addWidget(curve, 1);
        viewerDock(QStringLiteral("layersDock"), tr("Layers"), panel);
        Q_EMIT layerChartsShown();
      });
}

void MainWindow::runResidualCka(const CkaSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<analysis::CkaResult>(
      tr("residual CKA"),
      [session, settings](Progress& progress) { return session->residualCka(progress, settings); },
      [this](analysis::CkaResult r) {
        viewers::HeatmapData data;
        data.values = r.cka;
        for (std::size_t i = 0; i < r.hooks.size(); ++i) {
          // Appended, not "h" + std::to_string(i): GCC 12 warns falsely (-Wrestrict) on that.
          data.rowLabels.push_back(std::string("h").append(std::to_string(i)));
        }
        data.columnLabels = data.rowLabels;
        data.rowTitle = "residual stream";
        data.columnTitle = "residual stream";
        data.title = "Linear CKA (" + r.form + ", " + r.position + " position, " +
                     std::to_string(r.samples) + " samples)";
        data.min = 0.0;
        data.max = 1.0;
        data.annotate = true;
        auto* view = new viewers::HeatmapView;
        view->setObjectName(QStringLiteral("ckaView"));
        view->setData(std::move(data));
        viewerDock(QStringLiteral("ckaDock"), tr("CKA"), view);
        Q_EMIT ckaShown();
      });
}

}  // namespace cs::gui
