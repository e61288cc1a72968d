// safetensors reader (memory-mapped, validated before use) and writer (atomic rename).
// Format: 8-byte little-endian header length N, N bytes of JSON, then the data area.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cs::data {

class MappedFile;

struct SafetensorsEntry {
  std::string name;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  ///< offset in the data area
  std::uint64_t end = 0;
};

/// An opened, fully validated safetensors file. Tensors view the mapping without copying.
class SafetensorsFile {
 public:
  /// Maps and validates the file: header length against file size, JSON well-formed, every
  /// entry's dtype, shape and offsets, byte counts, no overlaps. Throws IoError / FormatError
  /// naming the file (and the tensor).
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const;
  const std::vector<SafetensorsEntry>& entries() const { return m_entries; }
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }
  bool contains(const std::string& name) const;
  /// Throws FormatError naming the file if absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  /// The tensor on the CPU in its stored dtype, copied out of the mapping. IoError when the
  /// file changed on disk since it was opened (MappedFile::copyOut).
  at::Tensor tensor(const std::string& name) const;

 private:
  std::shared_ptr<const MappedFile> m_file;
  std::uint64_t m_dataStart = 0;
  std::vector<SafetensorsEntry> m_entries;
  std::map<std::string, std::size_t> m_index;
  std::map<std::string, std::string> m_metadata;
};

/// Writes tensors (any device, any layout; converted to contiguous CPU) to `path` through a
/// temporary file renamed into place, so a failure never leaves a half-written file.
void writeSafetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace cs::data
