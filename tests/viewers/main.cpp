// The viewer tests' main: widgets need a QApplication, which must exist before any test runs and
// outlive them all. Rendering is offscreen, so no display is needed.
#include <QApplication>

#include <gtest/gtest.h>

#include "support/run_all_tests.h"

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  ::testing::InitGoogleTest(&argc, argv);
  QApplication application(argc, argv);
  return cs::test::runAllTests();
}
