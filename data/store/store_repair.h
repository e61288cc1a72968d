// Stores cut short by a failed write. HDF5 records the file's end in its superblock; when a
// write fails (disk full) after that record moved, the file is shorter than it says and HDF5
// refuses to open it, although every finished batch is intact before the cut. Extending the
// file to its recorded end (a sparse hole: no disk space needed) makes it readable again, and
// the store's rows_written count still says which examples are whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace cs::data {

struct CutShortFile {
  std::int64_t size = 0;         ///< bytes on disk
  std::int64_t recordedEnd = 0;  ///< the end the superblock records, > size
};

/// The sizes when `path` is an HDF5 file (superblock version 2 or 3, as circuitscope writes)
/// shorter than its superblock records; nullopt otherwise (also for files that cannot be read
/// or other superblock versions).
std::optional<CutShortFile> findCutShort(const std::filesystem::path& path);

/// Extends a cut-short store to its recorded end. Returns false when the file is not cut short;
/// IoError when it cannot be extended, or when the recorded end lies implausibly far past the
/// file (more than its size and 4 GiB): a damaged header rather than a failed write.
bool extendCutShortStore(const std::filesystem::path& path);

}  // namespace cs::data
