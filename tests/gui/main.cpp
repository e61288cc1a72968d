// The GUI tests' main: the QApplication must exist before any test runs and outlive them all.
// Rendering is offscreen, so no display is needed. ctest runs the tests as parallel processes,
// so each process keeps its settings in its own temporary folder: one test's remembered options
// never leak into another running at the same time, nor into the user's own settings.
#include <QApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <cstdio>

#include <gtest/gtest.h>

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
  return RUN_ALL_TESTS();
}
