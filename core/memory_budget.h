// How much memory a request may still take, so that a batch too large for the machine is
// refused with a clear message before anything is allocated, instead of the process being
// killed by the kernel or failing deep inside a library.
#pragma once

#include <cstdint>
#include <string>

namespace cs {

/// Bytes the process can still allocate: MemAvailable of /proc/meminfo, lowered to what the
/// cgroup limit leaves (v2 memory.max − memory.current, or v1) inside a container. -1 when
/// unknown.
std::int64_t availableMemoryBytes();

/// MemoryError "<what> needs about X GiB of memory, but only Y GiB are available; <advice>"
/// when `bytes` exceeds the available memory. Nothing when it fits or is unknown.
void requireMemory(std::int64_t bytes, const std::string& what, const std::string& advice);

/// "1.5 GiB", "300 MiB": sizes in messages.
std::string memoryText(std::int64_t bytes);

}  // namespace cs
