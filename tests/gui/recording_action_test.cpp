// File > Record activations on builtin:modadd: the store holds the chosen rows and opens in the
// activations browser; a second recording into the same file is refused with the window still
// working; and the Local Interaction Basis takes its Gram matrices from that store.
#include <QAction>
#include <QDockWidget>
#include <QFileInfo>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <gtest/gtest.h>

#include "app/gui/main_window.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "viewers/activations_browser.h"

namespace cs::gui {
namespace {

constexpr int kWaitMs = 120000;
const QString kNodeLayerHooks = QStringLiteral(
    "blocks.0.hook_resid_pre, blocks.0.hook_resid_mid, blocks.0.hook_resid_post, hook_logits");

QString logText(MainWindow& window) {
  return window.findChild<QPlainTextEdit*>(QStringLiteral("logView"))->toPlainText();
}

void remember(const QString& analysis, const QString& field, const QVariant& value) {
  QSettings().setValue(QStringLiteral("analysisOptions/") + analysis + u'/' + field, value);
}

TEST(RecordingAction, RecordsTheEvaluationSetOpensItAndFeedsTheLibGrams) {
  QTemporaryDir dir;
  const auto path = dir.filePath(QStringLiteral("modadd.h5"));
  MainWindow window(QStringLiteral("builtin:modadd"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
  window.setAskOptions(false);
  remember(QStringLiteral("record"), QStringLiteral("hooks"), kNodeLayerHooks);
  remember(QStringLiteral("record"), QStringLiteral("rows"), 64);
  remember(QStringLiteral("record"), QStringLiteral("file"), path);

  QSignalSpy opened(&window, &MainWindow::recordingOpened);
  auto* record = window.findChild<QAction*>(QStringLiteral("recordAction"));
  ASSERT_NE(record, nullptr);
  record->trigger();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return opened.count() == 1; }, kWaitMs))
      << logText(window).toStdString();
  EXPECT_EQ(opened.at(0).at(0).toString(), path);
  auto* browser =
      window.findChild<viewers::ActivationsBrowser*>(QStringLiteral("activationsBrowser"));
  ASSERT_NE(browser, nullptr);
  EXPECT_EQ(browser->rowsAvailable(), 64);
  EXPECT_TRUE(logText(window).contains(QStringLiteral("recorded 64 examples at 4 hook points")));

  // The same file again: refused, and nothing lost.
  const auto size = QFileInfo(path).size();
  record->trigger();
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return window.findChild<QMessageBox*>(QStringLiteral("errorBox")) != nullptr; },
      kWaitMs));
  EXPECT_TRUE(window.findChild<QMessageBox*>(QStringLiteral("errorBox"))
                  ->text()
                  .contains(QStringLiteral("modadd.h5")));
  EXPECT_EQ(QFileInfo(path).size(), size);

  // The Local Interaction Basis with the store's Grams: 64 examples, while its Jacobians use 16
  // rows.
  remember(QStringLiteral("lib"), QStringLiteral("rows"), 16);
  remember(QStringLiteral("lib"), QStringLiteral("edges"), false);
  remember(QStringLiteral("lib"), QStringLiteral("curves"), false);
  remember(QStringLiteral("lib"), QStringLiteral("gramRecording"), path);
  QSignalSpy shown(&window, &MainWindow::libShown);
  window.findChild<QAction*>(QStringLiteral("analysis_lib"))->trigger();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return shown.count() == 1; }, kWaitMs))
      << logText(window).toStdString();
  EXPECT_TRUE(logText(window).contains(QStringLiteral("Gram matrices from ") + path +
                                       QStringLiteral(" (64 examples)")))
      << logText(window).toStdString();

  Progress progress;
  const auto session = ModelSession::open("builtin:modadd", progress);
  LibSettings settings;
  settings.rows = 16;
  settings.edges = false;
  settings.ablationCurves = false;
  const auto live = session->localInteractionBasis(settings, progress);
  settings.gramRecording = path.toStdString();
  const auto recorded = session->localInteractionBasis(settings, progress);
  EXPECT_EQ(live.gramExamples, 16);
  EXPECT_EQ(recorded.gramExamples, 64);
  EXPECT_EQ(recorded.gramSource, path.toStdString());
  ASSERT_EQ(recorded.layers.size(), live.layers.size());
  // The output's basis is its Gram's eigenbasis: 64 examples do not give 16's spectrum.
  EXPECT_NE(recorded.layers.back().lambda, live.layers.back().lambda);

  // A store without the node layers' hooks is refused by name.
  RecordSettings partial;
  partial.path = dir.filePath(QStringLiteral("partial.h5")).toStdString();
  partial.hooks = {"hook_logits"};
  partial.rows = 8;
  EXPECT_EQ(session->recordActivations(partial, progress).rows, 8);
  settings.gramRecording = partial.path;
  try {
    session->localInteractionBasis(settings, progress);
    ADD_FAILURE() << "a store without resid_pre was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no blocks.0.hook_resid_pre"), std::string::npos)
        << e.what();
  }
  QSettings().remove(QStringLiteral("analysisOptions"));
}

}  // namespace
}  // namespace cs::gui
