// The Local Interaction Basis dock on builtin:modadd (its test split, a few dozen rows): the
// graph's columns and edges are the analysis' Lambda and E, the threshold slider and the view
// follow each other, the spectra and the LIB / PCA curves end at the base accuracy; and a set
// without targets (builtin:induction) is an error that leaves the window working.
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QSlider>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <gtest/gtest.h>

#include <cmath>

#include "app/gui/main_window.h"
#include "app/gui/model_session.h"
#include "viewers/chart_view.h"
#include "viewers/interaction_graph_view.h"

namespace cs::gui {
namespace {

// Loading and the analysis on a few dozen rows take seconds; the margin is for a loaded machine.
constexpr int kWaitMs = 120000;
constexpr std::int64_t kRows = 48;

void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

QString logText(MainWindow& window) {
  return window.findChild<QPlainTextEdit*>(QStringLiteral("logView"))->toPlainText();
}

TEST(LibDock, ShowsTheAnalysisGraphSpectraAndCurves) {
  MainWindow window(QStringLiteral("builtin:modadd"));  // its test split, from the manifest
  waitUntilReady(window);
  QSignalSpy shown(&window, &MainWindow::libShown);
  window.runLocalInteractionBasis(kRows);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));
  auto* dock = window.findChild<QDockWidget*>(QStringLiteral("libDock"));
  ASSERT_NE(dock, nullptr);
  EXPECT_FALSE(dock->isHidden());
  auto* tabs = dock->findChild<QTabWidget*>(QStringLiteral("libTabs"));
  ASSERT_NE(tabs, nullptr);
  ASSERT_EQ(tabs->count(), 3);
  EXPECT_EQ(tabs->tabText(0), QStringLiteral("Interaction graph"));

  // The same analysis outside the window: the dock must show exactly its numbers.
  Progress progress;
  const auto session = ModelSession::open("builtin:modadd", progress);
  const auto r = session->localInteractionBasis(kRows, progress);
  ASSERT_EQ(r.examples, kRows);
  ASSERT_EQ(r.layers.size(), 4u);
  ASSERT_EQ(r.edges.size(), 3u);

  auto* graph = dock->findChild<viewers::InteractionGraphView*>(QStringLiteral("libGraph"));
  ASSERT_NE(graph, nullptr);
  const auto& g = graph->data();
  ASSERT_EQ(g.layers.size(), 4u);  // resid_pre, resid_mid, resid_post, output
  const char* names[] = {"blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid",
                         "blocks.0.hook_resid_post", "output"};
  for (std::size_t l = 0; l < 4; ++l) {
    EXPECT_EQ(g.layers[l].name, names[l]);
    const auto& lambda = r.layers[l].lambda;
    ASSERT_EQ(g.layers[l].importance.size(), static_cast<std::size_t>(lambda.size())) << names[l];
    EXPECT_GT(lambda.size(), 0) << names[l];
    EXPECT_LE(lambda.size(), r.layers[l].width) << names[l];
    for (Eigen::Index i = 0; i < lambda.size(); ++i) {
      EXPECT_NEAR(g.layers[l].importance[static_cast<std::size_t>(i)], lambda[i],
                  1e-9 * std::abs(lambda[0]))
          << names[l] << " direction " << i;
    }
  }
  ASSERT_EQ(g.edges.size(), 3u);
  for (std::size_t l = 0; l < 3; ++l) {
    const auto& E = r.edges[l];
    const auto& e = g.edges[l];
    ASSERT_EQ(e.rows, static_cast<int>(g.layers[l + 1].importance.size()));
    ASSERT_EQ(e.cols, static_cast<int>(g.layers[l].importance.size()));
    ASSERT_EQ(e.rows, E.rows());
    ASSERT_EQ(e.cols, E.cols());
    // Row-major in the view, column-major in Eigen: every entry in its place.
    const double scale = E.maxCoeff();
    ASSERT_GT(scale, 0.0);
    for (int i = 0; i < e.rows; ++i) {
      for (int j = 0; j < e.cols; ++j) {
        ASSERT_NEAR(e.at(i, j), E(i, j), 1e-9 * scale)
            << "edge matrix " << l << " (" << i << ", " << j << ")";
      }
    }
  }

  // The slider and the view follow each other, and the label counts the shown edges.
  auto* slider = dock->findChild<QSlider*>(QStringLiteral("libThreshold"));
  auto* label = dock->findChild<QLabel*>(QStringLiteral("libEdgeSummary"));
  ASSERT_NE(slider, nullptr);
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(slider->value(), static_cast<int>(std::lround(graph->threshold() * 100)));
  EXPECT_TRUE(label->text().contains(graph->edgeSummary())) << label->text().toStdString();
  slider->setValue(0);
  EXPECT_EQ(graph->threshold(), 0.0);
  const int all = graph->edgesShown();
  const auto allText = label->text();
  EXPECT_TRUE(allText.contains(graph->edgeSummary())) << allText.toStdString();
  slider->setValue(100);
  EXPECT_EQ(graph->threshold(), 1.0);
  const int strongest = graph->edgesShown();
  EXPECT_GT(all, strongest);
  EXPECT_GE(strongest, 1);  // the largest E of each pair is drawn at 100 %
  EXPECT_NE(label->text(), allText);
  EXPECT_TRUE(label->text().contains(graph->edgeSummary())) << label->text().toStdString();
  graph->setThreshold(0.37);
  EXPECT_EQ(slider->value(), 37);
  EXPECT_DOUBLE_EQ(graph->threshold(), 0.37);
  EXPECT_TRUE(label->text().startsWith(QStringLiteral("37 %"))) << label->text().toStdString();

  // Hovering a node tells its Lambda; the dock saves as a figure with the graph's title.
  graph->resize(800, 500);
  const auto node = graph->nodeCenter(0, 0, graph->rect()).toPoint();
  const auto tip = graph->toolTipAt(node);
  EXPECT_TRUE(tip.contains(QStringLiteral("blocks.0.hook_resid_pre"))) << tip.toStdString();
  QTemporaryDir dir;
  const auto svg = dir.filePath(QStringLiteral("lib.svg"));
  ASSERT_TRUE(window.exportFigure(QStringLiteral("libDock"), svg));
  QFile svgFile(svg);
  ASSERT_TRUE(svgFile.open(QIODevice::ReadOnly));
  EXPECT_TRUE(svgFile.readAll().contains("LIB interaction graph"));

  // Spectra: Lambda and every Gram eigenvalue of the node layer the combo box picks.
  auto* spectrumLayer = dock->findChild<QComboBox*>(QStringLiteral("libSpectrumLayer"));
  auto* lambdaChart = dock->findChild<viewers::ChartView*>(QStringLiteral("libLambdaChart"));
  auto* gramChart = dock->findChild<viewers::ChartView*>(QStringLiteral("libGramChart"));
  ASSERT_NE(spectrumLayer, nullptr);
  ASSERT_NE(lambdaChart, nullptr);
  ASSERT_NE(gramChart, nullptr);
  ASSERT_EQ(spectrumLayer->count(), 4);
  auto* logScale = dock->findChild<QCheckBox*>(QStringLiteral("libSpectrumLog"));
  ASSERT_NE(logScale, nullptr);
  ASSERT_TRUE(logScale->isChecked());  // spectra span orders of magnitude
  for (int l = 0; l < 4; ++l) {
    spectrumLayer->setCurrentIndex(l);
    const auto& layer = r.layers[static_cast<std::size_t>(l)];
    const auto n = static_cast<std::size_t>(layer.lambda.size());
    const auto& line = lambdaChart->data();
    EXPECT_EQ(line.kind, viewers::ChartKind::Line);
    ASSERT_EQ(line.series.size(), 1u);
    ASSERT_EQ(line.series[0].values.size(), n);
    EXPECT_NEAR(line.series[0].values.back(), std::log10(layer.lambda[layer.lambda.size() - 1]),
                1e-9);
    logScale->setChecked(false);
    const auto& bars = lambdaChart->data();
    EXPECT_EQ(bars.kind, viewers::ChartKind::Bar);
    ASSERT_EQ(bars.series[0].values.size(), n);
    EXPECT_EQ(bars.series[0].values.front(), layer.lambda[0]);
    logScale->setChecked(true);
    EXPECT_EQ(gramChart->data().series[0].values.size(),
              static_cast<std::size_t>(layer.gramEigenvalues.size()));
    EXPECT_EQ(layer.gramEigenvalues.size(), layer.width);
    EXPECT_TRUE(spectrumLayer->currentText().contains(
        QStringLiteral("%1 of %2 directions kept").arg(layer.lambda.size()).arg(layer.width)))
        << spectrumLayer->currentText().toStdString();
  }

  // Ablation curves: LIB and PCA for every node layer but the output, both ending at the base
  // accuracy (every direction kept is the unmodified model).
  auto* curveLayer = dock->findChild<QComboBox*>(QStringLiteral("libCurveLayer"));
  auto* curves = dock->findChild<viewers::ChartView*>(QStringLiteral("libCurveChart"));
  ASSERT_NE(curveLayer, nullptr);
  ASSERT_NE(curves, nullptr);
  ASSERT_EQ(curveLayer->count(), 3);
  for (int l = 0; l < 3; ++l) {
    curveLayer->setCurrentIndex(l);
    const auto& data = curves->data();
    EXPECT_EQ(data.kind, viewers::ChartKind::Line);
    ASSERT_EQ(data.series.size(), 2u);
    EXPECT_EQ(data.series[0].name, "LIB");
    EXPECT_EQ(data.series[1].name, "PCA");
    ASSERT_GE(data.x.size(), 2u);
    EXPECT_EQ(data.x.back(), static_cast<double>(r.layers[static_cast<std::size_t>(l)].width));
    for (std::size_t i = 1; i < data.x.size(); ++i) EXPECT_LT(data.x[i - 1], data.x[i]);
    for (const auto& series : data.series) {
      EXPECT_NEAR(series.values.back(), r.baseAccuracy, 1e-12) << series.name;
      for (const double v : series.values) EXPECT_TRUE(v >= 0.0 && v <= 1.0) << series.name;
    }
    EXPECT_NE(data.title.find("base accuracy"), std::string::npos) << data.title;
  }
  // A model trained to near-perfect accuracy, and a curve that starts with no direction kept far
  // below it: the points are ablations, not copies of the base.
  curveLayer->setCurrentIndex(0);
  EXPECT_GT(r.baseAccuracy, 0.9);
  EXPECT_LT(curves->data().series[0].values.front(), r.baseAccuracy - 0.3);
}

TEST(LibDock, SetWithoutTargetsIsAnErrorAndTheWindowKeepsWorking) {
  MainWindow window;  // builtin:induction: its test set scores every next token
  waitUntilReady(window);
  window.runLocalInteractionBasis(kRows);
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() {
        return logText(window).contains(QStringLiteral("Local Interaction Basis failed")) &&
               logText(window).contains(QStringLiteral("needs an evaluation set with targets"));
      },
      kWaitMs));
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->text().contains(QStringLiteral("File > Open dataset")));
  EXPECT_EQ(window.findChild<QDockWidget*>(QStringLiteral("libDock")), nullptr);

  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("1, 2, 3"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  EXPECT_FALSE(window.predictions().empty());
}

}  // namespace
}  // namespace cs::gui
