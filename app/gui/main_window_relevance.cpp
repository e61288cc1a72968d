// The relevance analyses in viewer docks: layer-wise relevance propagation of one example, the
// relevance pruning curves with "Apply as mask", and the influential neuron path whose neurons a
// click masks or enhances. Masks go through the intervention stack, so metrics, the prune panel
// and undo follow them like any other change.
#include <QComboBox>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImage>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

#include "app/gui/head_score_views.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "viewers/chart_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/image_attribution_view.h"
#include "viewers/neuron_path_view.h"
#include "viewers/token_attribution_view.h"

namespace cs::gui {

namespace {

using hooks::AblationMode;
using hooks::MaskComponent;

// A neuron entry counts as enhanced when it scales the neuron up; every other mode (zero, mean,
// resample, a scale of at most 1) takes something away and is drawn as masked.
bool enhances(const hooks::MaskEntry& entry) {
  return entry.mode == AblationMode::Scale && entry.value > 1.0;
}

// "L3". Appended rather than "L" + ..., which trips g++ 12's false -Wrestrict warning.
std::string layerLabel(Eigen::Index layer) {
  std::string label = "L";
  label += std::to_string(layer);
  return label;
}

bool hasFinite(const Eigen::MatrixXd& m) {
  for (Eigen::Index i = 0; i < m.size(); ++i) {
    if (std::isfinite(m.data()[i])) return true;
  }
  return false;
}

void markHeads(viewers::HeadGridView& grid, const hooks::MaskSet& masks) {
  std::set<viewers::HeadId> heads;
  for (const auto& e : masks.entries()) {
    if (e.component == MaskComponent::Head) heads.insert({e.layer, e.index});
  }
  grid.setMaskedHeads(std::move(heads));
}

void markNeurons(viewers::NeuronPathView& view, const std::vector<int>& layers,
                 const hooks::MaskSet& masks) {
  std::vector<viewers::NeuronMark> masked, enhanced;
  const auto& scores = view.data().scores;
  for (const auto& e : masks.entries()) {
    if (e.component != MaskComponent::Neuron) continue;
    for (std::size_t column = 0; column < layers.size() && column < scores.size(); ++column) {
      if (layers[column] != e.layer || e.index < 0 ||
          static_cast<std::size_t>(e.index) >= scores[column].size()) {
        continue;
      }
      (enhances(e) ? enhanced : masked).push_back({static_cast<int>(column), e.index});
    }
  }
  view.setMarked(std::move(masked), std::move(enhanced));
}

viewers::ChartData conservationChart(const InputRelevance& r) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Bar;
  data.title = "Relevance summed at each residual point";
  data.xTitle = "h0: block 0's input; hL: the last block's output";
  data.yTitle = "relevance";
  viewers::ChartSeries sums{"relevance sum", {r.inputTotal}};
  viewers::ChartSeries logit{"target logit", {r.targetLogit}};
  data.categories.push_back("input");
  for (std::size_t l = 0; l < r.residualTotals.size(); ++l) {
    data.categories.push_back("h" + std::to_string(l));
    sums.values.push_back(r.residualTotals[l]);
    logit.values.push_back(r.targetLogit);
  }
  data.series = {std::move(sums), std::move(logit)};
  return data;
}

viewers::ChartData pruningChart(const RelevancePruningCurves& c) {
  const auto& r = c.result;
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Line;
  data.title = "Accuracy against the share of " + r.component + " pruned (" +
               std::to_string(r.total) + " in all)";
  data.xTitle = "pruning rate";
  data.yTitle = "accuracy";
  data.yMin = 0.0;
  data.yMax = 1.0;
  if (!r.curves.empty()) data.x = r.curves.front().rates;
  for (const auto& curve : r.curves) {
    char auc[32];
    std::snprintf(auc, sizeof auc, "%.3f", curve.auc);
    data.series.push_back({curve.order + " (AUC " + auc + ")", curve.accuracy});
  }
  return data;
}

QTableWidget* bitTable(const analysis::BitAllocation& bits) {
  auto* table = new QTableWidget(static_cast<int>(bits.rows.size()), 4);
  table->setObjectName(QStringLiteral("bitTable"));
  table->setHorizontalHeaderLabels({QObject::tr("Linear layer"), QObject::tr("Parameters"),
                                    QObject::tr("Contribution"), QObject::tr("Bits")});
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->verticalHeader()->hide();
  for (int i = 0; i < table->rowCount(); ++i) {
    const auto& row = bits.rows[static_cast<std::size_t>(i)];
    table->setItem(i, 0, new QTableWidgetItem(QString::fromStdString(row.name)));
    table->setItem(i, 1, new QTableWidgetItem(QString::number(row.parameters)));
    table->setItem(i, 2, new QTableWidgetItem(QString::number(row.normalized, 'f', 4)));
    table->setItem(i, 3, new QTableWidgetItem(QString::number(row.bits)));
  }
  table->resizeColumnsToContents();
  return table;
}

// The rate offered first: the largest whose relevance-order accuracy stays within a point of the
// unpruned model's, the point a user most likely wants to try.
int suggestedRate(const analysis::RelevancePruningResult& r) {
  if (r.curves.empty()) return 0;
  const auto& curve = r.curves.front();
  int best = 0;
  for (std::size_t i = 0; i < curve.accuracy.size(); ++i) {
    if (curve.accuracy[i] >= r.unprunedAccuracy - 0.01) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace

void MainWindow::askRelevance() {
  if (!m_session) return;
  // The defaults differ by model kind, so each kind remembers its own values.
  const bool language = m_session->isLanguageModel();
  const auto defaults = m_session->defaultRelevanceRules();
  std::vector<OptionField> fields{
      choiceField(QStringLiteral("rule"), tr("Attention rule"),
                  tr("AttnLRP: relevance flows into queries, keys and values. CP-LRP: the "
                     "attention pattern is held constant, relevance flows through the values."),
                  defaults.cpLrp ? QStringLiteral("cplrp") : QStringLiteral("attnlrp"),
                  {QStringLiteral("attnlrp"), QStringLiteral("cplrp")},
                  {tr("AttnLRP"), tr("CP-LRP")}),
      doubleField(QStringLiteral("gammaLinear"), tr("Gamma of the linear layers"),
                  tr("The generalised gamma rule on every linear layer and the unembedding; 0 "
                     "is the epsilon rule"),
                  defaults.gammaLinear, 0.0, 100.0, 3),
      scientificField(QStringLiteral("epsilon"), tr("Gamma-rule stabiliser"),
                      tr("Epsilon added (sign-aware) to the gamma rule's denominators"),
                      defaults.epsilon, 1e-30, 1.0)};
  if (!language) {
    fields.push_back(doubleField(QStringLiteral("gammaPatch"), tr("Gamma of the patch embedding"),
                                 tr("The gamma rule on the patch embedding (a linear layer on "
                                    "flattened patches)"),
                                 defaults.gammaPatch, 0.0, 100.0, 3));
  }
  const auto values =
      askOptions(language ? QStringLiteral("relevance") : QStringLiteral("relevanceImage"),
                 tr("Relevance (LRP)"), std::move(fields));
  if (!values || !m_session) return;
  RelevanceRuleSettings rules = defaults;
  rules.cpLrp = values->value(QStringLiteral("rule")).toString() == QStringLiteral("cplrp");
  rules.gammaLinear = values->value(QStringLiteral("gammaLinear")).toDouble();
  rules.epsilon = values->value(QStringLiteral("epsilon")).toDouble();
  if (!language) rules.gammaPatch = values->value(QStringLiteral("gammaPatch")).toDouble();
  runRelevance(rules);
}

void MainWindow::runRelevance(const std::optional<RelevanceRuleSettings>& rules) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<InputRelevance>(
      tr("relevance (LRP)"),
      [session, ids, masks = masks(), rules](Progress& progress) {
        return session->relevance(ids, masks, progress, rules);
      },
      [this](InputRelevance r) {
        viewerDock(QStringLiteral("relevanceDock"), tr("Relevance"), relevancePanel(std::move(r)));
        Q_EMIT relevanceShown();
      });
}

QWidget* MainWindow::relevancePanel(InputRelevance r) {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto* summary = new QLabel(QString::fromStdString(r.details));
  summary->setObjectName(QStringLiteral("relevanceSummary"));
  summary->setWordWrap(true);
  layout->addWidget(summary);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("relevanceTabs"));
  layout->addWidget(tabs, 1);
  QWidget* input = nullptr;
  if (!r.rgb.empty()) {
    viewers::ImageAttributionData data;
    data.image =
        QImage(r.rgb.data(), r.imageWidth, r.imageHeight, 3 * r.imageWidth, QImage::Format_RGB888)
            .copy();
    data.scores = r.pixelScores;
    data.grid = viewers::AttributionGrid::Pixels;
    data.title = r.title;
    data.scoreName = "LRP relevance";
    auto* view = new viewers::ImageAttributionView;
    view->setData(std::move(data));
    input = view;
  } else {
    viewers::TokenAttributionData data;
    data.tokens = std::move(r.tokens);
    data.scores = r.tokenScores;
    data.title = r.title;
    data.scoreName = "LRP relevance (token + position)";
    auto* view = new viewers::TokenAttributionView;
    view->setData(std::move(data));
    input = view;
  }
  input->setObjectName(QStringLiteral("relevanceInputView"));
  tabs->addTab(input, tr("Input"));

  auto* chart = new viewers::ChartView;
  chart->setObjectName(QStringLiteral("relevanceConservationChart"));
  chart->setToolTip(
      tr("Where nothing leaks, every bar equals the target logit; biases, "
         "normalisation shifts and the softmax rule leak."));
  chart->setData(conservationChart(r));
  tabs->addTab(chart, tr("Conservation"));

  if (hasFinite(r.heads)) {
    viewers::HeadGridData data;
    data.scores = r.heads;
    data.title = "relevance per head (" + r.target + ")";
    data.annotate = true;
    auto* grid = new viewers::HeadGridView;
    grid->setObjectName(QStringLiteral("relevanceHeadGrid"));
    grid->setToolTip(tr("click: show the head's attention; Ctrl-click: mask or restore it"));
    grid->setData(std::move(data));
    connect(grid, &viewers::HeadGridView::headSelected, this,
            [this](int layer, int head) { showAttention(layer, head); });
    connect(grid, &viewers::HeadGridView::headMaskToggled, this, [this](int layer, int head) {
      if (masks().find(MaskComponent::Head, layer, head)) {
        m_interventions->remove(MaskComponent::Head, layer, head);
      } else {
        m_interventions->set({MaskComponent::Head, layer, head});
      }
    });
    markHeads(*grid, masks());
    connect(m_interventions, &InterventionStack::masksChanged, grid,
            [this, grid]() { markHeads(*grid, masks()); });
    tabs->addTab(grid, tr("Heads"));
  }
  if (r.neurons.cols() > 0 && hasFinite(r.neurons)) {
    viewers::HeatmapData data;
    data.values = r.neurons;
    data.rowLabels = layerLabels(r.neurons.rows());
    data.rowTitle = "layer";
    data.columnTitle = "MLP neuron";
    data.title = "relevance per MLP neuron (" + r.target + ")";
    data.scale = viewers::ScaleKind::Diverging;
    auto* map = new viewers::HeatmapView;
    map->setObjectName(QStringLiteral("relevanceNeuronMap"));
    map->setData(std::move(data));
    tabs->addTab(map, tr("Neurons"));
  }
  return panel;
}

void MainWindow::askRelevancePruning(PruneUnit unit) {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("relevancePruning"), tr("Relevance pruning curve"),
      {intField(QStringLiteral("perClass"), tr("Reference examples per class"),
                tr("Sets with class labels: this many examples of each class are explained"), 10, 1,
                100000),
       intField(QStringLiteral("referenceRows"), tr("Reference rows (next-token targets)"),
                tr("Sets with next-token targets: the first rows explained"), 64, 1, 1000000),
       doubleField(QStringLiteral("rateStep"), tr("Rate step"),
                   tr("The curves' rates are 0, step, 2 step, ... up to the largest rate"), 0.05,
                   0.001, 1.0, 3),
       doubleField(QStringLiteral("maxRate"), tr("Largest rate"),
                   tr("The largest share of the components pruned"), 0.95, 0.0, 1.0, 3),
       choiceField(QStringLiteral("rule"), tr("Attention rule"),
                   tr("AttnLRP with the epsilon rule is the reference configuration"),
                   QStringLiteral("attnlrp"), {QStringLiteral("attnlrp"), QStringLiteral("cplrp")},
                   {tr("AttnLRP"), tr("CP-LRP")}),
       boolField(QStringLiteral("random"), tr("Random order curve"),
                 tr("The same curve for a random order, as a baseline"), true),
       boolField(QStringLiteral("magnitude"), tr("Weight-magnitude curve"),
                 tr("The same curve for the weight-magnitude order, as a baseline"), true)});
  if (!values) return;
  RelevancePruningSettings settings;
  settings.perClass = values->value(QStringLiteral("perClass")).toLongLong();
  settings.referenceRows = values->value(QStringLiteral("referenceRows")).toLongLong();
  settings.rateStep = values->value(QStringLiteral("rateStep")).toDouble();
  settings.maxRate = values->value(QStringLiteral("maxRate")).toDouble();
  settings.cpLrp = values->value(QStringLiteral("rule")).toString() == QStringLiteral("cplrp");
  settings.randomBaseline = values->value(QStringLiteral("random")).toBool();
  settings.magnitudeBaseline = values->value(QStringLiteral("magnitude")).toBool();
  runRelevancePruning(unit, settings);
}

void MainWindow::runRelevancePruning(PruneUnit unit, const RelevancePruningSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_pruningJob);
  auto session = m_session;
  m_pruningJob = m_runner.start<RelevancePruningCurves>(
      unit == PruneUnit::Neurons ? tr("relevance pruning curve (neurons)")
                                 : tr("relevance pruning curve (heads)"),
      [session, unit, settings](Progress& progress) {
        return session->relevancePruning(unit, progress, settings);
      },
      [this](RelevancePruningCurves curves) {
        const auto& r = curves.result;
        log(tr("relevance pruning of %1: unpruned accuracy %2, relevance AUC %3")
                .arg(QString::fromStdString(r.component))
                .arg(r.unprunedAccuracy, 0, 'f', 3)
                .arg(r.curves.empty() ? 0.0 : r.curves.front().auc, 0, 'f', 3));
        viewerDock(QStringLiteral("pruningCurveDock"), tr("Pruning curve"),
                   pruningCurvePanel(std::move(curves)));
        Q_EMIT pruningCurveShown();
      });
}

QWidget* MainWindow::pruningCurvePanel(RelevancePruningCurves curves) {
  const auto shared = std::make_shared<const RelevancePruningCurves>(std::move(curves));
  const auto& r = shared->result;
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto* summary = new QLabel(
      tr("%1 %2 ranked by relevance over %3 (%4); accuracy on the first %5 rows of %6, "
         "without the current interventions.")
          .arg(r.total)
          .arg(QString::fromStdString(r.component), QString::fromStdString(shared->reference),
               QString::fromStdString(shared->rules))
          .arg(ModelSession::kEvalRows)
          .arg(QString::fromStdString(r.dataset)));
  summary->setObjectName(QStringLiteral("pruningSummary"));
  summary->setWordWrap(true);
  layout->addWidget(summary);
  auto* chart = new viewers::ChartView;
  chart->setObjectName(QStringLiteral("pruningCurveChart"));
  chart->setData(pruningChart(*shared));
  layout->addWidget(chart, 2);

  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(tr("Rate")));
  auto* rates = new QComboBox;
  rates->setObjectName(QStringLiteral("pruningRate"));
  if (!r.curves.empty()) {
    const auto& curve = r.curves.front();
    for (std::size_t i = 0; i < curve.rates.size(); ++i) {
      rates->addItem(tr("%1: %2 of %3 %4 pruned, accuracy %5")
                         .arg(curve.rates[i], 0, 'f', 2)
                         .arg(curve.pruned[i])
                         .arg(r.total)
                         .arg(QString::fromStdString(r.component))
                         .arg(curve.accuracy[i], 0, 'f', 3),
                     curve.rates[i]);
    }
    rates->setCurrentIndex(suggestedRate(r));
  }
  row->addWidget(rates, 1);
  auto* apply = new QPushButton(tr("Apply as mask"));
  apply->setObjectName(QStringLiteral("applyPruningMask"));
  apply->setToolTip(
      tr("Replace the current interventions by this point's mask (one undoable "
         "step); File > Export mask saves it."));
  apply->setEnabled(rates->count() > 0);
  row->addWidget(apply);
  layout->addLayout(row);

  auto* tabs = new QTabWidget;
  viewers::HeatmapView* scores = nullptr;
  if (shared->unit == PruneUnit::Heads) {
    viewers::HeadGridData data;
    data.scores = shared->scores;
    data.title = "relevance per head (the ranking)";
    data.annotate = true;
    auto* grid = new viewers::HeadGridView;
    grid->setData(std::move(data));
    scores = grid;
  } else {
    viewers::HeatmapData data;
    data.values = shared->scores;
    data.rowLabels = layerLabels(shared->scores.rows());
    data.rowTitle = "layer";
    data.columnTitle = "MLP neuron";
    data.title = "relevance per MLP neuron (the ranking)";
    scores = new viewers::HeatmapView;
    scores->setData(std::move(data));
  }
  scores->setObjectName(QStringLiteral("pruningScores"));
  tabs->addTab(scores, tr("Relevance scores"));
  auto* bits = new QWidget;
  auto* bitsLayout = new QVBoxLayout(bits);
  bitsLayout->addWidget(new QLabel(tr("Mixed precision from the layer contributions: mean %1 "
                                      "bits within a budget of %2")
                                       .arg(shared->bits.meanBits, 0, 'f', 2)
                                       .arg(shared->bits.budget, 0, 'g', 3)));
  bitsLayout->addWidget(bitTable(shared->bits), 1);
  tabs->addTab(bits, tr("Bit widths"));
  layout->addWidget(tabs, 1);

  const std::weak_ptr<ModelSession> origin = m_session;
  connect(apply, &QPushButton::clicked, this, [this, shared, rates, origin]() {
    if (origin.lock() != m_session) {
      showError(tr("This pruning curve is for another model; run it again for this one."));
      return;
    }
    const double rate = rates->currentData().toDouble();
    try {
      const auto mask = ModelSession::pruningMask(*shared, rate);
      m_interventions->apply(mask, tr("relevance pruning of %1 at rate %2")
                                       .arg(QString::fromStdString(shared->result.component))
                                       .arg(rate, 0, 'f', 2));
      log(tr("relevance pruning at rate %1: %2 %3 masked")
              .arg(rate, 0, 'f', 2)
              .arg(mask.size())
              .arg(QString::fromStdString(shared->result.component)));
    } catch (const std::exception& e) {
      showError(tr("Cannot apply the pruning mask:\n%1").arg(QString::fromUtf8(e.what())));
    }
  });
  return panel;
}

void MainWindow::askNeuronPath() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("neuronPath"), tr("Neuron path"),
      {intField(QStringLiteral("steps"), tr("Steps"),
                tr("Left-Riemann points of the joint attribution"), 20, 1, 1024),
       choiceField(QStringLiteral("scoring"), tr("Scoring"),
                   tr("Paper: per-neuron IG products. Reference: (sum of mean gradients) x (sum "
                      "of activations), as the reference code computes it"),
                   QStringLiteral("paper"), {QStringLiteral("paper"), QStringLiteral("reference")},
                   {tr("paper"), tr("reference code")}),
       choiceField(QStringLiteral("objective"), tr("Objective"),
                   tr("The target's probability (the paper's), or its logit, which does not "
                      "saturate"),
                   QStringLiteral("probability"),
                   {QStringLiteral("probability"), QStringLiteral("logit")},
                   {tr("probability"), tr("logit")}),
       intField(QStringLiteral("topK"), tr("Neurons per layer"),
                tr("The path keeps this many neurons in each layer"), 1, 1, 4096),
       doubleField(QStringLiteral("enhance"), tr("Enhance factor"),
                   tr("The enhance test multiplies the path's neurons by this; Shift-click in "
                      "the view scales a neuron by it"),
                   2.0, 0.0, 100.0, 2)});
  if (!values) return;
  NeuronPathSettings settings;
  settings.steps = values->value(QStringLiteral("steps")).toInt();
  settings.scoring = values->value(QStringLiteral("scoring")).toString().toStdString();
  settings.objective = values->value(QStringLiteral("objective")).toString().toStdString();
  settings.topK = values->value(QStringLiteral("topK")).toInt();
  settings.enhance = values->value(QStringLiteral("enhance")).toDouble();
  runNeuronPath(settings);
}

void MainWindow::runNeuronPath(const NeuronPathSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<NeuronPathSummary>(
      tr("neuron path"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->neuronPath(ids, masks, progress, settings);
      },
      [this](NeuronPathSummary path) {
        viewerDock(QStringLiteral("neuronPathDock"),
                   tr("Neuron path (masks apply at every position)"),
                   neuronPathPanel(std::move(path)));
        Q_EMIT neuronPathShown();
      });
}

QWidget* MainWindow::neuronPathPanel(NeuronPathSummary path) {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  // The analysis edits neurons at the scored position only; a MaskSet entry edits the neuron at
  // every position, so a click is a related but stronger intervention. Said where it is clicked.
  auto* note = new QLabel(
      tr("Click a neuron: zero-ablate it; Shift-click: enhance it x%1; click again: restore it. "
         "The path was found for %2 only, while masks apply at every position.")
          .arg(path.enhanceFactor, 0, 'g', 3)
          .arg(QString::fromStdString(path.target)));
  note->setObjectName(QStringLiteral("neuronPathNote"));
  note->setWordWrap(true);
  layout->addWidget(note);
  auto* details = new QLabel(QString::fromStdString(path.details));
  details->setObjectName(QStringLiteral("neuronPathDetails"));
  details->setWordWrap(true);
  layout->addWidget(details);

  viewers::NeuronPathData data;
  for (const int layer : path.layers) data.layerLabels.push_back(layerLabel(layer));
  data.scores = std::move(path.candidateScores);
  data.path = std::move(path.path);
  data.baselinePath = std::move(path.activationPath);
  data.pathScore = path.pathScore;
  data.baselineScore = path.activationPathScore;
  data.title = path.title;
  data.scoreName = "candidate score";
  auto* view = new viewers::NeuronPathView;
  view->setObjectName(QStringLiteral("neuronPathView"));
  view->setData(std::move(data));
  layout->addWidget(view, 1);

  const auto layers = path.layers;
  const double factor = path.enhanceFactor;
  const std::weak_ptr<ModelSession> origin = m_session;
  connect(
      view, &viewers::NeuronPathView::neuronClicked, this,
      [this, layers, factor, origin](int column, qint64 neuron, Qt::KeyboardModifiers modifiers) {
        if (origin.lock() != m_session) {
          showError(tr("This neuron path is for another model; run it again for this one."));
          return;
        }
        if (column < 0 || column >= static_cast<int>(layers.size())) return;
        toggleNeuron(layers[static_cast<std::size_t>(column)], neuron,
                     modifiers.testFlag(Qt::ShiftModifier), factor);
      });
  markNeurons(*view, layers, masks());
  connect(m_interventions, &InterventionStack::masksChanged, view,
          [this, view, layers]() { markNeurons(*view, layers, masks()); });
  return panel;
}

void MainWindow::toggleNeuron(int layer, std::int64_t neuron, bool enhance, double factor) {
  const auto index = static_cast<int>(neuron);
  const auto existing = masks().find(MaskComponent::Neuron, layer, index);
  if (existing && enhances(*existing) == enhance) {
    m_interventions->remove(MaskComponent::Neuron, layer, index);
    return;
  }
  hooks::MaskEntry entry;
  entry.component = MaskComponent::Neuron;
  entry.layer = layer;
  entry.index = index;
  entry.mode = enhance ? AblationMode::Scale : AblationMode::Zero;
  entry.value = enhance ? factor : 1.0;
  m_interventions->set(entry);
}

}  // namespace cs::gui
