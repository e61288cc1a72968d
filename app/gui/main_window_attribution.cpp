// The attribution analyses of one input in viewer docks: direct logit attribution (a head grid
// and per-layer bars) and activation patching between the current input and a corrupted one (a
// head grid, and the residual stream by layer and position). Both follow the live mask: their
// head grids mark masked heads, and a Ctrl-click masks or restores a head.
#include <QLabel>
#include <QSettings>
#include <QTabWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>
#include <set>

#include "app/gui/head_score_views.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "viewers/chart_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/token_attribution_view.h"

namespace cs::gui {

namespace {

using hooks::MaskComponent;

const auto kPatchingKey = QStringLiteral("patching");
const auto kCorruptedField = QStringLiteral("corrupted");

viewers::ChartData layerBars(const LogitAttribution& d) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Bar;
  data.title = "Direct logit attribution per layer (" + d.direction + ")";
  data.xTitle = "block";
  data.yTitle = "DLA";
  data.categories = layerLabels(static_cast<Eigen::Index>(d.attentionDla.size()));
  data.series.push_back({"attention", d.attentionDla});
  bool mlp = false;
  for (const double v : d.mlpDla) mlp = mlp || v != 0.0;
  if (mlp) data.series.push_back({"MLP", d.mlpDla});
  return data;
}

}  // namespace

void MainWindow::askLogitAttribution() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("logitAttribution"), tr("Direct logit attribution"),
      {choiceField(QStringLiteral("direction"), tr("Direction"),
                   tr("What is attributed: the answer's logit minus the runner-up's, or the "
                      "answer's logit alone"),
                   QStringLiteral("difference"),
                   {QStringLiteral("difference"), QStringLiteral("answer")},
                   {tr("logit difference to the runner-up"), tr("the answer's logit")}),
       intField(QStringLiteral("answer"), tr("Answer"),
                tr("The token id (or class) attributed; -1: the top prediction"), -1, -1,
                std::numeric_limits<int>::max())});
  if (!values) return;
  DlaSettings settings;
  settings.foil =
      values->value(QStringLiteral("direction")).toString() == QStringLiteral("difference");
  settings.answer = values->value(QStringLiteral("answer")).toLongLong();
  runLogitAttribution(settings);
}

void MainWindow::runLogitAttribution(const DlaSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<LogitAttribution>(
      tr("direct logit attribution"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->logitAttribution(ids, masks, progress, settings);
      },
      [this](LogitAttribution d) {
        log(tr("direct logit attribution of %1: %2 (completeness error %3)")
                .arg(QString::fromStdString(d.direction))
                .arg(d.directionLogit, 0, 'f', 4)
                .arg(d.completenessError, 0, 'g', 3));
        viewerDock(QStringLiteral("dlaDock"), tr("Logit attribution"),
                   logitAttributionPanel(std::move(d)));
        Q_EMIT logitAttributionShown();
      });
}

QWidget* MainWindow::logitAttributionPanel(LogitAttribution d) {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  double embed = 0.0;
  for (std::size_t p = 0; p < d.paths.size(); ++p) {
    if (d.paths[p] == "embed") embed = d.pathDla[p];
  }
  auto* summary = new QLabel(
      tr("%1 = %2: the paths' direct contributions (embedding %3, the blocks below) plus the "
         "constant %4 of the unembedding's bias, with the final norm's scale frozen. Heads plus "
         "their layer's output bias make up the attention bar.")
          .arg(QString::fromStdString(d.direction))
          .arg(d.directionLogit, 0, 'f', 4)
          .arg(embed, 0, 'f', 4)
          .arg(d.constant, 0, 'f', 4));
  summary->setObjectName(QStringLiteral("dlaSummary"));
  summary->setWordWrap(true);
  layout->addWidget(summary);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("dlaTabs"));
  if (d.heads.size() > 0) {
    viewers::HeadGridData data;
    data.scores = d.heads;
    data.title = d.title;
    data.annotate = true;
    tabs->addTab(
        liveHeadGrid(*this, *m_interventions, std::move(data), QStringLiteral("dlaHeadGrid")),
        tr("Heads"));
  }
  auto* bars = new viewers::ChartView;
  bars->setObjectName(QStringLiteral("dlaLayerChart"));
  bars->setData(layerBars(d));
  tabs->addTab(bars, tr("Layers"));
  layout->addWidget(tabs, 1);
  return panel;
}

bool MainWindow::corruptedField(const QString& analysis, const QString& title,
                                const QString& command, OptionField& field) {
  if (!m_session->isLanguageModel()) {
    showError(tr("%1 in the window compares two token inputs. For an image model run "
                 "circuitscope-cli analyze %2 with --clean-image and --corrupted-image.")
                  .arg(title, command));
    return false;
  }
  std::vector<std::int64_t> clean;
  if (!inputIdsForAnalysis(clean)) return false;
  QSettings settings;
  const auto fits = [&](const QString& key) {
    QString error;
    return parseTokenIds(settings.value(key).toString(), error).size() == clean.size();
  };
  const auto own = AnalysisOptionsDialog::settingsKey(analysis, kCorruptedField);
  const auto shared = AnalysisOptionsDialog::settingsKey(kPatchingKey, kCorruptedField);
  if (!fits(own)) settings.remove(own);
  field = textField(kCorruptedField, tr("Corrupted token ids"),
                    tr("As many tokens as the input: the input with the tokens that carry the "
                       "answer changed"),
                    fits(shared) ? settings.value(shared).toString() : tokenIdsText(clean));
  return true;
}

bool MainWindow::corruptedIds(const QVariantMap& values, std::vector<std::int64_t>& ids) {
  QString error;
  ids = parseTokenIds(values.value(kCorruptedField).toString(), error);
  if (error.isEmpty()) return true;
  showError(tr("corrupted input: %1").arg(error));
  return false;
}

void MainWindow::askHeadPatching() {
  if (!m_session) return;
  OptionField corrupted;
  if (!corruptedField(kPatchingKey, tr("Activation patching"), QStringLiteral("patching"),
                      corrupted)) {
    return;
  }
  const auto values = askOptions(
      kPatchingKey, tr("Activation patching by head"),
      {corrupted,
       choiceField(QStringLiteral("direction"), tr("Direction"),
                   tr("Denoising: the corrupted run gets one clean activation (1 = full "
                      "recovery). Noising: the clean run gets one corrupted activation (1 = "
                      "behaves like the corrupted run)."),
                   QStringLiteral("denoising"),
                   {QStringLiteral("denoising"), QStringLiteral("noising")},
                   {tr("denoising (clean into corrupted)"), tr("noising (corrupted into clean)")}),
       boolField(QStringLiteral("byPosition"), tr("Residual stream by position"),
                 tr("Also patch blocks.L.hook_resid_pre at each (layer, position)"), true)});
  if (!values) return;
  PatchingSettings settings;
  if (!corruptedIds(*values, settings.corrupted)) return;
  settings.noising =
      values->value(QStringLiteral("direction")).toString() == QStringLiteral("noising");
  settings.byPosition = values->value(QStringLiteral("byPosition")).toBool();
  runHeadPatching(settings);
}

void MainWindow::runHeadPatching(const PatchingSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<HeadPatching>(
      tr("activation patching"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->headPatching(ids, masks, settings, progress);
      },
      [this](HeadPatching p) {
        log(tr("activation patching (%1) of %2: clean %3, corrupted %4")
                .arg(QString::fromStdString(p.direction), QString::fromStdString(p.metric))
                .arg(p.cleanMetric, 0, 'f', 4)
                .arg(p.corruptedMetric, 0, 'f', 4));
        viewerDock(QStringLiteral("patchingDock"), tr("Patching"), patchingPanel(std::move(p)));
        Q_EMIT patchingShown();
      });
}

QWidget* MainWindow::patchingPanel(HeadPatching p) {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto text = tr("%1 of %2: clean run %3, corrupted run %4. A score of 0 is no effect, 1 the "
                 "other run's metric.")
                  .arg(QString::fromStdString(p.direction), QString::fromStdString(p.metric))
                  .arg(p.cleanMetric, 0, 'f', 4)
                  .arg(p.corruptedMetric, 0, 'f', 4);
  if (!p.scored) {
    text +=
        tr(" Both runs give the same metric, so there is nothing to restore and every score "
           "is 0: change the tokens the answer depends on.");
  }
  auto* summary = new QLabel(text);
  summary->setObjectName(QStringLiteral("patchingSummary"));
  summary->setWordWrap(true);
  layout->addWidget(summary);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("patchingTabs"));
  viewers::HeadGridData heads;
  heads.scores = p.heads;
  heads.title = "patching score per head (" + p.direction + ")";
  heads.annotate = true;
  tabs->addTab(
      liveHeadGrid(*this, *m_interventions, std::move(heads), QStringLiteral("patchingHeadGrid")),
      tr("Heads"));
  if (p.positions.rows() > 0) {
    auto* map = positionMap(p, "patching score", QStringLiteral("patchingPositionMap"));
    tabs->addTab(map, tr("Positions"));
    // Block 0's input is the embedding: its row says which input tokens carry the difference.
    std::vector<double> first(p.positions.cols());
    bool finite = true;
    for (Eigen::Index t = 0; t < p.positions.cols(); ++t) {
      first[static_cast<std::size_t>(t)] = p.positions(0, t);
      finite = finite && std::isfinite(p.positions(0, t));
    }
    if (finite && first.size() == p.tokens.size()) {
      viewers::TokenAttributionData chips;
      chips.tokens = p.tokens;
      chips.scores = std::move(first);
      chips.title = "patching the embedding at each position (" + p.direction + ")";
      chips.scoreName = "patching score";
      auto* view = new viewers::TokenAttributionView;
      view->setObjectName(QStringLiteral("patchingTokenView"));
      view->setData(std::move(chips));
      tabs->addTab(view, tr("Tokens"));
    }
  }
  layout->addWidget(tabs, 1);
  return panel;
}

}  // namespace cs::gui
