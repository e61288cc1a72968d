// The main of the test binaries that need no QApplication.
#include <gtest/gtest.h>

#include "support/run_all_tests.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return cs::test::runAllTests();
}
