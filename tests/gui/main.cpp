// The GUI tests' main: the QApplication must exist before any test runs and outlive them all.
// Rendering is offscreen, so no display is needed. ctest runs the suites as parallel processes,
// so each process keeps its settings in its own temporary folder, and every test starts with
// them empty: one test's remembered options never leak into another, whether it runs at the
// same time or later in the same process, nor into the user's own settings.
#include <QApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <cstdio>

#include <gtest/gtest.h>

#include "support/run_all_tests.h"

namespace {

class EmptySettingsForEachTest : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override {
    QSettings settings;
    settings.clear();
    settings.sync();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  ::testing::InitGoogleTest(&argc, argv);
  QStandardPaths::setTestModeEnabled(true);
  QApplication application(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("circuitscope-tests"));
  QApplication::setApplicationName(QStringLiteral("circuitscope-tests"));
  const QTemporaryDir settingsFolder;
  if (!settingsFolder.isValid()) {
    std::fprintf(stderr, "cannot create a temporary folder for the tests' settings\n");
    return 1;
  }
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settingsFolder.path());
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsFolder.path());
  ::testing::UnitTest::GetInstance()->listeners().Append(new EmptySettingsForEachTest);
  return cs::test::runAllTests();
}
