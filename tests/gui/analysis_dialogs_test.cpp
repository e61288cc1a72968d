// The analyses' options dialogs and the two attribution analyses of the window: a dialog shows
// its defaults, "Restore defaults" brings them back, accepted values persist in QSettings and
// bad remembered values fall back; direct logit attribution on builtin:induction adds up to the
// logit difference (ALGORITHMS.md section 3's completeness, per layer and over heads); patching
// with clean == corrupted has no effect, and patching the one changed token's embedding restores
// everything; and the menu actions run both analyses, with the dialog accepted by the test or
// skipped for the remembered values.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <QTimer>

#include <gtest/gtest.h>

#include <cmath>

#include "app/gui/analysis_options_dialog.h"
#include "app/gui/main_window.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "viewers/chart_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/token_attribution_view.h"

namespace cs::gui {
namespace {

constexpr int kWaitMs = 60000;
const auto kGroup = QStringLiteral("analysisOptions");
// builtin:induction continues the repeated 13 with 58, read from position 3.
const std::vector<std::int64_t> kIds{7, 42, 13, 58, 21, 3, 7, 42, 13};
const auto kIdsText = QStringLiteral("7, 42, 13, 58, 21, 3, 7, 42, 13");

void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

// Every test starts and ends without remembered options, so none leaks into another.
class AnalysisDialogs : public ::testing::Test {
 protected:
  void SetUp() override { QSettings().remove(kGroup); }
  void TearDown() override { QSettings().remove(kGroup); }
};

std::vector<OptionField> sampleFields() {
  return {intField(QStringLiteral("steps"), QStringLiteral("Steps"), {}, 31, 1, 1024),
          doubleField(QStringLiteral("rate"), QStringLiteral("Rate"), {}, 0.05, 0.0, 1.0, 3),
          scientificField(QStringLiteral("tau"), QStringLiteral("Tau"), {}, 1e-15, 0.0, 1.0),
          choiceField(QStringLiteral("rule"), QStringLiteral("Rule"), {},
                      QStringLiteral("gauss-legendre"),
                      {QStringLiteral("gauss-legendre"), QStringLiteral("trapezoid")},
                      {QStringLiteral("Gauss-Legendre"), QStringLiteral("trapezoid")}),
          boolField(QStringLiteral("edges"), QStringLiteral("Edges"), {}, true),
          textField(QStringLiteral("corrupted"), QStringLiteral("Corrupted"), {},
                    QStringLiteral("1, 2, 3"))};
}

TEST_F(AnalysisDialogs, ShowsTheDefaultsInItsFields) {
  AnalysisOptionsDialog dialog(QStringLiteral("sample"), QStringLiteral("Sample"), sampleFields());
  auto* steps = dialog.findChild<QSpinBox*>(QStringLiteral("option_steps"));
  auto* rate = dialog.findChild<QDoubleSpinBox*>(QStringLiteral("option_rate"));
  auto* tau = dialog.findChild<QLineEdit*>(QStringLiteral("option_tau"));
  auto* rule = dialog.findChild<QComboBox*>(QStringLiteral("option_rule"));
  auto* edges = dialog.findChild<QCheckBox*>(QStringLiteral("option_edges"));
  auto* corrupted = dialog.findChild<QLineEdit*>(QStringLiteral("option_corrupted"));
  ASSERT_TRUE(steps && rate && tau && rule && edges && corrupted);
  EXPECT_EQ(steps->value(), 31);
  EXPECT_EQ(steps->minimum(), 1);
  EXPECT_EQ(steps->maximum(), 1024);
  EXPECT_DOUBLE_EQ(rate->value(), 0.05);
  EXPECT_EQ(tau->text().toDouble(), 1e-15);
  EXPECT_EQ(rule->currentText(), QStringLiteral("Gauss-Legendre"));
  EXPECT_EQ(rule->currentData().toString(), QStringLiteral("gauss-legendre"));
  EXPECT_TRUE(edges->isChecked());
  EXPECT_EQ(corrupted->text(), QStringLiteral("1, 2, 3"));
  EXPECT_EQ(dialog.values(), AnalysisOptionsDialog::defaults(sampleFields()));
}

TEST_F(AnalysisDialogs, RestoreDefaultsBringsEveryFieldBack) {
  AnalysisOptionsDialog dialog(QStringLiteral("sample"), QStringLiteral("Sample"), sampleFields());
  dialog.findChild<QSpinBox*>(QStringLiteral("option_steps"))->setValue(7);
  dialog.findChild<QDoubleSpinBox*>(QStringLiteral("option_rate"))->setValue(0.5);
  dialog.findChild<QLineEdit*>(QStringLiteral("option_tau"))->setText(QStringLiteral("1e-3"));
  dialog.findChild<QComboBox*>(QStringLiteral("option_rule"))->setCurrentIndex(1);
  dialog.findChild<QCheckBox*>(QStringLiteral("option_edges"))->setChecked(false);
  dialog.findChild<QLineEdit*>(QStringLiteral("option_corrupted"))->setText(QStringLiteral("9"));
  const auto changed = dialog.values();
  EXPECT_EQ(changed.value(QStringLiteral("steps")).toInt(), 7);
  EXPECT_EQ(changed.value(QStringLiteral("tau")).toDouble(), 1e-3);
  EXPECT_EQ(changed.value(QStringLiteral("rule")).toString(), QStringLiteral("trapezoid"));
  EXPECT_FALSE(changed.value(QStringLiteral("edges")).toBool());

  auto* restore = dialog.findChild<QPushButton*>(QStringLiteral("restoreDefaults"));
  ASSERT_NE(restore, nullptr);
  restore->click();
  EXPECT_EQ(dialog.values(), AnalysisOptionsDialog::defaults(sampleFields()));
}

TEST_F(AnalysisDialogs, AcceptedValuesPersistAndBadOnesFallBack) {
  {
    AnalysisOptionsDialog dialog(QStringLiteral("sample"), QStringLiteral("Sample"),
                                 sampleFields());
    dialog.findChild<QSpinBox*>(QStringLiteral("option_steps"))->setValue(64);
    dialog.findChild<QComboBox*>(QStringLiteral("option_rule"))->setCurrentIndex(1);
    dialog.findChild<QCheckBox*>(QStringLiteral("option_edges"))->setChecked(false);
    dialog.findChild<QLineEdit*>(QStringLiteral("option_tau"))->setText(QStringLiteral("2e-9"));
    dialog.accept();
    EXPECT_EQ(dialog.result(), QDialog::Accepted);
  }
  const QSettings settings;
  EXPECT_EQ(settings.value(QStringLiteral("analysisOptions/sample/steps")).toInt(), 64);
  EXPECT_EQ(settings.value(QStringLiteral("analysisOptions/sample/rule")).toString(),
            QStringLiteral("trapezoid"));
  const auto remembered =
      AnalysisOptionsDialog::remembered(QStringLiteral("sample"), sampleFields());
  EXPECT_EQ(remembered.value(QStringLiteral("steps")).toInt(), 64);
  EXPECT_FALSE(remembered.value(QStringLiteral("edges")).toBool());
  EXPECT_EQ(remembered.value(QStringLiteral("tau")).toDouble(), 2e-9);
  // A new dialog starts from them.
  AnalysisOptionsDialog again(QStringLiteral("sample"), QStringLiteral("Sample"), sampleFields());
  EXPECT_EQ(again.findChild<QSpinBox*>(QStringLiteral("option_steps"))->value(), 64);
  EXPECT_EQ(again.findChild<QComboBox*>(QStringLiteral("option_rule"))->currentData().toString(),
            QStringLiteral("trapezoid"));

  // A value edited out of range, or a choice this version does not offer, counts as unset.
  QSettings().setValue(QStringLiteral("analysisOptions/sample/steps"), 5000);
  QSettings().setValue(QStringLiteral("analysisOptions/sample/rule"), QStringLiteral("simpson"));
  const auto fallback = AnalysisOptionsDialog::remembered(QStringLiteral("sample"), sampleFields());
  EXPECT_EQ(fallback.value(QStringLiteral("steps")).toInt(), 31);
  EXPECT_EQ(fallback.value(QStringLiteral("rule")).toString(), QStringLiteral("gauss-legendre"));

  // Cancel forgets what was typed; a number that does not parse keeps the dialog open.
  AnalysisOptionsDialog typed(QStringLiteral("sample"), QStringLiteral("Sample"), sampleFields());
  typed.findChild<QSpinBox*>(QStringLiteral("option_steps"))->setValue(3);
  typed.reject();
  EXPECT_NE(QSettings().value(QStringLiteral("analysisOptions/sample/steps")).toInt(), 3);
  AnalysisOptionsDialog bad(QStringLiteral("sample"), QStringLiteral("Sample"), sampleFields());
  bad.findChild<QLineEdit*>(QStringLiteral("option_tau"))->setText(QStringLiteral("abc"));
  bad.accept();
  EXPECT_NE(bad.result(), QDialog::Accepted);
  EXPECT_TRUE(bad.findChild<QLabel*>(QStringLiteral("optionsError"))
                  ->text()
                  .contains(QStringLiteral("Tau")));
}

TEST(LogitAttributionSession, HeadsAndPathsAddUpToTheLogitDifference) {
  Progress progress;
  const auto session = ModelSession::open("builtin:induction", progress);
  const auto d = session->logitAttribution(kIds, {}, progress);
  // The top prediction against the runner-up, as the softmax sees them: log(p0 / p1) is the same
  // logit difference.
  const auto top = session->topPredictions(kIds, {}, 2, progress);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].token, 58);
  EXPECT_EQ(d.direction, "logit[58] - logit[" + std::to_string(top[1].token) + "]");
  EXPECT_NEAR(d.directionLogit, std::log(top[0].probability / top[1].probability), 1e-4);
  EXPECT_GT(d.directionLogit, 0.0);

  ASSERT_EQ(d.heads.rows(), 2);
  ASSERT_EQ(d.heads.cols(), 4);
  ASSERT_EQ(d.attentionDla.size(), 2u);
  ASSERT_EQ(d.biasDla.size(), 2u);
  ASSERT_EQ(d.paths.size(), 5u);  // embed, attn 0, mlp 0, attn 1, mlp 1
  double magnitude = std::abs(d.constant);
  double paths = d.constant;
  for (const double v : d.pathDla) {
    paths += v;
    magnitude += std::abs(v);
  }
  const double tolerance = 1e-5 * (magnitude + 1.0);
  // Completeness: the paths and the constant are u^T logits.
  EXPECT_NEAR(paths, d.directionLogit, tolerance);
  // Per layer: the heads and b_O make up the attention sublayer.
  double heads = 0.0;
  for (Eigen::Index l = 0; l < 2; ++l) {
    const double layer = d.heads.row(l).sum() + d.biasDla[static_cast<std::size_t>(l)];
    EXPECT_NEAR(layer, d.attentionDla[static_cast<std::size_t>(l)], tolerance) << "layer " << l;
    heads += d.heads.row(l).sum();
  }
  // So the heads plus the rest (embedding, b_O, MLPs, constant) are the logit difference.
  double rest = d.constant + d.pathDla[0];
  for (std::size_t l = 0; l < 2; ++l) rest += d.biasDla[l] + d.mlpDla[l];
  EXPECT_NEAR(heads + rest, d.directionLogit, tolerance);
  EXPECT_LT(d.completenessError, 1e-5);
  // The induction head (block 1) carries the answer more than any head of block 0.
  EXPECT_GT(d.heads.row(1).maxCoeff(), d.heads.row(0).maxCoeff());

  DlaSettings answerOnly;
  answerOnly.foil = false;
  const auto a = session->logitAttribution(kIds, {}, progress, answerOnly);
  EXPECT_EQ(a.direction, "logit[58]");
  double sum = a.constant;
  for (const double v : a.pathDla) sum += v;
  EXPECT_NEAR(sum, a.directionLogit, 1e-5 * (std::abs(a.directionLogit) + 10.0));
}

TEST(LogitAttributionSession, ImageModelsAddUpToo) {
  Progress progress;
  const auto session = ModelSession::open("builtin:digits-vit", progress);
  const auto d = session->logitAttribution({}, {}, progress);  // the first test image
  EXPECT_NE(d.title.find("class"), std::string::npos) << d.title;
  double sum = d.constant, magnitude = std::abs(d.constant);
  for (const double v : d.pathDla) {
    sum += v;
    magnitude += std::abs(v);
  }
  EXPECT_NEAR(sum, d.directionLogit, 1e-5 * (magnitude + 1.0));
  EXPECT_GT(d.directionLogit, 0.0);
  EXPECT_EQ(d.attentionDla.size(), d.mlpDla.size());
  EXPECT_TRUE(d.heads.allFinite());
  // Image models cannot be patched in the window: the error says where to go instead.
  PatchingSettings settings;
  try {
    session->headPatching({1, 2}, {}, settings, progress);
    ADD_FAILURE() << "an image model was patched";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--corrupted-image"), std::string::npos) << e.what();
  }
}

TEST(HeadPatchingSession, CleanEqualToCorruptedHasNoEffect) {
  Progress progress;
  const auto session = ModelSession::open("builtin:induction", progress);
  PatchingSettings settings;
  settings.corrupted = kIds;
  const auto p = session->headPatching(kIds, {}, settings, progress);
  EXPECT_FALSE(p.scored);
  EXPECT_EQ(p.cleanMetric, p.corruptedMetric);
  ASSERT_EQ(p.heads.rows(), 2);
  ASSERT_EQ(p.heads.cols(), 4);
  for (Eigen::Index i = 0; i < p.heads.size(); ++i) EXPECT_EQ(p.heads.data()[i], 0.0);
  ASSERT_EQ(p.positions.rows(), 2);
  ASSERT_EQ(p.positions.cols(), 9);
  for (Eigen::Index i = 0; i < p.positions.size(); ++i) EXPECT_EQ(p.positions.data()[i], 0.0);
}

TEST(HeadPatchingSession, PatchingTheChangedTokenRestoresTheAnswer) {
  Progress progress;
  const auto session = ModelSession::open("builtin:induction", progress);
  PatchingSettings settings;
  settings.corrupted = kIds;
  settings.corrupted[3] = 30;  // the token the induction answer is copied from
  const auto p = session->headPatching(kIds, {}, settings, progress);
  ASSERT_TRUE(p.scored);
  EXPECT_NE(p.cleanMetric, p.corruptedMetric);
  EXPECT_EQ(p.direction, "denoising");
  // Block 0's input at position 3 is the only difference: patching it is the clean run.
  EXPECT_NEAR(p.positions(0, 3), 1.0, 1e-4);
  for (Eigen::Index t = 0; t < p.positions.cols(); ++t) {
    if (t != 3) {
      EXPECT_NEAR(p.positions(0, t), 0.0, 1e-6) << "position " << t;
    }
  }
  EXPECT_TRUE(p.heads.allFinite());

  settings.corrupted.pop_back();
  try {
    session->headPatching(kIds, {}, settings, progress);
    ADD_FAILURE() << "inputs of different lengths were patched";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("one length"), std::string::npos) << e.what();
  }
}

// Accepts the options dialog the window opens, after recording what it showed.
class DialogAccepter {
 public:
  explicit DialogAccepter(MainWindow& window) {
    m_timer.setInterval(20);
    QObject::connect(&m_timer, &QTimer::timeout, [this, &window]() {
      auto* dialog = window.findChild<AnalysisOptionsDialog*>();
      if (!dialog || !dialog->isVisible()) return;
      m_shown = dialog->values();
      dialog->accept();
      m_timer.stop();
    });
    m_timer.start();
  }
  const QVariantMap& shown() const { return m_shown; }

 private:
  QTimer m_timer;
  QVariantMap m_shown;
};

TEST_F(AnalysisDialogs, MenuRunsLogitAttributionWithTheDialogAccepted) {
  MainWindow window;
  waitUntilReady(window);
  window.setInputIds(kIdsText);
  auto* action = window.findChild<QAction*>(QStringLiteral("analysis_logitAttribution"));
  ASSERT_NE(action, nullptr);
  QSignalSpy shown(&window, &MainWindow::logitAttributionShown);
  DialogAccepter accepter(window);
  action->trigger();  // returns once the dialog is accepted
  EXPECT_EQ(accepter.shown().value(QStringLiteral("direction")).toString(),
            QStringLiteral("difference"));
  EXPECT_EQ(accepter.shown().value(QStringLiteral("answer")).toInt(), -1);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs));

  Progress progress;
  const auto session = ModelSession::open("builtin:induction", progress);
  const auto d = session->logitAttribution(kIds, {}, progress);
  auto* dock = window.findChild<QDockWidget*>(QStringLiteral("dlaDock"));
  ASSERT_NE(dock, nullptr);
  EXPECT_FALSE(dock->isHidden());
  auto* grid = dock->findChild<viewers::HeadGridView*>(QStringLiteral("dlaHeadGrid"));
  ASSERT_NE(grid, nullptr);
  const auto& scores = grid->gridData().scores;
  ASSERT_EQ(scores.rows(), d.heads.rows());
  ASSERT_EQ(scores.cols(), d.heads.cols());
  for (Eigen::Index i = 0; i < scores.size(); ++i) {
    EXPECT_NEAR(scores.data()[i], d.heads.data()[i], 1e-9);
  }
  auto* bars = dock->findChild<viewers::ChartView*>(QStringLiteral("dlaLayerChart"));
  ASSERT_NE(bars, nullptr);
  ASSERT_FALSE(bars->data().series.empty());
  EXPECT_EQ(bars->data().series[0].name, "attention");
  ASSERT_EQ(bars->data().series[0].values.size(), d.attentionDla.size());
  for (std::size_t l = 0; l < d.attentionDla.size(); ++l) {
    EXPECT_NEAR(bars->data().series[0].values[l], d.attentionDla[l], 1e-9);
  }
  const auto summary = dock->findChild<QLabel*>(QStringLiteral("dlaSummary"))->text();
  EXPECT_TRUE(summary.contains(QString::fromStdString(d.direction))) << summary.toStdString();
  EXPECT_TRUE(summary.contains(QString::number(d.directionLogit, 'f', 4))) << summary.toStdString();
  // Accepting remembered the values.
  EXPECT_EQ(QSettings().value(QStringLiteral("analysisOptions/logitAttribution/direction")),
            QStringLiteral("difference"));

  // Ctrl-click in the grid masks the head like the ablation grid does.
  Q_EMIT grid->headMaskToggled(1, 0);
  EXPECT_TRUE(window.masks().find(hooks::MaskComponent::Head, 1, 0).has_value());
  EXPECT_EQ(grid->maskedHeads().count({1, 0}), 1u);
}

TEST_F(AnalysisDialogs, WithoutAskingTheMenuUsesTheRememberedOptions) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(kIdsText);
  QSettings().setValue(QStringLiteral("analysisOptions/logitAttribution/direction"),
                       QStringLiteral("answer"));
  QSignalSpy dla(&window, &MainWindow::logitAttributionShown);
  window.findChild<QAction*>(QStringLiteral("analysis_logitAttribution"))->trigger();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return dla.count() == 1; }, kWaitMs));
  EXPECT_EQ(window.findChild<AnalysisOptionsDialog*>(), nullptr);
  const auto summary = window.findChild<QLabel*>(QStringLiteral("dlaSummary"))->text();
  EXPECT_TRUE(summary.startsWith(QStringLiteral("logit[58] ="))) << summary.toStdString();

  // Patching: the remembered corrupted input, the changed token's embedding restoring it all.
  QSettings().setValue(QStringLiteral("analysisOptions/patching/corrupted"),
                       QStringLiteral("7, 42, 13, 30, 21, 3, 7, 42, 13"));
  QSignalSpy patched(&window, &MainWindow::patchingShown);
  window.findChild<QAction*>(QStringLiteral("analysis_patching"))->trigger();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return patched.count() == 1; }, kWaitMs));
  auto* grid = window.findChild<viewers::HeadGridView*>(QStringLiteral("patchingHeadGrid"));
  ASSERT_NE(grid, nullptr);
  EXPECT_EQ(grid->gridData().scores.rows(), 2);
  auto* map = window.findChild<viewers::HeatmapView*>(QStringLiteral("patchingPositionMap"));
  ASSERT_NE(map, nullptr);
  EXPECT_NEAR(map->data().values(0, 3), 1.0, 1e-4);
  auto* chips =
      window.findChild<viewers::TokenAttributionView*>(QStringLiteral("patchingTokenView"));
  ASSERT_NE(chips, nullptr);
  ASSERT_EQ(chips->data().tokens.size(), 9u);
  EXPECT_NEAR(chips->data().scores[3], 1.0, 1e-4);
}

TEST_F(AnalysisDialogs, EachMenuEntryPassesItsRememberedOptions) {
  MainWindow window;
  waitUntilReady(window);
  window.setAskOptions(false);
  window.setInputIds(kIdsText);
  QSettings settings;
  const auto trigger = [&](const char* name) {
    auto* action = window.findChild<QAction*>(QStringLiteral("analysis_") + name);
    ASSERT_NE(action, nullptr) << name;
    action->trigger();
  };

  settings.setValue(QStringLiteral("analysisOptions/integratedGradients/rule"),
                    QStringLiteral("trapezoid"));
  settings.setValue(QStringLiteral("analysisOptions/integratedGradients/steps"), 8);
  QSignalSpy attribution(&window, &MainWindow::attributionShown);
  trigger("integratedGradients");
  ASSERT_TRUE(QTest::qWaitFor([&]() { return attribution.count() == 1; }, kWaitMs));
  const auto ig =
      window.findChild<viewers::TokenAttributionView*>(QStringLiteral("attributionView"))
          ->data()
          .title;
  EXPECT_NE(ig.find("trapezoid, 8 steps"), std::string::npos) << ig;

  settings.setValue(QStringLiteral("analysisOptions/relevance/rule"), QStringLiteral("cplrp"));
  QSignalSpy relevance(&window, &MainWindow::relevanceShown);
  trigger("relevance");
  ASSERT_TRUE(QTest::qWaitFor([&]() { return relevance.count() == 1; }, kWaitMs));
  const auto rules = window.findChild<QLabel*>(QStringLiteral("relevanceSummary"))->text();
  EXPECT_TRUE(rules.contains(QStringLiteral("CP-LRP"))) << rules.toStdString();

  settings.setValue(QStringLiteral("analysisOptions/headAblation/mode"), QStringLiteral("mean"));
  QSignalSpy heads(&window, &MainWindow::headScoresShown);
  trigger("headAblation");
  ASSERT_TRUE(QTest::qWaitFor([&]() { return heads.count() == 1; }, kWaitMs));
  const auto sweep =
      window.findChild<viewers::HeadGridView*>(QStringLiteral("headGrid"))->gridData().title;
  EXPECT_NE(sweep.find("mean-ablated"), std::string::npos) << sweep;

  settings.setValue(QStringLiteral("analysisOptions/layerImportance/target"),
                    QStringLiteral("block"));
  settings.setValue(QStringLiteral("analysisOptions/layerImportance/dropN"), 1);
  QSignalSpy layers(&window, &MainWindow::layerChartsShown);
  trigger("layerImportance");
  ASSERT_TRUE(QTest::qWaitFor([&]() { return layers.count() == 1; }, kWaitMs));
  const auto& curve =
      window.findChild<viewers::ChartView*>(QStringLiteral("dropCurveChart"))->data();
  EXPECT_NE(curve.title.find("block"), std::string::npos) << curve.title;
  EXPECT_EQ(curve.x.size(), 2u);  // nothing dropped, then one block
}

TEST(LibSession, EdgesAndCurvesCanBeLeftOut) {
  Progress progress;
  const auto session = ModelSession::open("builtin:modadd", progress);
  LibSettings settings;
  settings.rows = 16;
  settings.edges = false;
  settings.ablationCurves = false;
  const auto r = session->localInteractionBasis(settings, progress);
  EXPECT_EQ(r.examples, 16);
  EXPECT_EQ(r.layers.size(), 4u);
  EXPECT_TRUE(r.edges.empty());
  EXPECT_TRUE(r.curves.empty());
  settings.tau = -1.0;
  EXPECT_THROW(session->localInteractionBasis(settings, progress), ConfigError);
}

}  // namespace
}  // namespace cs::gui
