// The relevance analyses in the main window: LRP of a token input (builtin:induction) and of an
// image (builtin:digits-vit) with the conservation chart, the relevance pruning curve whose point
// becomes the live mask, the neuron path whose clicks mask and enhance neurons, and the errors of
// analyses a model or dataset cannot run.
#include <QApplication>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

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

// Loading and one analysis take a few seconds; the margin is for a loaded machine.
constexpr int kWaitMs = 60000;

void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

QString logText(MainWindow& window) {
  return window.findChild<QPlainTextEdit*>(QStringLiteral("logView"))->toPlainText();
}

// A left click on `point` with `modifiers`, delivered as the window system would.
void click(QWidget& widget, QPointF point, Qt::KeyboardModifiers modifiers) {
  QMouseEvent press(QEvent::MouseButtonPress, point, widget.mapToGlobal(point), Qt::LeftButton,
                    Qt::LeftButton, modifiers);
  QApplication::sendEvent(&widget, &press);
}

TEST(RelevanceViews, TokenRelevanceAddsUpToTheConservationChartsInput) {
  MainWindow window;  // builtin:induction: two attention-only blocks
  waitUntilReady(window);
  window.setInputIds(QStringLiteral("7, 42, 13, 58, 21, 3, 7, 42, 13"));
  QSignalSpy shown(&window, &MainWindow::relevanceShown);
  window.runRelevance();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto* dock = window.findChild<QDockWidget*>(QStringLiteral("relevanceDock"));
  ASSERT_NE(dock, nullptr);
  EXPECT_FALSE(dock->isHidden());
  EXPECT_EQ(window.findChild<viewers::ImageAttributionView*>(QStringLiteral("relevanceInputView")),
            nullptr);
  auto* tokens =
      window.findChild<viewers::TokenAttributionView*>(QStringLiteral("relevanceInputView"));
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->data().tokens.size(), 9u);
  EXPECT_EQ(tokens->data().tokens.front(), "7");
  // The repeated sequence continues with 58: the explained logit is the induction answer's.
  const auto title = QString::fromStdString(tokens->data().title);
  EXPECT_TRUE(title.contains(QStringLiteral("logit[58] at position 8"))) << title.toStdString();

  auto* chart = window.findChild<viewers::ChartView*>(QStringLiteral("relevanceConservationChart"));
  ASSERT_NE(chart, nullptr);
  const auto& data = chart->data();
  // The input, then h0 .. h2 (L + 1 residual points for L = 2).
  ASSERT_EQ(data.categories.size(), 4u);
  EXPECT_EQ(data.categories.front(), "input");
  EXPECT_EQ(data.categories.back(), "h2");
  ASSERT_EQ(data.series.size(), 2u);
  const auto& sums = data.series[0].values;
  const auto& logit = data.series[1].values;
  ASSERT_EQ(sums.size(), 4u);
  const double chips =
      std::accumulate(tokens->data().scores.begin(), tokens->data().scores.end(), 0.0);
  EXPECT_NEAR(chips, sums[0], 1e-9 * std::max(1.0, std::abs(sums[0])));
  EXPECT_GT(logit[0], 0.0);
  for (std::size_t i = 0; i < sums.size(); ++i) {
    EXPECT_TRUE(std::isfinite(sums[i])) << data.categories[i];
    EXPECT_EQ(logit[i], logit[0]);
  }

  auto* heads = window.findChild<viewers::HeadGridView*>(QStringLiteral("relevanceHeadGrid"));
  ASSERT_NE(heads, nullptr);
  EXPECT_EQ(heads->gridData().scores.rows(), 2);
  EXPECT_EQ(heads->gridData().scores.cols(), 4);
  EXPECT_TRUE(heads->gridData().scores.allFinite());
  // No MLPs in this model: no neuron map.
  EXPECT_EQ(window.findChild<viewers::HeatmapView*>(QStringLiteral("relevanceNeuronMap")), nullptr);
  // A Ctrl-click on the relevance head grid masks the head like the ablation grid does.
  Q_EMIT heads->headMaskToggled(1, 2);
  EXPECT_TRUE(window.masks().find(MaskComponent::Head, 1, 2).has_value());
  EXPECT_EQ(heads->maskedHeads().count({1, 2}), 1u);
}

TEST(RelevanceViews, PixelRelevanceOnTheFirstTestImage) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  waitUntilReady(window);
  QSignalSpy shown(&window, &MainWindow::relevanceShown);
  window.runRelevance();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  auto* image =
      window.findChild<viewers::ImageAttributionView*>(QStringLiteral("relevanceInputView"));
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->data().image.size(), QSize(8, 8));
  EXPECT_EQ(image->data().scores.rows(), 8);
  EXPECT_EQ(image->data().scores.cols(), 8);
  EXPECT_TRUE(image->data().scores.allFinite());
  EXPECT_GT(image->data().scores.cwiseAbs().maxCoeff(), 0.0);
  EXPECT_TRUE(QString::fromStdString(image->data().title).contains(QStringLiteral("class ")));

  auto* chart = window.findChild<viewers::ChartView*>(QStringLiteral("relevanceConservationChart"));
  ASSERT_NE(chart, nullptr);
  EXPECT_EQ(chart->data().categories.size(), 4u);  // input, h0, h1, h2
  auto* neurons = window.findChild<viewers::HeatmapView*>(QStringLiteral("relevanceNeuronMap"));
  ASSERT_NE(neurons, nullptr);
  EXPECT_EQ(neurons->data().values.rows(), 2);
  EXPECT_EQ(neurons->data().values.cols(), 128);
}

TEST(RelevanceViews, PruningCurvePointBecomesTheLiveMask) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  waitUntilReady(window);
  const double baseline = *window.baselineAccuracy();
  QSignalSpy shown(&window, &MainWindow::pruningCurveShown);
  window.runRelevancePruning(PruneUnit::Neurons);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto* chart = window.findChild<viewers::ChartView*>(QStringLiteral("pruningCurveChart"));
  ASSERT_NE(chart, nullptr);
  const auto& data = chart->data();
  EXPECT_EQ(data.kind, viewers::ChartKind::Line);
  ASSERT_EQ(data.series.size(), 3u);
  ASSERT_FALSE(data.x.empty());
  EXPECT_EQ(data.x.front(), 0.0);
  const char* orders[] = {"relevance (AUC ", "random (AUC ", "magnitude (AUC "};
  for (std::size_t s = 0; s < 3; ++s) {
    EXPECT_EQ(data.series[s].name.rfind(orders[s], 0), 0u) << data.series[s].name;
    // Rate 0 is the model the live metrics measure, on the same rows.
    EXPECT_NEAR(data.series[s].values.front(), baseline, 1e-12) << data.series[s].name;
  }

  // The dock saves as a figure with the curves' legend in it.
  QTemporaryDir dir;
  const auto svg = dir.filePath(QStringLiteral("curve.svg"));
  ASSERT_TRUE(window.exportFigure(QStringLiteral("pruningCurveDock"), svg));
  QFile svgFile(svg);
  ASSERT_TRUE(svgFile.open(QIODevice::ReadOnly));
  EXPECT_TRUE(svgFile.readAll().contains("relevance (AUC"));

  auto* rates = window.findChild<QComboBox*>(QStringLiteral("pruningRate"));
  auto* apply = window.findChild<QPushButton*>(QStringLiteral("applyPruningMask"));
  ASSERT_NE(rates, nullptr);
  ASSERT_NE(apply, nullptr);
  ASSERT_EQ(rates->count(), static_cast<int>(data.x.size()));
  const auto half = std::find(data.x.begin(), data.x.end(), 0.5);
  ASSERT_NE(half, data.x.end());
  const auto index = static_cast<int>(half - data.x.begin());
  rates->setCurrentIndex(index);
  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  apply->click();

  // floor(0.5 x 256) neurons, zero-ablated, the least relevant ones.
  const auto& masks = window.masks();
  ASSERT_EQ(masks.size(), 128u);
  auto* scores = window.findChild<viewers::HeatmapView*>(QStringLiteral("pruningScores"));
  ASSERT_NE(scores, nullptr);
  const auto& table = scores->data().values;
  ASSERT_EQ(table.rows(), 2);
  ASSERT_EQ(table.cols(), 128);
  double highestMasked = -1.0;
  for (const auto& e : masks.entries()) {
    EXPECT_EQ(e.component, MaskComponent::Neuron);
    EXPECT_EQ(e.mode, AblationMode::Zero);
    highestMasked = std::max(highestMasked, table(e.layer, e.index));
  }
  for (Eigen::Index l = 0; l < table.rows(); ++l) {
    for (Eigen::Index n = 0; n < table.cols(); ++n) {
      if (!masks.find(MaskComponent::Neuron, static_cast<int>(l), static_cast<int>(n))) {
        EXPECT_GE(table(l, n), highestMasked) << "neuron " << l << "." << n;
      }
    }
  }
  // The live metrics of that mask are the curve's point.
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  EXPECT_NEAR(*window.maskedAccuracy(), data.series[0].values[static_cast<std::size_t>(index)],
              1e-12);
  // One undoable step.
  window.interventions().undoStack()->undo();
  EXPECT_TRUE(window.masks().empty());
}

TEST(RelevanceViews, AnalysesAModelOrDatasetCannotRunAreErrorsNotCrashes) {
  MainWindow window;  // builtin:induction: no MLPs, and a test set scored at every position
  waitUntilReady(window);
  window.runRelevancePruning(PruneUnit::Heads);
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() {
        return logText(window).contains(QStringLiteral("needs an evaluation set with targets"));
      },
      kWaitMs));
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->isVisible());
  EXPECT_TRUE(box->text().contains(QStringLiteral("File > Open dataset")));

  window.runNeuronPath();
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return logText(window).contains(QStringLiteral("has no MLP neurons")); }, kWaitMs));
  EXPECT_EQ(window.findChild<QDockWidget*>(QStringLiteral("pruningCurveDock")), nullptr);
  EXPECT_EQ(window.findChild<QDockWidget*>(QStringLiteral("neuronPathDock")), nullptr);

  // The window still works: another analysis and a new input.
  QSignalSpy shown(&window, &MainWindow::relevanceShown);
  window.runRelevance();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("1, 2, 3"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
}

TEST(NeuronPathDock, ClicksMaskAndShiftClicksEnhanceNeurons) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  waitUntilReady(window);
  QSignalSpy shown(&window, &MainWindow::neuronPathShown);
  window.runNeuronPath();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  auto* dock = window.findChild<QDockWidget*>(QStringLiteral("neuronPathDock"));
  ASSERT_NE(dock, nullptr);
  EXPECT_TRUE(dock->windowTitle().contains(QStringLiteral("every position")));
  auto* view = window.findChild<viewers::NeuronPathView*>(QStringLiteral("neuronPathView"));
  ASSERT_NE(view, nullptr);
  const auto& data = view->data();
  ASSERT_EQ(data.layerLabels.size(), 2u);  // one column per MLP layer
  EXPECT_EQ(data.layerLabels[1], "L1");
  ASSERT_EQ(data.path.size(), 2u);
  ASSERT_EQ(data.baselinePath.size(), 2u);
  for (const auto& column : data.scores) EXPECT_EQ(column.size(), 128u);
  ASSERT_TRUE(data.pathScore.has_value());
  auto* note = window.findChild<QLabel*>(QStringLiteral("neuronPathNote"));
  ASSERT_NE(note, nullptr);
  EXPECT_TRUE(note->text().contains(QStringLiteral("masks apply at every position")));

  view->resize(500, 700);
  const auto first = data.path[0][0];
  const auto second = data.path[1][0];
  // A click on layer 0's path neuron zero-ablates it, and the view marks it.
  click(*view, view->neuronPoint(0, first, view->rect()), Qt::NoModifier);
  auto entry = window.masks().find(MaskComponent::Neuron, 0, static_cast<int>(first));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->mode, AblationMode::Zero);
  ASSERT_EQ(view->data().masked.size(), 1u);
  EXPECT_EQ(view->data().masked.front(), (viewers::NeuronMark{0, first}));

  // A Shift-click on layer 1's path neuron enhances it by the analysis' factor.
  click(*view, view->neuronPoint(1, second, view->rect()), Qt::ShiftModifier);
  entry = window.masks().find(MaskComponent::Neuron, 1, static_cast<int>(second));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->mode, AblationMode::Scale);
  EXPECT_EQ(entry->value, 2.0);
  ASSERT_EQ(view->data().enhanced.size(), 1u);
  EXPECT_EQ(view->data().enhanced.front(), (viewers::NeuronMark{1, second}));
  EXPECT_EQ(window.masks().size(), 2u);

  // Clicking the masked neuron again restores it; undo brings it back.
  click(*view, view->neuronPoint(0, first, view->rect()), Qt::NoModifier);
  EXPECT_FALSE(window.masks().find(MaskComponent::Neuron, 0, static_cast<int>(first)));
  EXPECT_TRUE(view->data().masked.empty());
  window.interventions().undoStack()->undo();
  EXPECT_TRUE(window.masks().find(MaskComponent::Neuron, 0, static_cast<int>(first)));
  EXPECT_EQ(view->data().masked.size(), 1u);
}

}  // namespace
}  // namespace cs::gui
