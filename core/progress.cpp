// Progress: atomic fraction and cancel flag, stage text under a mutex.
#include "core/progress.h"

#include <algorithm>

#include "core/error.h"

namespace cs {

void Progress::setStage(const std::string& stage) {
  {
    std::lock_guard lock(m_mutex);
    m_stage = stage;
  }
  m_fraction.store(0.0, std::memory_order_relaxed);
  notify();
}

void Progress::setFraction(double fraction) {
  m_fraction.store(std::clamp(fraction, 0.0, 1.0), std::memory_order_relaxed);
  notify();
}

std::string Progress::stage() const {
  std::lock_guard lock(m_mutex);
  return m_stage;
}

void Progress::check() const {
  if (cancelled()) throw Cancelled();
}

void Progress::setListener(std::function<void(const std::string&, double)> listener) {
  std::lock_guard lock(m_mutex);
  m_listener = std::move(listener);
}

void Progress::notify() {
  std::function<void(const std::string&, double)> listener;
  std::string stage;
  {
    std::lock_guard lock(m_mutex);
    listener = m_listener;
    stage = m_stage;
  }
  if (listener) listener(stage, fraction());
}

Progress& noProgress() {
  // One per thread so unrelated callers never share a cancel flag.
  thread_local Progress progress;
  return progress;
}

}  // namespace cs
