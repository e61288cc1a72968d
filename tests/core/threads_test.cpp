// configureThreads: an explicit count wins, else CIRCUITSCOPE_THREADS, else the core count; a
// bad environment value is a ConfigError naming the variable. Each test restores the
// environment and libtorch's thread count, which are process-wide.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/threads.h"

namespace cs {
namespace {

class ConfigureThreads : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* value = std::getenv(kThreadsEnv)) m_savedEnv = value;
    m_savedThreads = threadCount();
  }

  void TearDown() override {
    if (m_savedEnv) {
      setenv(kThreadsEnv, m_savedEnv->c_str(), 1);
    } else {
      unsetenv(kThreadsEnv);
    }
    configureThreads(m_savedThreads);
  }

  void expectRejected(const char* value) {
    SCOPED_TRACE(std::string("CIRCUITSCOPE_THREADS=") + value);
    setenv(kThreadsEnv, value, 1);
    const int before = threadCount();
    try {
      configureThreads(0);
      FAIL() << "accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(kThreadsEnv), std::string::npos) << e.what();
    }
    // A rejected value leaves the previous setting in force.
    EXPECT_EQ(threadCount(), before);
  }

 private:
  std::optional<std::string> m_savedEnv;
  int m_savedThreads = 1;
};

TEST_F(ConfigureThreads, ExplicitCountIsUsed) {
  EXPECT_EQ(configureThreads(3), 3);
  EXPECT_EQ(threadCount(), 3);
}

TEST_F(ConfigureThreads, ExplicitCountWinsOverEnvironment) {
  setenv(kThreadsEnv, "1", 1);
  EXPECT_EQ(configureThreads(2), 2);
  EXPECT_EQ(threadCount(), 2);
}

TEST_F(ConfigureThreads, EnvironmentIsUsedWhenNoCountIsGiven) {
  configureThreads(3);
  setenv(kThreadsEnv, "1", 1);
  EXPECT_EQ(configureThreads(0), 1);
  EXPECT_EQ(threadCount(), 1);
}

TEST_F(ConfigureThreads, InvalidEnvironmentIsConfigErrorNamingTheVariable) {
  expectRejected("abc");
  expectRejected("0");
  expectRejected("-2");
  expectRejected("3x");
}

TEST_F(ConfigureThreads, EmptyEnvironmentCountsAsUnset) {
  setenv(kThreadsEnv, "", 1);
  const unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(configureThreads(0), cores == 0 ? 1 : static_cast<int>(cores));
}

TEST_F(ConfigureThreads, WithoutEnvironmentUsesEveryCore) {
  unsetenv(kThreadsEnv);
  const unsigned cores = std::thread::hardware_concurrency();
  const int expected = cores == 0 ? 1 : static_cast<int>(cores);
  EXPECT_EQ(configureThreads(0), expected);
  EXPECT_EQ(threadCount(), expected);
}

TEST_F(ConfigureThreads, EnsureKeepsAnExplicitChoice) {
  configureThreads(1);
  ensureThreadsConfigured();  // what building a model calls
  EXPECT_EQ(threadCount(), 1);
}

TEST_F(ConfigureThreads, ScopedBlasThreadsLeavesLibtorchThreadsAlone) {
  configureThreads(2);
  {
    ScopedBlasThreads single(1);
    EXPECT_EQ(threadCount(), 2);
  }
  EXPECT_EQ(threadCount(), 2);
}

}  // namespace
}  // namespace cs
