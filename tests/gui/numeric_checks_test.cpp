// Numeric health in the desktop application: on by default, live predictions stop at the first
// hook point that is not finite and say which; the menu switch turns it off and is remembered.
#include <gtest/gtest.h>
#include <QAction>
#include <QSettings>
#include <QTest>

#include "app/gui/main_window.h"
#include "app/gui/model_session.h"
#include "core/error.h"

namespace cs::gui {
namespace {

constexpr int kWaitMs = 60000;

// Multiplying block 0's attention output by 1e300 (infinite in float32) poisons the stream.
hooks::MaskSet overflowingScale() {
  hooks::MaskSet masks;
  masks.set({hooks::MaskComponent::AttnSublayer, 0, -1, hooks::AblationMode::Scale, 1e300});
  return masks;
}

TEST(NumericChecks, LivePredictionsNameTheFirstPointThatIsNotFinite) {
  Progress progress;
  const auto session = ModelSession::open("builtin:induction", progress);
  EXPECT_TRUE(session->checkNumerics());
  const auto& ids = session->exampleInput();
  ASSERT_FALSE(ids.empty());
  std::string message;
  try {
    (void)session->topPredictions(ids, overflowingScale(), 5, progress);
  } catch (const NumericError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("blocks.0."), std::string::npos) << message;
  EXPECT_NE(message.find("NaN or Inf"), std::string::npos) << message;
  // The metrics check the logits first, then name the same first point on a second run.
  std::string metricsMessage;
  try {
    (void)session->metrics(overflowingScale(), progress);
  } catch (const NumericError& e) {
    metricsMessage = e.what();
  }
  EXPECT_EQ(metricsMessage.substr(0, metricsMessage.find(':')),
            message.substr(0, message.find(':')));
  EXPECT_EQ(metricsMessage.find("found none"), std::string::npos) << metricsMessage;

  // Off: the same run completes (with meaningless numbers), as the command line does by default.
  session->setCheckNumerics(false);
  EXPECT_NO_THROW((void)session->topPredictions(ids, overflowingScale(), 5, progress));
  // A healthy run is unaffected by the checks.
  session->setCheckNumerics(true);
  EXPECT_EQ(session->topPredictions(ids, {}, 5, progress).size(), 5u);
}

TEST(NumericChecks, TheMenuSwitchIsOnByDefaultAndRemembered) {
  QSettings().remove(QStringLiteral("checkNumerics"));
  {
    MainWindow window;
    ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
    auto* action = window.findChild<QAction*>(QStringLiteral("checkNumerics"));
    ASSERT_NE(action, nullptr);
    EXPECT_TRUE(action->isCheckable());
    EXPECT_TRUE(action->isChecked());
    EXPECT_TRUE(window.checksNumerics());
    action->trigger();
    EXPECT_FALSE(window.checksNumerics());
  }
  {
    MainWindow window;
    auto* action = window.findChild<QAction*>(QStringLiteral("checkNumerics"));
    ASSERT_NE(action, nullptr);
    EXPECT_FALSE(action->isChecked());
    EXPECT_FALSE(window.checksNumerics());
    ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  }
  QSettings().remove(QStringLiteral("checkNumerics"));
}

}  // namespace
}  // namespace cs::gui
