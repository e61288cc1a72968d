// The main window on the built-in induction model: the model tree, masking a head through it
// with live metrics and the accuracy-latency chart, context-menu ablations, undo, mask files and
// the pruned checkpoint, another evaluation set, the viewer docks, cancelling, and a corrupt
// model folder that leaves the window working.
#include "app/gui/main_window.h"

#include <QFile>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>
#include <QUndoStack>

#include <gtest/gtest.h>

#include "app/gui/demo_preset.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/model_tree.h"
#include "app/gui/prune_panel.h"
#include "viewers/activations_browser.h"
#include "viewers/attention_view.h"
#include "viewers/chart_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/token_attribution_view.h"

#include <algorithm>

namespace cs::gui {
namespace {

// Loading and one metrics pass take well under a second; the margin is for a loaded machine.
constexpr int kWaitMs = 60000;

QTreeWidgetItem* findItem(QTreeWidget& tree, const QString& text) {
  const auto found = tree.findItems(text, Qt::MatchExactly | Qt::MatchRecursive, 0);
  return found.size() == 1 ? found.front() : nullptr;
}

// A window with the built-in model loaded and its baseline accuracy known.
void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

TEST(MainWindow, StartsWithTheBuiltinModelTree) {
  MainWindow window;
  waitUntilReady(window);
  auto* tree = window.findChild<QTreeWidget*>(QStringLiteral("modelTree"));
  ASSERT_NE(tree, nullptr);
  int blocks = 0;
  for (int i = 0; i < tree->topLevelItemCount(); ++i) {
    if (tree->topLevelItem(i)->text(0).startsWith(QStringLiteral("block "))) ++blocks;
  }
  EXPECT_EQ(blocks, 2);
  for (int layer = 0; layer < 2; ++layer) {
    for (int head = 0; head < 4; ++head) {
      auto* item = findItem(*tree, QStringLiteral("head %1.%2").arg(layer).arg(head));
      ASSERT_NE(item, nullptr) << "head " << layer << "." << head;
      EXPECT_EQ(item->checkState(0), Qt::Checked);
    }
  }
  EXPECT_EQ(findItem(*tree, QStringLiteral("head 0.4")), nullptr);
  auto* z = findItem(*tree, QStringLiteral("blocks.1.attn.hook_z"));
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->text(1), QStringLiteral("[batch, pos, 4, 16]"));
  // Attention-only model: no MLP hook points, and the tree says so.
  EXPECT_EQ(findItem(*tree, QStringLiteral("blocks.0.mlp.hook_post")), nullptr);
  EXPECT_EQ(
      tree->findItems(QStringLiteral("MLP: none"), Qt::MatchExactly | Qt::MatchRecursive).size(),
      2);
  // The first predictions for the example input arrive on their own.
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.predictions().size() == 5; }, kWaitMs));
}

TEST(MainWindow, UncheckingTheInductionHeadLowersAccuracy) {
  MainWindow window;
  waitUntilReady(window);
  const double baseline = *window.baselineAccuracy();
  EXPECT_GT(baseline, 0.8);
  EXPECT_DOUBLE_EQ(*window.maskedAccuracy(), baseline);

  auto* tree = window.findChild<QTreeWidget*>(QStringLiteral("modelTree"));
  auto* head = findItem(*tree, QStringLiteral("head 0.0"));
  ASSERT_NE(head, nullptr);
  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  head->setCheckState(0, Qt::Unchecked);
  EXPECT_EQ(window.masks().size(), 1u);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  EXPECT_LT(*window.maskedAccuracy(), baseline - 0.3);
  EXPECT_DOUBLE_EQ(*window.baselineAccuracy(), baseline);

  head->setCheckState(0, Qt::Checked);
  EXPECT_TRUE(window.masks().empty());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 2; }, kWaitMs));
  EXPECT_DOUBLE_EQ(*window.maskedAccuracy(), baseline);
}

TEST(MainWindow, CorruptModelFolderShowsAnErrorAndTheWindowKeepsWorking) {
  MainWindow window;
  waitUntilReady(window);
  QTemporaryDir folder;
  ASSERT_TRUE(folder.isValid());
  QFile config(folder.filePath(QStringLiteral("config.json")));
  ASSERT_TRUE(config.open(QIODevice::WriteOnly));
  config.write("{ \"model_type\": \"gpt2\", \"n_layer\": ");
  config.close();

  QSignalSpy failed(&window, &MainWindow::modelLoadFailed);
  window.openModel(folder.path());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return failed.count() == 1; }, kWaitMs));
  EXPECT_TRUE(failed.at(0).at(0).toString().contains(QStringLiteral("config.json")))
      << failed.at(0).at(0).toString().toStdString();
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->toPlainText().contains(QStringLiteral("failed")));
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->isVisible());
  EXPECT_FALSE(box->isModal());

  // The built-in model is still loaded and answers a new input: a repeated random sequence,
  // whose continuation the induction heads predict.
  ASSERT_TRUE(window.hasModel());
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("7, 42, 13, 58, 21, 3, 36, 50, 11, 29, 7, 42, 13, 58"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  ASSERT_EQ(window.predictions().size(), 5u);
  EXPECT_EQ(window.predictions().front().token, 21);
  for (std::size_t i = 1; i < window.predictions().size(); ++i) {
    EXPECT_LE(window.predictions()[i].probability, window.predictions()[i - 1].probability);
  }
}

TEST(MainWindow, OutOfVocabularyInputIsAnErrorNotACrash) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("1, 2, 64"));
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return log->toPlainText().contains(QStringLiteral("outside the vocabulary")); },
      kWaitMs));
  window.setInputIds(QStringLiteral("1, 2, 3"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  EXPECT_EQ(window.predictions().size(), 5u);
}

using hooks::AblationMode;
using hooks::MaskComponent;

QAction* actionNamed(QMenu& menu, const QString& text) {
  for (auto* action : menu.actions()) {
    if (action->text() == text) return action;
  }
  return nullptr;
}

TEST(MainWindow, EachChangeAddsATradeoffPointAndUndoRestores) {
  MainWindow window;
  waitUntilReady(window);
  const double baseline = *window.baselineAccuracy();
  // The first measurement, with nothing masked, arrives on its own.
  ASSERT_TRUE(
      QTest::qWaitFor([&]() { return window.prunePanel().tradeoff().size() == 1; }, kWaitMs));
  QSignalSpy measured(&window, &MainWindow::pruningMeasured);
  window.interventions().set({MaskComponent::Head, 0, 0, AblationMode::Zero});
  ASSERT_TRUE(QTest::qWaitFor([&]() { return measured.count() >= 1; }, kWaitMs));
  const auto& points = window.prunePanel().tradeoff();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_NEAR(points[0].accuracy, baseline, 1e-12);
  EXPECT_LT(points[1].accuracy, baseline - 0.3);
  EXPECT_GT(points[1].latencyMs, 0.0);
  EXPECT_TRUE(points[1].label.contains(QStringLiteral("head 0.0 zero")));
  // A zero-ablated head can be removed: the compacted row is there, with fewer parameters.
  auto* table = window.findChild<QTableWidget*>(QStringLiteral("metricsTable"));
  ASSERT_NE(table, nullptr);
  ASSERT_NE(table->item(2, 5), nullptr);
  EXPECT_LT(table->item(2, 5)->text().toLongLong(), table->item(0, 5)->text().toLongLong());

  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  window.interventions().undoStack()->undo();
  EXPECT_TRUE(window.masks().empty());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  EXPECT_DOUBLE_EQ(*window.maskedAccuracy(), baseline);
  window.interventions().undoStack()->redo();
  EXPECT_EQ(window.masks().size(), 1u);
}

TEST(MainWindow, ContextMenuMeanAblatesAHeadAndTheTreeMarksIt) {
  MainWindow window;
  waitUntilReady(window);
  auto* tree = window.findChild<ModelTree*>(QStringLiteral("modelTree"));
  ASSERT_NE(tree, nullptr);
  auto menu = tree->contextMenuFor(tree->headItem(1, 2));
  ASSERT_NE(menu, nullptr);
  auto* mean = actionNamed(*menu, QStringLiteral("Mean-ablate"));
  ASSERT_NE(mean, nullptr);
  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  mean->trigger();
  const auto entry = window.masks().find(MaskComponent::Head, 1, 2);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->mode, AblationMode::Mean);
  auto* item = tree->headItem(1, 2);
  EXPECT_TRUE(item->text(0).contains(QStringLiteral("[mean]"))) << item->text(0).toStdString();
  EXPECT_TRUE(item->font(0).strikeOut());
  // Mean ablation needs means over the evaluation set: the metrics still come.
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  EXPECT_TRUE(window.maskedAccuracy().has_value());

  auto blockMenu = tree->contextMenuFor(tree->topLevelItem(1));
  auto* skip = actionNamed(*blockMenu, QStringLiteral("Skip this block"));
  ASSERT_NE(skip, nullptr);
  skip->trigger();
  EXPECT_TRUE(window.masks().find(MaskComponent::Block, 1).has_value());
  EXPECT_EQ(tree->topLevelItem(1)->text(0), QStringLiteral("block 1 (skipped)"));
}

TEST(MainWindow, MaskFilesRoundTripBetweenWindows) {
  QTemporaryDir dir;
  const auto path = dir.filePath(QStringLiteral("mask.json"));
  hooks::MaskSet written;
  {
    MainWindow window;
    waitUntilReady(window);
    window.interventions().set({MaskComponent::Head, 0, 0, AblationMode::Zero});
    window.interventions().set({MaskComponent::Head, 1, 3, AblationMode::Scale, 2.0});
    written = window.masks();
    QSignalSpy exported(&window, &MainWindow::maskExported);
    window.exportMask(path);
    ASSERT_TRUE(QTest::qWaitFor([&]() { return exported.count() == 1; }, kWaitMs));
  }
  QFile file(path);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly));
  EXPECT_TRUE(QJsonDocument::fromJson(file.readAll()).isObject());

  MainWindow other;
  waitUntilReady(other);
  QSignalSpy changed(&other.interventions(), &InterventionStack::masksChanged);
  other.importMask(path);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return changed.count() >= 1; }, kWaitMs));
  EXPECT_EQ(other.masks(), written);
  EXPECT_EQ(other.interventions().undoStack()->count(), 1);
}

TEST(MainWindow, ExportedPrunedModelOpensWithoutTheMaskedHead) {
  QTemporaryDir dir;
  const auto folder = dir.filePath(QStringLiteral("pruned"));
  MainWindow window;
  waitUntilReady(window);
  window.interventions().set({MaskComponent::Head, 1, 3, AblationMode::Zero});
  QSignalSpy exported(&window, &MainWindow::prunedExported);
  window.exportPruned(folder);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return exported.count() == 1; }, kWaitMs));
  EXPECT_TRUE(QFile::exists(folder + QStringLiteral("/config.json")));
  EXPECT_TRUE(QFile::exists(folder + QStringLiteral("/model.safetensors")));

  QSignalSpy loaded(&window, &MainWindow::modelLoaded);
  window.openModel(folder);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return loaded.count() == 1; }, kWaitMs));
  auto* tree = window.findChild<ModelTree*>(QStringLiteral("modelTree"));
  EXPECT_NE(tree->headItem(1, 2), nullptr);
  EXPECT_EQ(tree->headItem(1, 3), nullptr);
  EXPECT_NE(tree->headItem(0, 3), nullptr);
  EXPECT_TRUE(window.masks().empty());
  EXPECT_TRUE(window.recentModels().contains(folder));
}

TEST(MainWindow, MeanOrScaleEntriesCannotBeExportedAsAPrunedModel) {
  QTemporaryDir dir;
  MainWindow window;
  waitUntilReady(window);
  window.interventions().set({MaskComponent::Head, 0, 1, AblationMode::Mean});
  QSignalSpy exported(&window, &MainWindow::prunedExported);
  window.exportPruned(dir.filePath(QStringLiteral("pruned")));
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return log->toPlainText().contains(QStringLiteral("only zero-ablated")); }, kWaitMs));
  EXPECT_EQ(exported.count(), 0);
  EXPECT_FALSE(QFile::exists(dir.filePath(QStringLiteral("pruned/config.json"))));
}

TEST(MainWindow, AnotherEvaluationSetAndABadOne) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy opened(&window, &MainWindow::datasetOpened);
  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  window.openDataset(QStringLiteral("induction:rows=100,half=16,vocab=64,seed=5"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return opened.count() == 1; }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  auto* label = window.findChild<QLabel*>(QStringLiteral("metricsLabel"));
  EXPECT_TRUE(label->text().contains(QStringLiteral("100 rows"))) << label->text().toStdString();

  window.openDataset(QStringLiteral("no-such-generator:rows=3"));
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() {
        return log->toPlainText().contains(QStringLiteral("no-such-generator:rows=3 failed"));
      },
      kWaitMs));
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->isVisible());
  EXPECT_EQ(opened.count(), 1);
  EXPECT_TRUE(label->text().contains(QStringLiteral("100 rows")));
}

TEST(MainWindow, HeadGridFindsTheInductionHeadAndOpensItsAttention) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy shown(&window, &MainWindow::headScoresShown);
  window.runHeadAblation();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  auto* grid = window.findChild<viewers::HeatmapView*>(QStringLiteral("headGrid"));
  ASSERT_NE(grid, nullptr);
  const auto& values = grid->data().values;
  ASSERT_EQ(values.rows(), 2);
  ASSERT_EQ(values.cols(), 4);
  Eigen::Index layer = 0, head = 0;
  values.maxCoeff(&layer, &head);
  EXPECT_EQ(layer, 0);
  EXPECT_EQ(head, 0);
  EXPECT_GT(values(0, 0), 0.3);

  // Clicking a cell of the grid opens that head's attention.
  QSignalSpy attention(&window, &MainWindow::attentionShown);
  Q_EMIT grid->cellClicked(0, 2);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return attention.count() == 1; }, kWaitMs));
  auto* view = window.findChild<viewers::AttentionView*>(QStringLiteral("attentionView"));
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->data().layer, 0);
  EXPECT_EQ(view->currentHead(), 2);
  ASSERT_EQ(view->data().heads.size(), 4u);
  const auto tokens = window.findChild<QLineEdit*>(QStringLiteral("idsEdit"))
                          ->text()
                          .split(QLatin1Char(','), Qt::SkipEmptyParts)
                          .size();
  const auto& pattern = view->data().heads[2];
  EXPECT_EQ(pattern.rows(), tokens);
  // Rows of an attention pattern are distributions over the keys, and causal.
  for (Eigen::Index q = 0; q < pattern.rows(); ++q) {
    EXPECT_NEAR(pattern.row(q).sum(), 1.0, 1e-5);
    if (q + 1 < pattern.cols()) {
      EXPECT_EQ(pattern(q, q + 1), 0.0);
    }
  }

  // Figures save as they are shown: SVG with text, PNG with pixels; an absent one is refused.
  QTemporaryDir dir;
  const auto svg = dir.filePath(QStringLiteral("grid.svg"));
  const auto png = dir.filePath(QStringLiteral("attention.png"));
  ASSERT_TRUE(window.exportFigure(QStringLiteral("headGridDock"), svg));
  ASSERT_TRUE(window.exportFigure(QStringLiteral("attentionDock"), png));
  QFile svgFile(svg);
  ASSERT_TRUE(svgFile.open(QIODevice::ReadOnly));
  const auto svgText = svgFile.readAll();
  EXPECT_TRUE(svgText.contains("<svg"));
  EXPECT_TRUE(svgText.contains("L0"));
  EXPECT_FALSE(QImage(png).isNull());
  EXPECT_FALSE(window.exportFigure(QStringLiteral("ckaDock"), svg));

  // A Ctrl-click on the grid masks the head, and the grid marks it.
  auto* headGrid = qobject_cast<viewers::HeadGridView*>(grid);
  ASSERT_NE(headGrid, nullptr);
  Q_EMIT headGrid->headMaskToggled(1, 3);
  EXPECT_TRUE(window.masks().find(MaskComponent::Head, 1, 3).has_value());
  EXPECT_EQ(headGrid->maskedHeads().count({1, 3}), 1u);
}

TEST(MainWindow, IntegratedGradientsColourTheInputTokens) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy shown(&window, &MainWindow::attributionShown);
  window.setInputIds(QStringLiteral("7, 42, 13, 58, 21, 3, 7, 42, 13"));
  window.runIntegratedGradients();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  auto* view = window.findChild<viewers::TokenAttributionView*>(QStringLiteral("attributionView"));
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->data().tokens.size(), 9u);
  EXPECT_EQ(view->data().tokens.front(), "7");
  ASSERT_EQ(view->data().scores.size(), 9u);
  EXPECT_TRUE(QString::fromStdString(view->data().title).contains(QStringLiteral("completeness")));
}

TEST(MainWindow, EveryShippedDemoRunsItsStepsWithoutAFailedJob) {
  const auto catalog = listDemoPresets();
  ASSERT_TRUE(catalog.errors.empty()) << catalog.errors.front();
  ASSERT_GE(catalog.presets.size(), 3u);
  for (const auto& preset : catalog.presets) {
    SCOPED_TRACE(preset.id);
    MainWindow window(QString::fromStdString(preset.model));
    waitUntilReady(window);
    window.openDemo(preset);
    QSignalSpy finished(&window, &MainWindow::demoStepFinished);
    // Every step, in order, as a teacher would click Next.
    for (int i = 0; i < static_cast<int>(preset.steps.size()); ++i) {
      window.runDemoStep(i);
      ASSERT_TRUE(QTest::qWaitFor([&]() { return finished.count() == i + 1; }, kWaitMs))
          << "step " << i + 1 << ": " << preset.steps[static_cast<std::size_t>(i)].title;
    }
    auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
    EXPECT_FALSE(log->toPlainText().contains(QStringLiteral("failed")))
        << log->toPlainText().toStdString();
  }
}

TEST(MainWindow, LayerChartsAndResidualCka) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy layers(&window, &MainWindow::layerChartsShown);
  window.runLayerImportance();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return layers.count() == 1; }, kWaitMs));
  auto* bars = window.findChild<viewers::ChartView*>(QStringLiteral("layerImportanceChart"));
  ASSERT_NE(bars, nullptr);
  ASSERT_EQ(bars->data().series.size(), 3u);
  EXPECT_EQ(bars->data().categories.size(), 2u);
  // The induction model has no MLPs: their importance is 0, while attention matters.
  for (const double v : bars->data().series[2].values) EXPECT_EQ(v, 0.0);
  for (const double v : bars->data().series[1].values) EXPECT_GT(v, 0.0);
  auto* curve = window.findChild<viewers::ChartView*>(QStringLiteral("dropCurveChart"));
  ASSERT_NE(curve, nullptr);
  ASSERT_EQ(curve->data().x.size(), 3u);  // 0, 1 and 2 attention sublayers skipped
  EXPECT_NEAR(curve->data().series[0].values[0], *window.baselineAccuracy(), 0.05);

  QSignalSpy cka(&window, &MainWindow::ckaShown);
  window.runResidualCka();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return cka.count() == 1; }, kWaitMs));
  auto* view = window.findChild<viewers::HeatmapView*>(QStringLiteral("ckaView"));
  ASSERT_NE(view, nullptr);
  const auto& m = view->data().values;
  ASSERT_EQ(m.rows(), 3);  // h0, h1, h2
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    EXPECT_NEAR(m(i, i), 1.0, 1e-9);
    for (Eigen::Index j = 0; j < m.cols(); ++j) EXPECT_NEAR(m(i, j), m(j, i), 1e-12);
  }
}

TEST(MainWindow, PromptTokensBecomeTheIdsAndShowAsChips) {
  // gpt2-tiny with a five-token byte-level vocabulary: "ab ab" is "ab" then " ab".
  QTemporaryDir dir;
  const auto fixture = QStringLiteral(CS_TEST_DATA_DIR "/hf/gpt2-tiny/");
  for (const auto* name : {"config.json", "model.safetensors"}) {
    ASSERT_TRUE(QFile::copy(fixture + QLatin1String(name), dir.filePath(QLatin1String(name))));
  }
  QFile vocab(dir.filePath(QStringLiteral("vocab.json")));
  ASSERT_TRUE(vocab.open(QIODevice::WriteOnly));
  vocab.write(R"({"a": 0, "b": 1, "\u0120": 2, "ab": 3, "\u0120ab": 4})");
  vocab.close();
  QFile merges(dir.filePath(QStringLiteral("merges.txt")));
  ASSERT_TRUE(merges.open(QIODevice::WriteOnly));
  merges.write("#version: 0.2\na b\n\u0120 ab\n");
  merges.close();

  MainWindow window(dir.path());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  auto* prompt = window.findChild<QLineEdit*>(QStringLiteral("promptEdit"));
  ASSERT_NE(prompt, nullptr);
  EXPECT_FALSE(prompt->isHidden());
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setPrompt(QStringLiteral("ab ab"));
  EXPECT_EQ(window.findChild<QLineEdit*>(QStringLiteral("idsEdit"))->text(),
            QStringLiteral("3, 4"));
  auto* chips = window.findChild<viewers::TokenAttributionView*>(QStringLiteral("tokenChips"));
  ASSERT_NE(chips, nullptr);
  ASSERT_EQ(chips->data().tokens.size(), 2u);
  EXPECT_EQ(chips->data().tokens[0], "ab");
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  EXPECT_EQ(window.predictions().size(), 5u);
  // Text the vocabulary cannot spell is reported, and the last good input stays.
  window.setPrompt(QStringLiteral("xyz"));
  EXPECT_EQ(window.findChild<QLineEdit*>(QStringLiteral("idsEdit"))->text(),
            QStringLiteral("3, 4"));
  EXPECT_FALSE(window.findChild<QLabel*>(QStringLiteral("inputStatus"))->text().isEmpty());
}

TEST(MainWindow, RecordingOpensInTheActivationsBrowser) {
  QTemporaryDir dir;
  const auto store = dir.filePath(QStringLiteral("induction.h5"));
  QProcess record;
  record.start(
      QStringLiteral(CS_CLI_EXECUTABLE),
      {QStringLiteral("record"), QStringLiteral("builtin:induction"), QStringLiteral("--dataset"),
       QStringLiteral("induction:rows=12,half=16,vocab=64,seed=3"), QStringLiteral("--hooks"),
       QStringLiteral("blocks.*.hook_resid_post"), QStringLiteral("blocks.0.attn.hook_z"),
       QStringLiteral("--out"), store});
  ASSERT_TRUE(record.waitForFinished(120000));
  ASSERT_EQ(record.exitCode(), 0) << record.readAllStandardError().toStdString();

  MainWindow window;
  QSignalSpy opened(&window, &MainWindow::recordingOpened);
  window.openRecording(store);
  ASSERT_EQ(opened.count(), 1);
  auto* browser =
      window.findChild<viewers::ActivationsBrowser*>(QStringLiteral("activationsBrowser"));
  ASSERT_NE(browser, nullptr);
  EXPECT_EQ(browser->rowsAvailable(), 12);
  EXPECT_TRUE(browser->errorMessage().isEmpty()) << browser->errorMessage().toStdString();
  const auto hooks = browser->source()->hooks();
  ASSERT_EQ(hooks.size(), 3u);
  // hook_z [example, pos, head, d_head]: one example's positions by head x d_head features.
  browser->setHook("blocks.0.attn.hook_z");
  browser->setMode(viewers::BrowseMode::PositionsByFeatures);
  browser->setExample(5);
  EXPECT_EQ(browser->heatmap().data().values.rows(), 32);
  EXPECT_EQ(browser->heatmap().data().values.cols(), 4 * 16);
  EXPECT_EQ(browser->heatmap().data().rowLabels.size(), 32u);

  // Not a store: an error box, and the window goes on.
  window.openRecording(dir.filePath(QStringLiteral("missing.h5")));
  EXPECT_EQ(opened.count(), 1);
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->text().contains(QStringLiteral("missing.h5")));
}

TEST(MainWindow, CancellingARunningJobLeavesTheWindowUsable) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy ended(&window.jobs(), &JobRunner::jobEnded);
  window.runHeadAblation();
  window.jobs().cancelAll();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.jobs().activeCount() == 0; }, kWaitMs));
  bool sawCancel = false;
  for (const auto& args : ended) {
    sawCancel = sawCancel || args.at(1).value<JobState>() == JobState::Cancelled;
  }
  EXPECT_TRUE(sawCancel);
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("1, 2, 3"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
}

}  // namespace
}  // namespace cs::gui
