#include "core/memory_budget.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cs {

namespace {

// One number from a file such as memory.max; -1 for "max", absent or unreadable.
std::int64_t readNumber(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return -1;
  }
}

std::int64_t memAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    long long kib = -1;
    if (fields >> kib && kib >= 0) return static_cast<std::int64_t>(kib) * 1024;
  }
  return -1;
}

}  // namespace

std::int64_t availableMemoryBytes() {
  std::int64_t available = memAvailable();
  auto lower = [&](std::int64_t limit, std::int64_t used) {
    // v1 reports "no limit" as a huge number; such a limit leaves MemAvailable in charge.
    if (limit <= 0 || used < 0 || limit >= (std::int64_t{1} << 60)) return;
    const auto left = std::max<std::int64_t>(limit - used, 0);
    available = available < 0 ? left : std::min(available, left);
  };
  lower(readNumber("/sys/fs/cgroup/memory.max"), readNumber("/sys/fs/cgroup/memory.current"));
  lower(readNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        readNumber("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
  return available;
}

std::string memoryText(std::int64_t bytes) {
  char text[32];
  if (bytes >= (std::int64_t{1} << 30)) {
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  } else {
    std::snprintf(text, sizeof text, "%lld MiB",
                  static_cast<long long>((bytes + (1 << 20) - 1) >> 20));
  }
  return text;
}

void requireMemory(std::int64_t bytes, const std::string& what, const std::string& advice) {
  const auto available = availableMemoryBytes();
  if (available < 0 || bytes <= available) return;
  throw MemoryError(what + " needs about " + memoryText(bytes) + " of memory, but only " +
                    memoryText(available) + " are available; " + advice);
}

}  // namespace cs
