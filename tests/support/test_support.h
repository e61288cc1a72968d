// Helpers shared by the test binaries: fixture paths, temporary folders, tensor comparison
// that reports the largest difference by name.
#pragma once

#include <ATen/core/Tensor.h>

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

#include "support/message_of.h"
#include "test_paths.h"

namespace cs::test {

/// tests/data/<relative>
std::filesystem::path dataPath(const std::string& relative);

/// A fresh empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

 private:
  std::filesystem::path m_path;
};

/// Largest |a - b| (in float64); shapes must agree (else +inf).
double maxAbsDiff(const at::Tensor& a, const at::Tensor& b);

/// A test-name suffix from a fixture folder name: "gpt2-tiny" -> "gpt2tiny".
std::string folderParamName(const std::string& folder);

/// Copies a model folder (config.json, *.safetensors, index) into `to`.
void copyModelFolder(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace cs::test
