// Runs long work off the GUI thread. A job is a function of a cs::Progress; its progress
// (stage, fraction, ETA) comes back to the GUI thread as queued signals, Cancel asks it to stop
// at its next Progress::check(), and its result or error message is delivered on the GUI thread.
// Jobs run one at a time in start order on one worker thread: they share one model, whose hooks
// (masks) must not change under a running forward pass.
#pragma once

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <functional>
#include <map>
#include <memory>

#include "core/progress.h"

namespace cs::gui {

enum class JobState { Queued, Running, Finished, Failed, Cancelled };

QString jobStateName(JobState state);

class JobRunner : public QObject {
  Q_OBJECT

 public:
  explicit JobRunner(QObject* parent = nullptr);
  /// Cancels every job and waits for the running one to stop.
  ~JobRunner() override;

  /// Starts `work` on the worker; `onResult` gets its result on the GUI thread unless the job
  /// failed or was cancelled. Returns the job's id.
  template <class Result>
  int start(const QString& name, std::function<Result(Progress&)> work,
            std::function<void(Result)> onResult) {
    return startErased(name,
                       [work = std::move(work), onResult = std::move(onResult)](
                           Progress& progress) -> std::function<void()> {
                         auto result = std::make_shared<Result>(work(progress));
                         return [onResult, result]() { onResult(std::move(*result)); };
                       });
  }

  /// Asks a job to stop; a queued job never starts. No effect on a finished job.
  void cancel(int id);
  void cancelAll();

  /// A job's state; Finished for an id never started.
  JobState state(int id) const;
  /// Jobs queued or running.
  int activeCount() const;

 Q_SIGNALS:
  void jobStarted(int id, const QString& name);
  /// etaSeconds < 0 while unknown.
  void jobProgress(int id, const QString& stage, double fraction, double etaSeconds);
  /// Finished, Failed (message: the error) or Cancelled.
  void jobEnded(int id, cs::gui::JobState state, const QString& message);

 private:
  // Work returns the closure that delivers its result on the GUI thread.
  using ErasedWork = std::function<std::function<void()>(Progress&)>;
  struct Job;

  int startErased(const QString& name, ErasedWork work);
  void runOnWorker(std::shared_ptr<Job> job);
  void end(int id, JobState state, const QString& message, const std::function<void()>& deliver);

  QThreadPool m_pool;
  std::map<int, std::shared_ptr<Job>> m_jobs;  // queued or running
  std::map<int, JobState> m_ended;
  int m_nextId = 1;
};

}  // namespace cs::gui
