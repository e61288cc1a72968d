#include "data/store/store_space.h"

#include <sys/resource.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/memory_budget.h"

namespace cs::data {

std::int64_t bytesToGrow(std::int64_t rowsBefore, std::int64_t rowsAfter, std::int64_t rowsPerChunk,
                         std::int64_t chunkBytes) {
  if (rowsAfter <= rowsBefore || rowsPerChunk <= 0) return 0;
  const auto chunksBefore = (rowsBefore + rowsPerChunk - 1) / rowsPerChunk;
  const auto chunksAfter = (rowsAfter + rowsPerChunk - 1) / rowsPerChunk;
  return (chunksAfter - chunksBefore) * chunkBytes;
}

void requireRoomToGrow(const std::filesystem::path& path, std::int64_t fileEnd, std::int64_t bytes,
                       std::int64_t rowsKept) {
  const auto kept = std::to_string(rowsKept) + " finished example" + (rowsKept == 1 ? "" : "s");
  const auto advice = "; " + path.string() + " keeps its " + kept +
                      ": free some space and continue with `record ... --resume`";

  struct rlimit limit {};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < static_cast<rlim_t>(std::numeric_limits<std::int64_t>::max())) {
    const auto cap = static_cast<std::int64_t>(limit.rlim_cur);
    if (fileEnd + bytes > cap)
      throw IoError("the next batch would take " + path.string() + " past this process's " +
                    "file-size limit (" + memoryText(cap) + ", ulimit -f)" + advice);
  }

  auto folder = std::filesystem::absolute(path).parent_path();
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) != 0) return;  // unknown: HDF5's writes will tell
  const auto available = static_cast<std::int64_t>(std::min<unsigned long long>(
      static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize,
      static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())));
  if (bytes > available)
    throw IoError("the disk holding " + path.string() + " is full: the next batch needs about " +
                  memoryText(bytes) + ", " + memoryText(available) + " are free" + advice);
}

}  // namespace cs::data
