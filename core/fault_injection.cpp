// CIRCUITSCOPE_FAULT is read once; the hit counter is atomic because fault points are passed
// from writer threads too.
#include "core/fault_injection.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace cs {

namespace {

struct FaultPlan {
  std::string point;
  long hitsBeforeKill = 0;
  int signal = SIGKILL;
};

const FaultPlan& plan() {
  static const FaultPlan parsed = [] {
    FaultPlan p;
    const char* text = std::getenv("CIRCUITSCOPE_FAULT");
    if (!text) return p;
    std::string spec = text;
    constexpr std::string_view kStop = ":stop";
    if (spec.size() > kStop.size() &&
        spec.compare(spec.size() - kStop.size(), kStop.size(), kStop) == 0) {
      p.signal = SIGSTOP;
      spec.resize(spec.size() - kStop.size());
    }
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos) return p;
    p.point = spec.substr(0, colon);
    p.hitsBeforeKill = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
    return p;
  }();
  return parsed;
}

}  // namespace

void faultPoint(std::string_view name) {
  const auto& p = plan();
  if (p.point.empty() || name != p.point) return;
  static std::atomic<long> hits{0};
  if (++hits == p.hitsBeforeKill) ::kill(::getpid(), p.signal);
}

}  // namespace cs
