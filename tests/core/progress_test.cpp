// Progress: stage and clamped fraction, listener calls, and cancellation that a worker loop on
// another thread sees at its next check().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/progress.h"

namespace cs {
namespace {

TEST(Progress, StartsEmptyAndNotCancelled) {
  Progress progress;
  EXPECT_EQ(progress.stage(), "");
  EXPECT_EQ(progress.fraction(), 0.0);
  EXPECT_FALSE(progress.cancelled());
  EXPECT_NO_THROW(progress.check());
}

TEST(Progress, SetStageResetsFraction) {
  Progress progress;
  progress.setStage("loading");
  progress.setFraction(0.5);
  EXPECT_EQ(progress.stage(), "loading");
  EXPECT_DOUBLE_EQ(progress.fraction(), 0.5);
  progress.setStage("running");
  EXPECT_EQ(progress.stage(), "running");
  EXPECT_EQ(progress.fraction(), 0.0);
}

TEST(Progress, FractionIsClampedToUnitInterval) {
  Progress progress;
  progress.setFraction(1.7);
  EXPECT_EQ(progress.fraction(), 1.0);
  progress.setFraction(-0.3);
  EXPECT_EQ(progress.fraction(), 0.0);
  progress.setFraction(0.25);
  EXPECT_DOUBLE_EQ(progress.fraction(), 0.25);
}

TEST(Progress, CancelMakesCheckThrowCancelled) {
  Progress progress;
  progress.cancel();
  EXPECT_TRUE(progress.cancelled());
  EXPECT_THROW(progress.check(), Cancelled);
  // The flag stays set: every later check stops the job too.
  EXPECT_THROW(progress.check(), Cancelled);
}

TEST(Progress, ListenerSeesStageAndFraction) {
  Progress progress;
  std::vector<std::pair<std::string, double>> calls;
  progress.setListener(
      [&calls](const std::string& stage, double fraction) { calls.emplace_back(stage, fraction); });
  progress.setStage("layer");
  progress.setFraction(0.5);
  progress.setFraction(3.0);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].first, "layer");
  EXPECT_EQ(calls[0].second, 0.0);
  EXPECT_EQ(calls[1].first, "layer");
  EXPECT_DOUBLE_EQ(calls[1].second, 0.5);
  // The listener gets the clamped value, not what the worker passed.
  EXPECT_EQ(calls[2].second, 1.0);
}

TEST(Progress, ListenerMayReadTheProgressItself) {
  // A GUI adapter reads stage() inside the callback; notify() must not hold the mutex then.
  Progress progress;
  std::string seen;
  progress.setListener([&](const std::string&, double) { seen = progress.stage(); });
  progress.setStage("tokenizing");
  EXPECT_EQ(seen, "tokenizing");
}

TEST(Progress, CancelFromAnotherThreadStopsWorkerLoop) {
  Progress progress;
  std::atomic<bool> started{false};
  std::atomic<long> iterations{0};
  bool sawCancelled = false;
  std::thread worker([&] {
    try {
      // Bounded so a missed cancel fails the test instead of hanging it.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < deadline) {
        progress.check();
        started.store(true);
        iterations.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    } catch (const Cancelled&) {
      sawCancelled = true;
    }
  });
  while (!started.load()) std::this_thread::yield();
  progress.cancel();
  worker.join();
  EXPECT_TRUE(sawCancelled);
  EXPECT_GT(iterations.load(), 0);
}

TEST(Progress, NoProgressIsPerThread) {
  // Unrelated callers on different threads must never share a cancel flag.
  Progress* mine = &noProgress();
  Progress* theirs = nullptr;
  std::thread other([&] { theirs = &noProgress(); });
  other.join();
  EXPECT_NE(mine, theirs);
  EXPECT_EQ(mine, &noProgress());
}

}  // namespace
}  // namespace cs
