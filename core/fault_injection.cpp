// CIRCUITSCOPE_FAULT is read once; the hit counter is atomic because fault points are passed
// from writer threads too.
#include "core/fault_injection.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace cs {

namespace {

enum class FaultAction { Signal, Throw, Skip };

struct FaultPlan {
  std::string point;
  long hitsBeforeFault = 0;
  FaultAction action = FaultAction::Signal;
  int signal = SIGKILL;
};

bool removeSuffix(std::string& text, std::string_view suffix) {
  if (text.size() <= suffix.size() ||
      text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  text.resize(text.size() - suffix.size());
  return true;
}

const FaultPlan& plan() {
  static const FaultPlan parsed = [] {
    FaultPlan p;
    const char* text = std::getenv("CIRCUITSCOPE_FAULT");
    if (!text) return p;
    std::string spec = text;
    if (removeSuffix(spec, ":skip")) {
      p.point = spec;
      p.action = FaultAction::Skip;
      return p;
    }
    if (removeSuffix(spec, ":stop")) p.signal = SIGSTOP;
    if (removeSuffix(spec, ":throw")) p.action = FaultAction::Throw;
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos) return p;
    p.point = spec.substr(0, colon);
    p.hitsBeforeFault = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
    return p;
  }();
  return parsed;
}

}  // namespace

void faultPoint(std::string_view name) {
  const auto& p = plan();
  if (p.point.empty() || name != p.point || p.action == FaultAction::Skip) return;
  static std::atomic<long> hits{0};
  if (++hits != p.hitsBeforeFault) return;
  if (p.action == FaultAction::Throw)
    throw IoError("injected fault at " + std::string(name) + " (CIRCUITSCOPE_FAULT)");
  ::kill(::getpid(), p.signal);
}

bool faultSkips(std::string_view name) {
  const auto& p = plan();
  return p.action == FaultAction::Skip && name == p.point;
}

}  // namespace cs
