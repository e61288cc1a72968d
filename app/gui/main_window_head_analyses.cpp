// The per-head analyses of the command line's `analyze` in viewer docks: head divergence (with
// its head selection offered as a reinforcement mask), memory vs context heads (with PH3
// pruning's heads offered as a mask), attribution patching and path patching. Their head grids
// follow the live mask: a click opens the head's attention, a Ctrl-click masks or restores it.
// A mask a dock offers is added to the interventions as one undoable step.
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "app/gui/head_score_views.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "viewers/chart_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"

namespace cs::gui {

namespace {

using hooks::MaskComponent;

const auto kDivergenceKey = QStringLiteral("headDivergence");
const auto kMemoryKey = QStringLiteral("memoryHeads");
const auto kAttributionKey = QStringLiteral("attributionPatching");
const auto kPathKey = QStringLiteral("pathPatching");

// "1, 9, 10" as numbers; empty with `error` set when a piece is not a non-negative integer.
std::vector<int> parseCounts(const QString& text, const QString& what, QString& error) {
  std::vector<int> values;
  const auto pieces = text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
  for (const auto& piece : pieces) {
    bool ok = false;
    const int v = piece.toInt(&ok);
    if (!ok || v < 0) {
      error = QObject::tr("%1: '%2' is not a whole number of 0 or more").arg(what, piece);
      return {};
    }
    values.push_back(v);
  }
  return values;
}

QString headName(int layer, int head) { return QStringLiteral("L%1H%2").arg(layer).arg(head); }

QString headsText(const std::vector<analysis::HeadRef>& heads) {
  QStringList names;
  for (const auto& h : heads) names << headName(h.layer, h.head);
  return names.isEmpty() ? QObject::tr("none") : names.join(QStringLiteral(", "));
}

// The first `count` heads of a ranked group with both of their scores.
QString conflictHeadsText(const std::vector<analysis::ConflictHead>& heads, std::size_t count) {
  QStringList names;
  for (std::size_t i = 0; i < std::min(count, heads.size()); ++i) {
    names << QObject::tr("%1 (e %2, DLA %3)")
                 .arg(headName(heads[i].layer, heads[i].head))
                 .arg(heads[i].effect, 0, 'f', 3)
                 .arg(heads[i].dla, 0, 'f', 3);
  }
  if (heads.size() > count) names << QObject::tr("%1 more").arg(heads.size() - count);
  return names.isEmpty() ? QObject::tr("none") : names.join(QStringLiteral(", "));
}

// A live head grid of `scores` with values written in the cells.
viewers::HeadGridView* liveGrid(MainWindow& window, InterventionStack& interventions,
                                Eigen::MatrixXd scores, std::string title, const QString& name) {
  viewers::HeadGridData data;
  data.scores = std::move(scores);
  data.title = std::move(title);
  data.annotate = true;
  return liveHeadGrid(window, interventions, std::move(data), name);
}

// A button that adds `mask` to the interventions (one undoable step named `step`).
QPushButton* maskButton(MainWindow& window, InterventionStack& interventions, const QString& text,
                        const QString& name, hooks::MaskSet mask, const QString& step) {
  auto* button = new QPushButton(text);
  button->setObjectName(name);
  button->setEnabled(!mask.empty());
  QObject::connect(button, &QPushButton::clicked, &window,
                   [&window, &interventions, mask = std::move(mask), step]() {
                     auto after = window.masks();
                     for (const auto& e : mask.entries()) after.set(e);
                     interventions.apply(after, step);
                   });
  return button;
}

QLabel* summaryLabel(const QString& text, const QString& name) {
  auto* label = new QLabel(text);
  label->setObjectName(name);
  label->setWordWrap(true);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return label;
}

viewers::ChartData pruningChart(const analysis::MemoryHeadResult& r) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Line;
  data.title = "PH3: the target answer (o_" + std::string(r.mode == "context" ? "c" : "m") +
               ") with the top k " + (r.mode == "context" ? "memory" : "context") +
               " heads zero-ablated";
  data.xTitle = "k";
  data.yTitle = "rate / probability";
  data.yMin = 0.0;
  data.yMax = 1.0;
  viewers::ChartSeries rate{"validation rate", {}}, probability{"validation probability", {}};
  viewers::ChartSeries testRate{"test rate", {}}, testProbability{"test probability", {}};
  bool test = false;
  for (const auto& p : r.curve) {
    data.x.push_back(p.k);
    rate.values.push_back(p.validationRate);
    probability.values.push_back(p.validationProbability);
    testRate.values.push_back(p.testRate);
    testProbability.values.push_back(p.testProbability);
    test = test || std::isfinite(p.testRate);
  }
  data.series = {rate, probability};
  if (test) {
    data.series.push_back(testRate);
    data.series.push_back(testProbability);
  }
  return data;
}

}  // namespace

// --- head divergence --------------------------------------------------------------------

void MainWindow::askHeadDivergence() {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  const int layers = static_cast<int>(m_session->summary().blocks.size());
  std::vector<OptionField> fields;
  if (m_session->isLanguageModel()) {
    const int n = static_cast<int>(ids.size());
    fields = {
        choiceField(QStringLiteral("without"), tr("Without"),
                    tr("The \"without\" branch: the input with positions taken out, or a "
                       "replacement input of any length"),
                    QStringLiteral("remove"), {QStringLiteral("remove"), QStringLiteral("replace")},
                    {tr("the input minus the positions below"), tr("the replacement token ids")}),
        intField(QStringLiteral("removeFrom"), tr("Remove from position"),
                 tr("The first position taken out (the context segment)"), 0, 0,
                 std::max(0, n - 1)),
        intField(QStringLiteral("removeTo"), tr("Up to position (not included)"),
                 tr("Positions from the first up to this one are taken out; the last position "
                    "must stay"),
                 std::max(1, n / 2), 1, std::max(1, n)),
        textField(QStringLiteral("withoutIds"), tr("Replacement token ids"),
                  tr("Any length: only the last positions are compared"), tokenIdsText(ids))};
  } else {
    fields = {choiceField(QStringLiteral("blank"), tr("Blank image"),
                          tr("The \"without\" branch of an image model"), QStringLiteral("mean"),
                          {QStringLiteral("mean"), QStringLiteral("zero")},
                          {tr("each channel's own mean"), tr("every normalised pixel 0")})};
  }
  fields.push_back(doubleField(QStringLiteral("alpha"), tr("Reinforcement factor alpha"),
                               tr("The selected heads' z is multiplied by alpha (VHR)"), 2.0, 0.0,
                               1000.0, 3));
  fields.push_back(textField(QStringLiteral("layers"), tr("Layers to select heads in"),
                             tr("L_r, e.g. 1, 9, 10 (blocks 0 to %1); empty: block 1 and the last "
                                "ceil(7L/16) blocks")
                                 .arg(layers - 1),
                             QString()));
  fields.push_back(boolField(QStringLiteral("lockstep"), tr("Lockstep"),
                             tr("Later layers are measured with the earlier selections already "
                                "reinforced"),
                             true));
  const auto values = askOptions(kDivergenceKey, tr("Head divergence"), std::move(fields));
  if (!values) return;
  DivergenceSettings settings;
  QString error;
  if (m_session->isLanguageModel()) {
    if (values->value(QStringLiteral("without")).toString() == QStringLiteral("replace")) {
      settings.without =
          parseTokenIds(values->value(QStringLiteral("withoutIds")).toString(), error);
      if (!error.isEmpty()) {
        showError(tr("replacement input: %1").arg(error));
        return;
      }
    } else {
      settings.removeBegin = values->value(QStringLiteral("removeFrom")).toInt();
      settings.removeEnd = values->value(QStringLiteral("removeTo")).toInt();
    }
  } else {
    settings.blank = values->value(QStringLiteral("blank")).toString().toStdString();
  }
  settings.alpha = values->value(QStringLiteral("alpha")).toDouble();
  settings.layers =
      parseCounts(values->value(QStringLiteral("layers")).toString(), tr("layers"), error);
  if (!error.isEmpty()) {
    showError(error);
    return;
  }
  settings.lockstep = values->value(QStringLiteral("lockstep")).toBool();
  runHeadDivergence(settings);
}

void MainWindow::runHeadDivergence(const DivergenceSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<HeadDivergence>(
      tr("head divergence"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->headDivergence(ids, masks, settings, progress);
      },
      [this](HeadDivergence d) {
        log(tr("head divergence against %1: selected %2")
                .arg(QString::fromStdString(d.without), headsText(d.result.selectedHeads)));
        viewerDock(QStringLiteral("divergenceDock"), tr("Head divergence"),
                   headDivergencePanel(std::move(d)));
        Q_EMIT headDivergenceShown();
      });
}

QWidget* MainWindow::headDivergencePanel(HeadDivergence d) {
  const auto& r = d.result;
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  QStringList analysed;
  for (const int l : r.layers) analysed << QString::number(l);
  layout->addWidget(summaryLabel(
      tr("VHD: how far each head's output z moves at the last position between the input and "
         "%1. Heads selected in layers %2%3: %4 (reinforced by scaling z by %5). %6 forward "
         "passes. Rank heads of different layers by VHD / median.")
          .arg(QString::fromStdString(d.without), analysed.join(QStringLiteral(", ")),
               r.lockstep ? tr(" (lockstep)") : QString(), headsText(r.selectedHeads))
          .arg(r.alpha)
          .arg(r.forwardPasses),
      QStringLiteral("divergenceSummary")));
  auto* row = new QHBoxLayout;
  auto* apply = maskButton(
      *this, *m_interventions, tr("Reinforce the selected heads (z x %1)").arg(r.alpha),
      QStringLiteral("divergenceApplyMask"), d.reinforcement,
      tr("reinforce %1 by %2 (head divergence)").arg(headsText(r.selectedHeads)).arg(r.alpha));
  apply->setToolTip(
      tr("Add a scale entry for every selected head to the interventions, as the mask file of "
         "analyze head-divergence --save-mask holds; one undoable step"));
  row->addWidget(apply);
  row->addStretch(1);
  layout->addLayout(row);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("divergenceTabs"));
  tabs->addTab(
      liveGrid(*this, *m_interventions, r.relativeVhd, "VHD / median of the layer: " + d.title,
               QStringLiteral("divergenceHeadGrid")),
      tr("VHD / median"));
  tabs->addTab(
      liveGrid(*this, *m_interventions, r.vhd, "VHD = ||z(with) - z(without)||: " + d.title,
               QStringLiteral("divergenceVhdGrid")),
      tr("VHD"));
  tabs->addTab(liveGrid(*this, *m_interventions, r.ta, "TA = ||z(without)||^2: " + d.title,
                        QStringLiteral("divergenceTaGrid")),
               tr("TA"));
  layout->addWidget(tabs, 1);
  return panel;
}

// --- memory vs context heads ----------------------------------------------------------------

void MainWindow::askMemoryHeads() {
  if (!m_session) return;
  if (!m_session->isLanguageModel()) {
    showError(
        tr("Memory and context heads are found on prompts with conflicting answers: open a "
           "language model."));
    return;
  }
  const auto examplesKey =
      AnalysisOptionsDialog::settingsKey(kMemoryKey, QStringLiteral("examples"));
  if (m_askOptions) {
    // The dialog has no file browser: the file is chosen first and the dialog shows it.
    const auto path = QFileDialog::getOpenFileName(
        this, tr("Conflict examples"), QSettings().value(examplesKey).toString(),
        tr("JSON lines (*.jsonl *.json);;All files (*)"));
    if (path.isEmpty()) return;
    QSettings().setValue(examplesKey, path);
  }
  const auto values = askOptions(
      kMemoryKey, tr("Memory vs context heads"),
      {textField(QStringLiteral("examples"), tr("Conflict examples"),
                 tr("A .jsonl file, one conflict per line: question, context, memory_answer, "
                    "context_answer (text or *_id(s)), optional split (docs/analyses.md)"),
                 QString()),
       choiceField(QStringLiteral("rankBy"), tr("Rank heads by"),
                   tr("The effect of patching the head's output from the reference input, or "
                      "its direct logit attribution"),
                   QStringLiteral("effect"), {QStringLiteral("effect"), QStringLiteral("dla")},
                   {tr("|effect|"), tr("|DLA|")}),
       choiceField(
           QStringLiteral("mode"), tr("Prune to follow"),
           tr("Context: prune memory heads so the model follows the context; memory: "
              "prune context heads"),
           QStringLiteral("context"), {QStringLiteral("context"), QStringLiteral("memory")},
           {tr("the context (prune memory heads)"), tr("the memory (prune context heads)")}),
       boolField(QStringLiteral("filter"), tr("Rank on the kept examples"),
                 tr("Only examples answering o_m without and o_c with the context rank heads"),
                 true),
       boolField(QStringLiteral("frozenNorm"), tr("Freeze the final norm"),
                 tr("The effect with the final norm's scale frozen (linear in the heads)"), false),
       textField(QStringLiteral("kGrid"), tr("Heads to try pruning (k)"),
                 tr("Numbers of heads; k = 0 is always tried"),
                 QStringLiteral("1, 3, 5, 7, 9, 15")),
       doubleField(QStringLiteral("findFraction"), tr("Share of head-finding examples"),
                   tr("Of the examples without a split; the rest choose k"), 0.5, 0.05, 0.95, 2),
       intField(QStringLiteral("batchSize"), tr("Batch size"), tr("Examples per forward pass"), 8,
                1, 4096)});
  if (!values) return;
  MemoryHeadSettings settings;
  settings.examples = values->value(QStringLiteral("examples")).toString().toStdString();
  settings.rankBy = values->value(QStringLiteral("rankBy")).toString().toStdString();
  settings.mode = values->value(QStringLiteral("mode")).toString().toStdString();
  settings.filter = values->value(QStringLiteral("filter")).toBool();
  settings.frozenNorm = values->value(QStringLiteral("frozenNorm")).toBool();
  QString error;
  settings.kGrid = parseCounts(values->value(QStringLiteral("kGrid")).toString(), tr("k"), error);
  if (!error.isEmpty()) {
    showError(error);
    return;
  }
  settings.findFraction = values->value(QStringLiteral("findFraction")).toDouble();
  settings.batchSize = values->value(QStringLiteral("batchSize")).toInt();
  runMemoryHeads(settings);
}

void MainWindow::runMemoryHeads(const MemoryHeadSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<MemoryHeads>(
      tr("memory and context heads"),
      [session, settings](Progress& progress) { return session->memoryHeads(settings, progress); },
      [this](MemoryHeads m) {
        log(tr("memory heads: %1 memory, %2 context heads; chosen k %3")
                .arg(m.result.memoryHeads.size())
                .arg(m.result.contextHeads.size())
                .arg(m.result.chosenK));
        viewerDock(QStringLiteral("memoryHeadsDock"), tr("Memory heads"),
                   memoryHeadsPanel(std::move(m)));
        Q_EMIT memoryHeadsShown();
      });
}

QWidget* MainWindow::memoryHeadsPanel(MemoryHeads m) {
  const auto& r = m.result;
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  const bool context = r.mode == "context";
  QStringList pruned;
  for (const auto& h : r.prunedHeads) pruned << headName(h.layer, h.head);
  auto text =
      tr("%1 head-finding examples (%2 kept: o_m on x_ref %3%, o_c on x_conf %4%), %5 "
         "validation, %6 test; heads ranked on the %7 examples, mean logit(o_m) - logit(o_c) on "
         "x_conf %8, of the model without the current interventions.\n"
         "Memory heads (DLA > 0): %9.\nContext heads (DLA < 0): %10.\n")
          .arg(r.findExamples)
          .arg(r.keptExamples)
          .arg(100.0 * r.memoryRateOnReference, 0, 'f', 0)
          .arg(100.0 * r.contextRateOnConflict, 0, 'f', 0)
          .arg(r.validationExamples)
          .arg(r.testExamples)
          .arg(r.rankedOnKept ? tr("kept") : tr("head-finding"))
          .arg(r.meanLogitDifference, 0, 'f', 4)
          .arg(conflictHeadsText(r.memoryHeads, 5), conflictHeadsText(r.contextHeads, 5));
  text += tr("PH3 (follow the %1): chosen k = %2, pruning %3.")
              .arg(context ? tr("context") : tr("memory"))
              .arg(r.chosenK)
              .arg(pruned.isEmpty() ? tr("nothing") : pruned.join(QStringLiteral(", ")));
  if (!r.note.empty()) text += QStringLiteral(" ") + QString::fromStdString(r.note);
  layout->addWidget(summaryLabel(text, QStringLiteral("memoryHeadsSummary")));
  auto* row = new QHBoxLayout;
  auto* apply = maskButton(*this, *m_interventions,
                           tr("Zero-ablate the %1 chosen heads").arg(r.prunedHeads.size()),
                           QStringLiteral("memoryHeadsApplyMask"), m.pruning,
                           tr("prune %1 (PH3)").arg(pruned.join(QStringLiteral(", "))));
  apply->setToolTip(
      tr("Add PH3's chosen heads, zero-ablated, to the interventions (one undoable "
         "step)"));
  row->addWidget(apply);
  row->addStretch(1);
  layout->addLayout(row);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("memoryHeadsTabs"));
  tabs->addTab(
      liveGrid(*this, *m_interventions, r.effect,
               "effect e: r(x_ref) patched into x_conf at the last token (" + m.title + ")",
               QStringLiteral("memoryEffectGrid")),
      tr("Effect"));
  tabs->addTab(liveGrid(*this, *m_interventions, r.dla,
                        "DLA on x_conf along e[o_m] - e[o_c]: + memory, - context",
                        QStringLiteral("memoryDlaGrid")),
               tr("DLA"));
  auto* chart = new viewers::ChartView;
  chart->setObjectName(QStringLiteral("memoryPruningChart"));
  chart->setData(pruningChart(r));
  tabs->addTab(chart, tr("Pruning"));
  layout->addWidget(tabs, 1);
  return panel;
}

// --- attribution and path patching --------------------------------------------------------

void MainWindow::askAttributionPatching() {
  if (!m_session) return;
  OptionField corrupted;
  if (!corruptedField(kAttributionKey, tr("Attribution patching"),
                      QStringLiteral("attribution-patching"), corrupted)) {
    return;
  }
  const auto values = askOptions(
      kAttributionKey, tr("Attribution patching"),
      {corrupted,
       choiceField(QStringLiteral("direction"), tr("Direction"),
                   tr("Denoising: the gradient on the corrupted run (1 = full recovery). "
                      "Noising: on the clean run (1 = behaves like the corrupted run)."),
                   QStringLiteral("denoising"),
                   {QStringLiteral("denoising"), QStringLiteral("noising")},
                   {tr("denoising (clean into corrupted)"), tr("noising (corrupted into clean)")}),
       boolField(QStringLiteral("byPosition"), tr("Residual stream by position"),
                 tr("Also estimate blocks.L.hook_resid_pre at each (layer, position)"), true),
       boolField(QStringLiteral("compare"), tr("Compare with activation patching"),
                 tr("Also run activation patching of every head and correlate the two"), false)});
  if (!values) return;
  AttributionPatchingSettings settings;
  if (!corruptedIds(*values, settings.corrupted)) return;
  settings.noising =
      values->value(QStringLiteral("direction")).toString() == QStringLiteral("noising");
  settings.byPosition = values->value(QStringLiteral("byPosition")).toBool();
  settings.compare = values->value(QStringLiteral("compare")).toBool();
  runAttributionPatching(settings);
}

void MainWindow::runAttributionPatching(const AttributionPatchingSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<AttributionPatching>(
      tr("attribution patching"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->attributionPatching(ids, masks, settings, progress);
      },
      [this](AttributionPatching p) {
        log(QString::fromStdString(p.estimate.title));
        viewerDock(QStringLiteral("attributionPatchingDock"), tr("Attribution patching"),
                   attributionPatchingPanel(std::move(p)));
        Q_EMIT attributionPatchingShown();
      });
}

QWidget* MainWindow::attributionPatchingPanel(AttributionPatching a) {
  const auto& p = a.estimate;
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto text = tr("First-order estimate of %1 of %2 (two forward passes, one backward): clean run "
                 "%3, corrupted run %4. A score of 0 is no effect, 1 the other run's metric.")
                  .arg(QString::fromStdString(p.direction), QString::fromStdString(p.metric))
                  .arg(p.cleanMetric, 0, 'f', 4)
                  .arg(p.corruptedMetric, 0, 'f', 4);
  if (!p.scored) {
    text +=
        tr(" Both runs give the same metric, so every score is 0: change the tokens the "
           "answer depends on.");
  }
  if (a.activationHeads.rows() > 0) {
    text += tr(" Against activation patching of the %1 heads: Pearson %2, Spearman %3, largest "
               "difference %4.")
                .arg(a.comparison.locations)
                .arg(a.comparison.pearson, 0, 'f', 3)
                .arg(a.comparison.spearman, 0, 'f', 3)
                .arg(a.comparison.maxAbsDifference, 0, 'f', 3);
  }
  layout->addWidget(summaryLabel(text, QStringLiteral("attributionPatchingSummary")));
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("attributionPatchingTabs"));
  tabs->addTab(liveGrid(*this, *m_interventions, p.heads,
                        "attribution patching estimate per head (" + p.direction + ")",
                        QStringLiteral("attributionPatchingHeadGrid")),
               tr("Heads"));
  if (a.activationHeads.rows() > 0) {
    tabs->addTab(liveGrid(*this, *m_interventions, a.activationHeads,
                          "activation patching per head (" + p.direction + ")",
                          QStringLiteral("attributionPatchingExactGrid")),
                 tr("Activation patching"));
  }
  if (p.positions.rows() > 0) {
    tabs->addTab(positionMap(p, "attribution patching estimate",
                             QStringLiteral("attributionPatchingPositionMap")),
                 tr("Positions"));
  }
  layout->addWidget(tabs, 1);
  return panel;
}

void MainWindow::askPathPatching() {
  if (!m_session) return;
  OptionField corrupted;
  if (!corruptedField(kPathKey, tr("Path patching"), QStringLiteral("path-patching"), corrupted)) {
    return;
  }
  const auto values = askOptions(
      kPathKey, tr("Path patching"),
      {corrupted,
       textField(QStringLiteral("senders"), tr("Senders"),
                 tr("LAYER.HEAD or LAYER.mlp; sets by commas, one set's members joined by '+', "
                    "e.g. 0.0,0.1+0.2,0.mlp; all: every head alone"),
                 QStringLiteral("all")),
       textField(QStringLiteral("receivers"), tr("Receivers"),
                 tr("logits, LAYER.HEAD.q (.k, .v, .qkv) or LAYER.mlp; groups by commas, members "
                    "joined by '+', e.g. logits,1.0.k,1.0.q"),
                 QStringLiteral("logits")),
       choiceField(QStringLiteral("direction"), tr("Direction"),
                   tr("Noising, as the algorithm is written: the clean run receives the "
                      "corrupted senders (1 = behaves like the corrupted run). Denoising swaps "
                      "the runs."),
                   QStringLiteral("noising"),
                   {QStringLiteral("noising"), QStringLiteral("denoising")},
                   {tr("noising (corrupted into clean)"), tr("denoising (clean into corrupted)")}),
       boolField(QStringLiteral("throughMlps"), tr("Paths through MLPs"),
                 tr("Recompute the MLPs in the first step, so paths through them count (default: "
                    "direct, every MLP frozen)"),
                 false),
       boolField(QStringLiteral("frozenNorm"), tr("Freeze the final norm"),
                 tr("Logits receiver: the final norm keeps the receiving run's scale"), false)});
  if (!values) return;
  PathPatchingSettings settings;
  if (!corruptedIds(*values, settings.corrupted)) return;
  settings.senders = values->value(QStringLiteral("senders")).toString().toStdString();
  settings.receivers = values->value(QStringLiteral("receivers")).toString().toStdString();
  settings.denoising =
      values->value(QStringLiteral("direction")).toString() == QStringLiteral("denoising");
  settings.throughMlps = values->value(QStringLiteral("throughMlps")).toBool();
  settings.frozenNorm = values->value(QStringLiteral("frozenNorm")).toBool();
  runPathPatching(settings);
}

void MainWindow::runPathPatching(const PathPatchingSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<PathPatching>(
      tr("path patching"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->pathPatching(ids, masks, settings, progress);
      },
      [this](PathPatching p) {
        log(QString::fromStdString(p.title));
        viewerDock(QStringLiteral("pathPatchingDock"), tr("Path patching"),
                   pathPatchingPanel(std::move(p)));
        Q_EMIT pathPatchingShown();
      });
}

QWidget* MainWindow::pathPatchingPanel(PathPatching p) {
  const auto& r = p.result;
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto text = tr("%1 of %2, %3: clean run %4, corrupted run %5. S[sender, receiver]: 0 is no "
                 "effect through that receiver, 1 the other run's metric. %6 forward passes.")
                  .arg(QString::fromStdString(r.direction), QString::fromStdString(r.metric),
                       r.mode == "direct" ? tr("direct (every other head and MLP frozen)")
                                          : tr("through MLPs (MLPs recomputed)"))
                  .arg(r.cleanMetric, 0, 'f', 4)
                  .arg(r.corruptedMetric, 0, 'f', 4)
                  .arg(r.forwardPasses);
  if (r.scoredPairs == 0) {
    text +=
        tr(" Both runs give the same metric, so every score is 0: change the tokens the "
           "answer depends on.");
  }
  layout->addWidget(summaryLabel(text, QStringLiteral("pathPatchingSummary")));
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("pathPatchingTabs"));
  for (std::size_t g = 0; g < p.headGrids.size(); ++g) {
    const auto& receiver = r.receivers[g];
    tabs->addTab(
        liveGrid(*this, *m_interventions, p.headGrids[g],
                 "path patching: each sender head -> " + receiver + " (" + r.direction + ")",
                 QStringLiteral("pathPatchingHeadGrid%1").arg(g)),
        QString::fromStdString(receiver));
  }
  viewers::HeatmapData data;
  data.values = r.score;
  data.rowLabels = r.senders;
  data.columnLabels = r.receivers;
  data.rowTitle = "sender";
  data.columnTitle = "receiver";
  data.title = "path patching S[sender, receiver] (" + r.direction + ")";
  data.scale = viewers::ScaleKind::Diverging;
  data.annotate = true;
  auto* matrix = new viewers::HeatmapView;
  matrix->setObjectName(QStringLiteral("pathPatchingMatrix"));
  matrix->setData(std::move(data));
  tabs->addTab(matrix, tr("All paths"));
  layout->addWidget(tabs, 1);
  return panel;
}

}  // namespace cs::gui
