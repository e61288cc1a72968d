// The GUI tests' main: the QApplication must exist before any test runs and outlive them all.
// Rendering is offscreen, so no display is needed. Settings go to Qt's test locations
// (~/.qttest), never to the user's own circuitscope settings.
#include <QApplication>
#include <QStandardPaths>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  ::testing::InitGoogleTest(&argc, argv);
  QStandardPaths::setTestModeEnabled(true);
  QApplication application(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("circuitscope-tests"));
  QApplication::setApplicationName(QStringLiteral("circuitscope-tests"));
  return RUN_ALL_TESTS();
}
