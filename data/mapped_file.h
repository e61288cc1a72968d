// A read-only memory mapping of a whole file. Bytes leave it only through copyOut, which turns
// the SIGBUS a file cut short under the mapping raises into an IoError, and which notices a file
// rewritten in place since it was mapped: checkpoints come from users' disks, where another
// program may be writing the very file being loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

struct stat;

namespace cs::data {

class MappedFile {
 public:
  /// Maps the file read-only; throws IoError naming the path on failure.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::size_t size() const { return m_size; }
  const std::filesystem::path& path() const { return m_path; }

  /// Copies `bytes` bytes at `offset` (inside the mapping; checked by the caller) to `out`.
  /// IoError "<path> changed on disk while being read ..." when the file has been cut short,
  /// replaced or rewritten since it was mapped (size, modification time or inode differ).
  void copyOut(std::size_t offset, std::size_t bytes, void* out) const;

 private:
  MappedFile() = default;
  [[noreturn]] void throwChanged() const;
  bool changedOnDisk() const;

  std::filesystem::path m_path;
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
  struct Identity {
    unsigned long device = 0, inode = 0;
    long long modifiedSeconds = 0, modifiedNanoseconds = 0;
    long long size = 0;
    bool operator==(const Identity&) const = default;
  };
  static Identity identityOf(const struct stat& st);
  Identity m_identity;
};

}  // namespace cs::data
