// Logging facade with a replaceable sink.
#include "core/log.h"

#include <atomic>
#include <iostream>
#include <mutex>

namespace cs {

namespace {
std::mutex gMutex;
std::function<void(LogLevel, const std::string&, const std::string&)> gSink;
std::atomic<LogLevel> gThreshold{LogLevel::Info};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}
}  // namespace

void log(LogLevel level, const std::string& component, const std::string& message) {
  if (level < gThreshold.load()) return;
  std::lock_guard lock(gMutex);
  if (gSink) {
    gSink(level, component, message);
  } else {
    std::cerr << "[" << levelName(level) << "] " << component << ": " << message << "\n";
  }
}

void setLogSink(std::function<void(LogLevel, const std::string&, const std::string&)> sink) {
  std::lock_guard lock(gMutex);
  gSink = std::move(sink);
}

void setLogThreshold(LogLevel level) { gThreshold.store(level); }

}  // namespace cs
