// Progress and cancellation for long work. Libraries update it once per layer, batch or step;
// a UI reads the atomics without locks. The stage text is guarded by a small mutex.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

namespace cs {

class Progress {
 public:
  Progress() = default;
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Sets the current stage and resets the fraction to 0.
  void setStage(const std::string& stage);
  /// Fraction of the current stage done, clamped to [0, 1].
  void setFraction(double fraction);
  /// Asks the running job to stop at its next check.
  void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }

  bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
  double fraction() const { return m_fraction.load(std::memory_order_relaxed); }
  std::string stage() const;

  /// Throws cs::Cancelled when cancel() was called. Call once per unit of work.
  void check() const;

  /// Called (on the worker's thread) after each update; the CLI prints, the GUI posts.
  void setListener(std::function<void(const std::string& stage, double fraction)> listener);

 private:
  void notify();

  std::atomic<bool> m_cancelled{false};
  std::atomic<double> m_fraction{0.0};
  mutable std::mutex m_mutex;
  std::string m_stage;
  std::function<void(const std::string&, double)> m_listener;
};

/// A Progress nobody watches, for callers that do not care.
Progress& noProgress();

}  // namespace cs
