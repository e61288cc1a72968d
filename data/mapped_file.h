// A read-only memory mapping of a whole file, shared by the tensors that view it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace cs::data {

class MappedFile {
 public:
  /// Maps the file read-only; throws IoError naming the path on failure.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return m_data; }
  std::size_t size() const { return m_size; }
  const std::filesystem::path& path() const { return m_path; }

 private:
  MappedFile() = default;
  std::filesystem::path m_path;
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
};

}  // namespace cs::data
