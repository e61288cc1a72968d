// One logging facade: levels and a component prefix. The CLI sends it to stderr, the GUI to its
// log panel. Never log inside per-element loops.
#pragma once

#include <functional>
#include <string>

namespace cs {

enum class LogLevel { Debug, Info, Warning, Error };

/// Writes one message if level >= the current threshold.
void log(LogLevel level, const std::string& component, const std::string& message);

/// Replaces where messages go (default: stderr as "[level] component: message").
void setLogSink(std::function<void(LogLevel, const std::string&, const std::string&)> sink);
void setLogThreshold(LogLevel level);

}  // namespace cs
