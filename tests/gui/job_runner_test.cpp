// The job runner: results and progress arrive on the GUI thread, cancellation and errors end a
// job without a result.
#include "app/gui/job_runner.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <gtest/gtest.h>
#include <atomic>
#include <optional>

#include "core/error.h"

namespace cs::gui {
namespace {

constexpr int kWaitMs = 20000;

// Waits (running the event loop) until the job has ended; false on time-out.
bool waitForEnd(JobRunner& runner, int id) {
  return QTest::qWaitFor([&]() { return runner.state(id) > JobState::Running; }, kWaitMs);
}

TEST(JobRunner, DeliversTheResultOnTheGuiThread) {
  JobRunner runner;
  QThread* workerThread = nullptr;
  QThread* resultThread = nullptr;
  std::optional<int> result;
  const int id = runner.start<int>(
      "answer",
      [&](Progress&) {
        workerThread = QThread::currentThread();
        return 42;
      },
      [&](int value) {
        resultThread = QThread::currentThread();
        result = value;
      });
  ASSERT_TRUE(waitForEnd(runner, id));
  EXPECT_EQ(runner.state(id), JobState::Finished);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(resultThread, QThread::currentThread());
  EXPECT_NE(workerThread, QThread::currentThread());
  EXPECT_NE(workerThread, nullptr);
}

TEST(JobRunner, ReportsProgressOnTheGuiThread) {
  JobRunner runner;
  QSignalSpy progress(&runner, &JobRunner::jobProgress);
  QThread* signalThread = nullptr;
  QObject::connect(
      &runner, &JobRunner::jobProgress, &runner,
      [&](int, const QString&, double, double) { signalThread = QThread::currentThread(); });
  const int id = runner.start<int>(
      "steps",
      [](Progress& p) {
        p.setStage("counting");
        p.setFraction(0.5);
        p.setFraction(1.0);
        return 0;
      },
      [](int) {});
  ASSERT_TRUE(waitForEnd(runner, id));
  ASSERT_GE(progress.count(), 2);  // the new stage and its end always post
  const auto last = progress.takeLast();
  EXPECT_EQ(last.at(0).toInt(), id);
  EXPECT_EQ(last.at(1).toString(), QStringLiteral("counting"));
  EXPECT_DOUBLE_EQ(last.at(2).toDouble(), 1.0);
  EXPECT_EQ(signalThread, QThread::currentThread());
}

TEST(JobRunner, CancelledJobEndsCancelledWithoutResult) {
  JobRunner runner;
  QSignalSpy ended(&runner, &JobRunner::jobEnded);
  std::atomic<bool> started{false};
  bool delivered = false;
  const int id = runner.start<int>(
      "forever",
      [&](Progress& p) {
        started = true;
        while (true) {
          p.check();
          QThread::msleep(1);
        }
        return 0;
      },
      [&](int) { delivered = true; });
  ASSERT_TRUE(QTest::qWaitFor([&]() { return started.load(); }, kWaitMs));
  EXPECT_EQ(runner.state(id), JobState::Running);
  runner.cancel(id);
  ASSERT_TRUE(waitForEnd(runner, id));
  EXPECT_EQ(runner.state(id), JobState::Cancelled);
  EXPECT_FALSE(delivered);
  ASSERT_EQ(ended.count(), 1);
  EXPECT_EQ(ended.at(0).at(1).value<JobState>(), JobState::Cancelled);
}

TEST(JobRunner, CancelledQueuedJobNeverRuns) {
  JobRunner runner;
  std::atomic<bool> release{false};
  std::atomic<bool> secondRan{false};
  const int first = runner.start<int>(
      "blocker",
      [&](Progress&) {
        while (!release) QThread::msleep(1);
        return 1;
      },
      [](int) {});
  const int second = runner.start<int>(
      "queued",
      [&](Progress&) {
        secondRan = true;
        return 2;
      },
      [](int) {});
  runner.cancel(second);
  release = true;
  ASSERT_TRUE(waitForEnd(runner, first));
  ASSERT_TRUE(waitForEnd(runner, second));
  EXPECT_EQ(runner.state(first), JobState::Finished);
  EXPECT_EQ(runner.state(second), JobState::Cancelled);
  EXPECT_FALSE(secondRan);
}

TEST(JobRunner, ExceptionBecomesErrorMessage) {
  JobRunner runner;
  QSignalSpy ended(&runner, &JobRunner::jobEnded);
  bool delivered = false;
  const int id = runner.start<int>(
      "broken",
      [](Progress&) -> int { throw ConfigError("layer 7 does not exist; the model has 2"); },
      [&](int) { delivered = true; });
  ASSERT_TRUE(waitForEnd(runner, id));
  EXPECT_EQ(runner.state(id), JobState::Failed);
  EXPECT_FALSE(delivered);
  ASSERT_EQ(ended.count(), 1);
  EXPECT_EQ(ended.at(0).at(2).toString(),
            QStringLiteral("layer 7 does not exist; the model has 2"));
}

}  // namespace
}  // namespace cs::gui
