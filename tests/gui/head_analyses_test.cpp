// The per-head analyses of the Analyses menu, run as the menu runs them (remembered options, no
// dialog): head divergence, memory vs context heads, attribution patching and path patching on
// builtin:induction. Each head grid must show what the analysis library computes on the same
// model and inputs, the known induction circuit must show where docs/analyses.md and the
// analysis tests find it, the masks the docks offer must be exactly the analysis' heads, and bad
// inputs and image models must give readable errors while the window keeps working.
// libtorch comes first: the library is called directly to check the window's numbers.
#include "core/torch_api.h"

#include <QAction>
#include <QDockWidget>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUndoStack>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "analysis/activation_patching.h"
#include "analysis/attribution_patching.h"
#include "analysis/head_divergence.h"
#include "analysis/memory_heads.h"
#include "analysis/path_patching.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "core/error.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"

namespace cs::gui {
namespace {

constexpr int kWaitMs = 60000;
const auto kGroup = QStringLiteral("analysisOptions");

// A random half A of 16 tokens, then its first 8 again: the model inducts A[8] at the last
// position. The corrupted ("without") input has another first half B, so only the clean input
// holds an earlier copy to induct from (the pairs of docs/analyses.md's known answer).
const std::vector<std::int64_t> kA{4, 14, 49, 20, 28, 62, 46, 29, 62, 19, 34, 16, 32, 5, 4, 26};
const std::vector<std::int64_t> kB{17, 1, 31, 33, 43, 55, 51, 21, 24, 25, 4, 43, 18, 43, 58, 44};
constexpr int kRepeat = 8;

std::vector<std::int64_t> repeated(const std::vector<std::int64_t>& first) {
  auto ids = first;
  ids.insert(ids.end(), kA.begin(), kA.begin() + kRepeat);
  return ids;
}
const auto kClean = repeated(kA);
const auto kCorrupted = repeated(kB);

// The head whose zero ablation costs builtin:induction the most accuracy: the previous-token
// head L0H0 (docs/analyses.md, "Known answer"); L1H0 is the induction head it feeds.
constexpr int kPreviousTokenLayer = 0, kPreviousTokenHead = 0;
constexpr int kInductionLayer = 1, kInductionHead = 0;

QString idsText(const std::vector<std::int64_t>& ids) {
  QStringList pieces;
  for (const auto id : ids) pieces << QString::number(id);
  return pieces.join(QStringLiteral(", "));
}

void remember(const QString& analysis, const QString& field, const QVariant& value) {
  QSettings().setValue(QStringLiteral("analysisOptions/%1/%2").arg(analysis, field), value);
}

void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

void trigger(MainWindow& window, const QString& name) {
  auto* action = window.findChild<QAction*>(QStringLiteral("analysis_") + name);
  ASSERT_NE(action, nullptr) << name.toStdString();
  ASSERT_TRUE(action->isEnabled()) << name.toStdString();
  action->trigger();
}

// Waits for the error box to say `text`; the message for a failure.
::testing::AssertionResult errorShown(MainWindow& window, const QString& text) {
  const bool shown = QTest::qWaitFor(
      [&]() {
        auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
        return box && box->isVisible() && box->text().contains(text);
      },
      kWaitMs);
  if (shown) return ::testing::AssertionSuccess();
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  return ::testing::AssertionFailure()
         << "no error saying \"" << text.toStdString() << "\"; the box says \""
         << (box ? box->text().toStdString() : std::string("nothing")) << "\"";
}

QString labelText(MainWindow& window, const QString& name) {
  auto* label = window.findChild<QLabel*>(name);
  return label ? label->text() : QString();
}

const Eigen::MatrixXd& gridScores(MainWindow& window, const QString& name) {
  auto* grid = window.findChild<viewers::HeadGridView*>(name);
  static const Eigen::MatrixXd none;
  EXPECT_NE(grid, nullptr) << name.toStdString();
  return grid ? grid->gridData().scores : none;
}

// The same matrix, NaN where the other has NaN.
void expectSameScores(const Eigen::MatrixXd& shown, const Eigen::MatrixXd& expected,
                      const char* what) {
  ASSERT_EQ(shown.rows(), expected.rows()) << what;
  ASSERT_EQ(shown.cols(), expected.cols()) << what;
  for (Eigen::Index r = 0; r < shown.rows(); ++r) {
    for (Eigen::Index c = 0; c < shown.cols(); ++c) {
      if (std::isnan(expected(r, c))) {
        EXPECT_TRUE(std::isnan(shown(r, c))) << what << " (" << r << ", " << c << ")";
      } else {
        EXPECT_NEAR(shown(r, c), expected(r, c), 1e-9) << what << " (" << r << ", " << c << ")";
      }
    }
  }
}

// How many heads score above (layer, head).
int headsAbove(const Eigen::MatrixXd& scores, int layer, int head) {
  int above = 0;
  for (Eigen::Index i = 0; i < scores.size(); ++i) above += scores.data()[i] > scores(layer, head);
  return above;
}

std::unique_ptr<models::Transformer> inductionModel() {
  return models::loadHfModel(models::resolveModelFolder("builtin:induction"));
}

models::ModelInput tokensOf(const std::vector<std::int64_t>& ids) {
  models::ModelInput input;
  input.tokens = torch::tensor(ids, torch::kLong).unsqueeze(0);
  return input;
}

std::int64_t topToken(models::Transformer& model, const std::vector<std::int64_t>& ids) {
  c10::InferenceMode guard;
  return model.forward(tokensOf(ids))[0][-1].argmax().item<std::int64_t>();
}

// The pair the window patches: the clean run's answer against the corrupted run's.
analysis::PatchingPairs windowPair(models::Transformer& model) {
  analysis::PatchingPairs pairs;
  pairs.clean = tokensOf(kClean);
  pairs.corrupted = tokensOf(kCorrupted);
  analysis::PatchMetric metric;
  metric.answer = topToken(model, kClean);
  const auto other = topToken(model, kCorrupted);
  metric.foil = other != metric.answer ? other : -1;
  pairs.metrics = {metric};
  return pairs;
}

Eigen::MatrixXd headScores(const analysis::PatchingResult& r) {
  Eigen::MatrixXd out = Eigen::MatrixXd::Constant(2, 4, std::nan(""));
  for (const auto& loc : r.locations) out(loc.layer, loc.head) = loc.score;
  return out;
}

// Knowledge conflicts the induction model resolves by copying: the context holds "A B", the
// question ends with A, so the context answer is B and the memory answer another token.
std::vector<analysis::ConflictExample> inductionConflicts() {
  std::vector<analysis::ConflictExample> examples;
  for (int i = 0; i < 12; ++i) {
    std::vector<std::int64_t> tokens;  // 12 distinct tokens
    for (int j = 0; j < 12; ++j) tokens.push_back((5 * i + 17 * j + 3) % 64);
    analysis::ConflictExample e;
    e.conflict.assign(tokens.begin(), tokens.begin() + 8);
    e.reference.assign(tokens.begin() + 8, tokens.end());
    e.reference.push_back(tokens[0]);
    e.conflict.insert(e.conflict.end(), e.reference.begin(), e.reference.end());
    e.contextAnswer = tokens[1];
    e.memoryAnswer = (tokens[1] + 7) % 64;
    examples.push_back(std::move(e));
  }
  return examples;
}

// The examples as the command line's file: ids, the first six finding heads.
void writeConflicts(const std::string& path, const std::vector<analysis::ConflictExample>& all) {
  std::ofstream out(path);
  const auto list = [](auto begin, auto end) {
    std::string text = "[";
    for (auto it = begin; it != end; ++it) text += (it == begin ? "" : ", ") + std::to_string(*it);
    return text + "]";
  };
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    const auto question = e.conflict.begin() + 8;
    out << R"({"context_ids": )" << list(e.conflict.begin(), question) << R"(, "question_ids": )"
        << list(question, e.conflict.end()) << R"(, "memory_answer_id": )" << e.memoryAnswer
        << R"(, "context_answer_id": )" << e.contextAnswer << R"(, "split": ")"
        << (i < 6 ? "find" : "validation") << "\"}\n";
  }
}

// The values of the options dialog the window opens next, which it then cancels.
QVariantMap dialogValues(MainWindow& window, const QString& analysis) {
  QVariantMap shown;
  QTimer timer;
  timer.setInterval(20);
  QObject::connect(&timer, &QTimer::timeout, [&]() {
    auto* dialog = window.findChild<AnalysisOptionsDialog*>();
    if (!dialog || !dialog->isVisible()) return;
    shown = dialog->values();
    dialog->reject();
    timer.stop();
  });
  timer.start();
  trigger(window, analysis);  // returns once the dialog is closed
  return shown;
}

// Every test starts and ends without remembered options, so none leaks into another.
class HeadAnalyses : public ::testing::Test {
 protected:
  void SetUp() override { QSettings().remove(kGroup); }
  void TearDown() override { QSettings().remove(kGroup); }
};

TEST_F(HeadAnalyses, DialogsStartFromTheDocumentedDefaults) {
  MainWindow window;
  waitUntilReady(window);
  window.setInputIds(idsText(kClean));
  const auto divergence = dialogValues(window, QStringLiteral("headDivergence"));
  EXPECT_EQ(divergence.value(QStringLiteral("without")).toString(), QStringLiteral("remove"));
  EXPECT_EQ(divergence.value(QStringLiteral("removeFrom")).toInt(), 0);
  EXPECT_EQ(divergence.value(QStringLiteral("removeTo")).toInt(), 12);  // half of 24 tokens
  EXPECT_EQ(divergence.value(QStringLiteral("withoutIds")).toString(), idsText(kClean));
  EXPECT_EQ(divergence.value(QStringLiteral("alpha")).toDouble(), 2.0);
  EXPECT_EQ(divergence.value(QStringLiteral("layers")).toString(), QString());
  EXPECT_TRUE(divergence.value(QStringLiteral("lockstep")).toBool());

  // The patching dialogs start from the corrupted input activation patching remembers, when it
  // fits the input; path patching noises, as the algorithm is written.
  remember(QStringLiteral("patching"), QStringLiteral("corrupted"), idsText(kCorrupted));
  const auto attribution = dialogValues(window, QStringLiteral("attributionPatching"));
  EXPECT_EQ(attribution.value(QStringLiteral("corrupted")).toString(), idsText(kCorrupted));
  EXPECT_EQ(attribution.value(QStringLiteral("direction")).toString(), QStringLiteral("denoising"));
  EXPECT_TRUE(attribution.value(QStringLiteral("byPosition")).toBool());
  EXPECT_FALSE(attribution.value(QStringLiteral("compare")).toBool());
  const auto path = dialogValues(window, QStringLiteral("pathPatching"));
  EXPECT_EQ(path.value(QStringLiteral("corrupted")).toString(), idsText(kCorrupted));
  EXPECT_EQ(path.value(QStringLiteral("senders")).toString(), QStringLiteral("all"));
  EXPECT_EQ(path.value(QStringLiteral("receivers")).toString(), QStringLiteral("logits"));
  EXPECT_EQ(path.value(QStringLiteral("direction")).toString(), QStringLiteral("noising"));
  EXPECT_FALSE(path.value(QStringLiteral("throughMlps")).toBool());
  // A remembered input of another length gives way to the current input.
  remember(QStringLiteral("patching"), QStringLiteral("corrupted"), QStringLiteral("1, 2, 3"));
  EXPECT_EQ(dialogValues(window, QStringLiteral("pathPatching"))
                .value(QStringLiteral("corrupted"))
                .toString(),
            idsText(kClean));
  // Cancelled dialogs run nothing.
  EXPECT_EQ(window.findChild<QDockWidget*>(QStringLiteral("pathPatchingDock")), nullptr);
}

TEST_F(HeadAnalyses, DivergenceShowsTheLibrarysScoresAndItsSelectionBecomesTheMask) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(idsText(kClean));
  remember(QStringLiteral("headDivergence"), QStringLiteral("without"), QStringLiteral("replace"));
  remember(QStringLiteral("headDivergence"), QStringLiteral("withoutIds"), idsText(kCorrupted));
  remember(QStringLiteral("headDivergence"), QStringLiteral("alpha"), 3.0);
  remember(QStringLiteral("headDivergence"), QStringLiteral("layers"), QStringLiteral("0, 1"));
  QSignalSpy shown(&window, &MainWindow::headDivergenceShown);
  trigger(window, QStringLiteral("headDivergence"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto model = inductionModel();
  analysis::HeadDivergenceOptions options;
  options.alpha = 3.0;
  options.layers = {0, 1};
  const auto r =
      analysis::analyseHeadDivergence(*model, tokensOf(kClean), tokensOf(kCorrupted), options);
  const auto& relative = gridScores(window, QStringLiteral("divergenceHeadGrid"));
  expectSameScores(relative, r.relativeVhd, "VHD / median");
  const auto& raw = gridScores(window, QStringLiteral("divergenceVhdGrid"));
  expectSameScores(raw, r.vhd, "VHD");
  expectSameScores(gridScores(window, QStringLiteral("divergenceTaGrid")), r.ta, "TA");
  // Known answer (HeadDivergence.FindsTheDemoHeadOnTheBuiltinInductionModel): the previous-token
  // head is among the two most divergent heads by VHD / median, and the first of its layer by VHD.
  EXPECT_LT(headsAbove(relative, kPreviousTokenLayer, kPreviousTokenHead), 2) << relative;
  EXPECT_EQ(raw.row(kPreviousTokenLayer).maxCoeff(), raw(kPreviousTokenLayer, kPreviousTokenHead));

  // The selection, named in the caption, becomes the VHR mask: one scale entry per head.
  ASSERT_FALSE(r.selectedHeads.empty());
  const auto summary = labelText(window, QStringLiteral("divergenceSummary"));
  for (const auto& h : r.selectedHeads) {
    EXPECT_TRUE(summary.contains(QStringLiteral("L%1H%2").arg(h.layer).arg(h.head)))
        << summary.toStdString();
  }
  auto* apply = window.findChild<QPushButton*>(QStringLiteral("divergenceApplyMask"));
  ASSERT_NE(apply, nullptr);
  ASSERT_TRUE(apply->isEnabled());
  ASSERT_TRUE(window.masks().empty());
  apply->click();
  EXPECT_EQ(window.masks(), analysis::reinforcementMask(r));
  ASSERT_EQ(window.masks().size(), r.selectedHeads.size());
  for (const auto& e : window.masks().entries()) {
    EXPECT_EQ(e.mode, hooks::AblationMode::Scale);
    EXPECT_EQ(e.value, 3.0);
  }
  auto* grid = window.findChild<viewers::HeadGridView*>(QStringLiteral("divergenceHeadGrid"));
  EXPECT_EQ(grid->maskedHeads().size(), r.selectedHeads.size());
  // One undoable step.
  window.interventions().undoStack()->undo();
  EXPECT_TRUE(window.masks().empty());
}

TEST_F(HeadAnalyses, MemoryHeadsFindTheInductionHeadsAsContextHeads) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  const auto examples = inductionConflicts();
  const auto path = dir.filePath(QStringLiteral("conflicts.jsonl")).toStdString();
  writeConflicts(path, examples);
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  remember(QStringLiteral("memoryHeads"), QStringLiteral("examples"), QString::fromStdString(path));
  remember(QStringLiteral("memoryHeads"), QStringLiteral("filter"), false);
  remember(QStringLiteral("memoryHeads"), QStringLiteral("mode"), QStringLiteral("memory"));
  QSignalSpy shown(&window, &MainWindow::memoryHeadsShown);
  trigger(window, QStringLiteral("memoryHeads"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto model = inductionModel();
  analysis::MemoryHeadOptions options;
  options.filter = false;
  options.mode = analysis::SteeringMode::Memory;
  const std::vector<analysis::ConflictExample> find(examples.begin(), examples.begin() + 6);
  const std::vector<analysis::ConflictExample> validation(examples.begin() + 6, examples.end());
  const auto r = analysis::analyseMemoryHeads(*model, find, validation, {}, options);
  expectSameScores(gridScores(window, QStringLiteral("memoryEffectGrid")), r.effect, "effect");
  expectSameScores(gridScores(window, QStringLiteral("memoryDlaGrid")), r.dla, "DLA");
  // Known answer (MemoryHeads.InductionHeadsAreContextHeads...): the two strongest context
  // heads are in the last layer, where the induction heads read the context; the caption
  // lists them first.
  ASSERT_GE(r.contextHeads.size(), 2u);
  EXPECT_EQ(r.contextHeads[0].layer, kInductionLayer);
  EXPECT_EQ(r.contextHeads[1].layer, kInductionLayer);
  const auto summary = labelText(window, QStringLiteral("memoryHeadsSummary"));
  const auto first = QStringLiteral("Context heads (DLA < 0): L%1H%2")
                         .arg(r.contextHeads[0].layer)
                         .arg(r.contextHeads[0].head);
  EXPECT_TRUE(summary.contains(first)) << summary.toStdString();

  // PH3's chosen heads become a zero-ablation mask.
  ASSERT_GT(r.chosenK, 0);
  auto* apply = window.findChild<QPushButton*>(QStringLiteral("memoryHeadsApplyMask"));
  ASSERT_NE(apply, nullptr);
  apply->click();
  ASSERT_EQ(window.masks().size(), r.prunedHeads.size());
  for (const auto& h : r.prunedHeads) {
    const auto entry = window.masks().find(hooks::MaskComponent::Head, h.layer, h.head);
    ASSERT_TRUE(entry.has_value()) << h.layer << "." << h.head;
    EXPECT_EQ(entry->mode, hooks::AblationMode::Zero);
  }

  // A malformed line is refused by its number; the window keeps its result and keeps working.
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"question_ids": [1, 2], "context_ids": "oops"})"
        << "\n";
  }
  trigger(window, QStringLiteral("memoryHeads"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("line 13")));
  EXPECT_NE(window.findChild<viewers::HeadGridView*>(QStringLiteral("memoryDlaGrid")), nullptr);
  remember(QStringLiteral("memoryHeads"), QStringLiteral("examples"), QString());
  trigger(window, QStringLiteral("memoryHeads"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("choose a conflict examples file")));
}

TEST_F(HeadAnalyses, AttributionPatchingShowsTheLibrarysEstimateAndItsComparison) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(idsText(kClean));
  remember(QStringLiteral("attributionPatching"), QStringLiteral("corrupted"), idsText(kCorrupted));
  remember(QStringLiteral("attributionPatching"), QStringLiteral("compare"), true);
  QSignalSpy shown(&window, &MainWindow::attributionPatchingShown);
  trigger(window, QStringLiteral("attributionPatching"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto model = inductionModel();
  const auto pairs = windowPair(*model);
  auto options = analysis::patchingOptionsFor(analysis::PatchKind::Heads);
  const auto estimate = analysis::analyseAttributionPatching(*model, pairs, options);
  const auto exact = analysis::analyseActivationPatching(*model, pairs, options);
  const auto& heads = gridScores(window, QStringLiteral("attributionPatchingHeadGrid"));
  expectSameScores(heads, headScores(estimate), "estimate");
  expectSameScores(gridScores(window, QStringLiteral("attributionPatchingExactGrid")),
                   headScores(exact), "activation patching");
  auto* map =
      window.findChild<viewers::HeatmapView*>(QStringLiteral("attributionPatchingPositionMap"));
  ASSERT_NE(map, nullptr);
  const auto resid = analysis::analyseAttributionPatching(
      *model, pairs, analysis::patchingOptionsFor(analysis::PatchKind::ResidPre));
  ASSERT_EQ(map->data().values.cols(), static_cast<Eigen::Index>(kClean.size()));
  for (const auto& loc : resid.locations) {
    EXPECT_NEAR(map->data().values(loc.layer, loc.position), loc.score, 1e-9);
  }
  // Denoising: the heads that restore the answer on their own are the induction heads of the
  // last layer (ActivationPatchingInduction); the estimate ranks one of them first.
  Eigen::Index topLayer = 0, topHead = 0;
  heads.maxCoeff(&topLayer, &topHead);
  EXPECT_EQ(topLayer, kInductionLayer) << heads;
  const auto comparison = analysis::comparePatching(estimate, exact);
  const auto summary = labelText(window, QStringLiteral("attributionPatchingSummary"));
  EXPECT_TRUE(summary.contains(QStringLiteral("Pearson %1").arg(comparison.pearson, 0, 'f', 3)))
      << summary.toStdString();
}

TEST_F(HeadAnalyses, PathPatchingShowsTheKCompositionIntoTheInductionHead) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(idsText(kClean));
  remember(QStringLiteral("pathPatching"), QStringLiteral("corrupted"), idsText(kCorrupted));
  remember(QStringLiteral("pathPatching"), QStringLiteral("receivers"),
           QStringLiteral("logits, 1.0.k, 1.0.q"));
  QSignalSpy shown(&window, &MainWindow::pathPatchingShown);
  trigger(window, QStringLiteral("pathPatching"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto model = inductionModel();
  analysis::PathPatchingOptions options;
  using analysis::ReceiverInput;
  options.receivers = {{analysis::PathReceiver{}},
                       {{ReceiverInput::Key, kInductionLayer, kInductionHead}},
                       {{ReceiverInput::Query, kInductionLayer, kInductionHead}}};
  const auto r = analysis::analysePathPatching(*model, windowPair(*model), options);
  auto* matrix = window.findChild<viewers::HeatmapView*>(QStringLiteral("pathPatchingMatrix"));
  ASSERT_NE(matrix, nullptr);
  expectSameScores(matrix->data().values, r.score, "S[sender, receiver]");
  EXPECT_EQ(matrix->data().rowLabels, r.senders);
  EXPECT_EQ(matrix->data().columnLabels, (std::vector<std::string>{"logits", "L1H0.k", "L1H0.q"}));

  // One head grid of the senders per receiver group, each a column of S.
  std::vector<Eigen::MatrixXd> grids;
  for (int g = 0; g < 3; ++g) {
    grids.push_back(gridScores(window, QStringLiteral("pathPatchingHeadGrid%1").arg(g)));
    ASSERT_EQ(grids.back().rows(), 2);
    for (std::size_t s = 0; s < r.senders.size(); ++s) {
      const int layer = r.senders[s][1] - '0', head = r.senders[s][3] - '0';
      EXPECT_NEAR(grids.back()(layer, head), r.score(static_cast<Eigen::Index>(s), g), 1e-12);
    }
  }
  // Known answer (docs/analyses.md): the previous-token head reaches the induction head
  // through its key input (K-composition), not its query, and the induction head drives the
  // logits.
  const auto& key = grids[1];
  EXPECT_EQ(headsAbove(key, kPreviousTokenLayer, kPreviousTokenHead), 0) << key;
  EXPECT_GT(key(kPreviousTokenLayer, kPreviousTokenHead), 0.3) << key;
  EXPECT_LT(std::abs(grids[2](kPreviousTokenLayer, kPreviousTokenHead)), 0.1) << grids[2];
  EXPECT_EQ(headsAbove(grids[0], kInductionLayer, kInductionHead), 0) << grids[0];
}

TEST_F(HeadAnalyses, BadInputsShowAnErrorAndTheWindowKeepsWorking) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(idsText(kClean));
  auto outside = kCorrupted;
  outside[3] = 99;
  remember(QStringLiteral("attributionPatching"), QStringLiteral("corrupted"), idsText(outside));
  trigger(window, QStringLiteral("attributionPatching"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("token id 99 is outside the vocabulary")));

  remember(QStringLiteral("pathPatching"), QStringLiteral("corrupted"), idsText(kCorrupted));
  remember(QStringLiteral("pathPatching"), QStringLiteral("senders"), QStringLiteral("0.9"));
  trigger(window, QStringLiteral("pathPatching"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("head 9 does not exist in layer 0")));
  remember(QStringLiteral("pathPatching"), QStringLiteral("senders"), QStringLiteral("all"));
  remember(QStringLiteral("pathPatching"), QStringLiteral("receivers"), QStringLiteral("1.0.x"));
  trigger(window, QStringLiteral("pathPatching"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("receivers: '1.0.x' is not logits")));

  remember(QStringLiteral("headDivergence"), QStringLiteral("removeFrom"), 20);
  remember(QStringLiteral("headDivergence"), QStringLiteral("removeTo"), 4);
  trigger(window, QStringLiteral("headDivergence"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("the removed range 20:4")));
  remember(QStringLiteral("headDivergence"), QStringLiteral("layers"), QStringLiteral("1, x"));
  trigger(window, QStringLiteral("headDivergence"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("layers: 'x' is not a whole number")));

  // None of that left a result behind, and the next request works.
  EXPECT_EQ(window.findChild<viewers::HeadGridView*>(QStringLiteral("attributionPatchingHeadGrid")),
            nullptr);
  remember(QStringLiteral("attributionPatching"), QStringLiteral("corrupted"), idsText(kCorrupted));
  QSignalSpy shown(&window, &MainWindow::attributionPatchingShown);
  trigger(window, QStringLiteral("attributionPatching"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  EXPECT_TRUE(gridScores(window, QStringLiteral("attributionPatchingHeadGrid")).allFinite());
}

TEST_F(HeadAnalyses, ImageModelsCompareWithABlankImageAndRefuseTokenAnalyses) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  waitUntilReady(window);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.currentImage().has_value(); }, kWaitMs));
  window.setAskOptions(false);
  trigger(window, QStringLiteral("memoryHeads"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("open a language model")));
  trigger(window, QStringLiteral("attributionPatching"));
  EXPECT_TRUE(
      errorShown(window, QStringLiteral("analyze attribution-patching with --clean-image")));
  trigger(window, QStringLiteral("pathPatching"));
  EXPECT_TRUE(errorShown(window, QStringLiteral("analyze path-patching with --clean-image")));

  // The session refuses them too, with the same advice.
  Progress progress;
  const auto session = ModelSession::open("builtin:digits-vit", progress);
  MemoryHeadSettings memory;
  memory.examples = "conflicts.jsonl";
  try {
    session->memoryHeads(memory, progress);
    ADD_FAILURE() << "an image model was searched for memory heads";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("open a language model"), std::string::npos) << e.what();
  }
  PathPatchingSettings path;
  path.corrupted = {1, 2};
  EXPECT_THROW(session->pathPatching({1, 2}, {}, path, progress), ConfigError);

  // Head divergence applies: the current image against a blank one.
  remember(QStringLiteral("headDivergence"), QStringLiteral("blank"), QStringLiteral("zero"));
  QSignalSpy shown(&window, &MainWindow::headDivergenceShown);
  trigger(window, QStringLiteral("headDivergence"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  DivergenceSettings settings;
  settings.blank = "zero";
  const auto d = session->headDivergence({}, {}, settings, progress);  // its row 0, as the window's
  expectSameScores(gridScores(window, QStringLiteral("divergenceVhdGrid")), d.result.vhd, "VHD");
  EXPECT_TRUE(d.result.vhd.allFinite());
  EXPECT_GT(d.result.vhd.maxCoeff(), 0.0);
  EXPECT_TRUE(labelText(window, QStringLiteral("divergenceSummary"))
                  .contains(QStringLiteral("every normalised pixel 0")));
}

}  // namespace
}  // namespace cs::gui
