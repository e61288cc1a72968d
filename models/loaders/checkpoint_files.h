// The tensors of a Hugging Face checkpoint folder: model.safetensors, or shards listed by
// model.safetensors.index.json. Pickle checkpoints (pytorch_model.bin) are refused, never read.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/safetensors.h"

namespace cs::models {

class CheckpointFiles {
 public:
  /// Opens and validates every file. Throws IoError / FormatError naming the file.
  static CheckpointFiles open(const std::filesystem::path& folder);

  /// Stored tensor names, across all shards.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return m_where.count(name) > 0; }
  const data::SafetensorsEntry& entry(const std::string& name) const;
  /// The stored tensor (CPU, stored dtype, may view the mapping).
  at::Tensor tensor(const std::string& name) const;
  /// The file that holds the tensor (for messages).
  std::string fileOf(const std::string& name) const;
  std::size_t fileCount() const { return m_files.size(); }
  /// The checkpoint's files sorted by file name.
  std::vector<std::filesystem::path> paths() const;

 private:
  std::vector<data::SafetensorsFile> m_files;
  std::map<std::string, std::size_t> m_where;  // name -> index into m_files
};

}  // namespace cs::models
