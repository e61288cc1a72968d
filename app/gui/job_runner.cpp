#include "app/gui/job_runner.h"

#include <QElapsedTimer>
#include <QMetaObject>

#include <atomic>
#include <chrono>

#include "core/error.h"
#include "core/error_message.h"

namespace cs::gui {

struct JobRunner::Job {
  int id = 0;
  QString name;
  ErasedWork work;
  Progress progress;
  std::atomic<JobState> state{JobState::Queued};
};

QString jobStateName(JobState state) {
  switch (state) {
    case JobState::Queued:
      return QStringLiteral("queued");
    case JobState::Running:
      return QStringLiteral("running");
    case JobState::Finished:
      return QStringLiteral("done");
    case JobState::Failed:
      return QStringLiteral("failed");
    case JobState::Cancelled:
      return QStringLiteral("cancelled");
  }
  return {};
}

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
  qRegisterMetaType<cs::gui::JobState>("cs::gui::JobState");
  m_pool.setMaxThreadCount(1);
  m_pool.setExpiryTimeout(-1);
}

JobRunner::~JobRunner() {
  cancelAll();
  m_pool.waitForDone();
}

int JobRunner::startErased(const QString& name, ErasedWork work) {
  auto job = std::make_shared<Job>();
  job->id = m_nextId++;
  job->name = name;
  job->work = std::move(work);
  m_jobs[job->id] = job;
  Q_EMIT jobStarted(job->id, name);
  m_pool.start([this, job]() { runOnWorker(job); });
  return job->id;
}

void JobRunner::runOnWorker(std::shared_ptr<Job> job) {
  const int id = job->id;
  if (job->progress.cancelled()) {
    QMetaObject::invokeMethod(
        this, [this, id]() { end(id, JobState::Cancelled, {}, {}); }, Qt::QueuedConnection);
    return;
  }
  job->state = JobState::Running;

  // Progress updates arrive once per batch or layer; posting every one would flood the event
  // loop on fast jobs, so a new stage always posts and fractions post at most every 50 ms.
  QElapsedTimer stageClock;
  stageClock.start();
  QElapsedTimer postClock;
  std::string lastStage;
  job->progress.setListener([&](const std::string& stage, double fraction) {
    const bool newStage = stage != lastStage;
    if (newStage) {
      lastStage = stage;
      stageClock.restart();
    }
    if (!newStage && postClock.isValid() && postClock.elapsed() < 50 && fraction < 1.0) return;
    postClock.restart();
    const double elapsed = stageClock.elapsed() / 1000.0;
    const double eta = fraction > 0.01 ? elapsed * (1.0 - fraction) / fraction : -1.0;
    QMetaObject::invokeMethod(
        this,
        [this, id, text = QString::fromStdString(stage), fraction, eta]() {
          Q_EMIT jobProgress(id, text, fraction, eta);
        },
        Qt::QueuedConnection);
  });

  JobState state = JobState::Finished;
  QString message;
  std::function<void()> deliver;
  try {
    deliver = job->work(job->progress);
  } catch (const Cancelled&) {
    state = JobState::Cancelled;
  } catch (...) {
    // Without libtorch's backtrace, and a failed allocation as "out of memory" with advice.
    state = JobState::Failed;
    message = QString::fromStdString(describeException(std::current_exception()).message);
  }
  job->progress.setListener(nullptr);
  QMetaObject::invokeMethod(
      this,
      [this, id, state, message, deliver = std::move(deliver)]() {
        end(id, state, message, deliver);
      },
      Qt::QueuedConnection);
}

void JobRunner::end(int id, JobState state, const QString& message,
                    const std::function<void()>& deliver) {
  const auto it = m_jobs.find(id);
  if (it == m_jobs.end()) return;
  // A cancel that came after the work returned still wins: the user asked for no result.
  if (state == JobState::Finished && it->second->progress.cancelled()) state = JobState::Cancelled;
  it->second->state = state;
  QString error = message;
  if (state == JobState::Finished && deliver) {
    try {
      deliver();
    } catch (...) {
      state = JobState::Failed;
      error = QString::fromStdString(describeException(std::current_exception()).message);
      it->second->state = state;
    }
  }
  m_jobs.erase(it);
  m_ended[id] = state;
  Q_EMIT jobEnded(id, state, error);
}

void JobRunner::cancel(int id) {
  const auto it = m_jobs.find(id);
  if (it != m_jobs.end()) it->second->progress.cancel();
}

void JobRunner::cancelAll() {
  for (auto& [id, job] : m_jobs) job->progress.cancel();
}

JobState JobRunner::state(int id) const {
  if (const auto it = m_jobs.find(id); it != m_jobs.end()) return it->second->state.load();
  const auto ended = m_ended.find(id);
  return ended == m_ended.end() ? JobState::Finished : ended->second;
}

int JobRunner::activeCount() const { return static_cast<int>(m_jobs.size()); }

}  // namespace cs::gui
