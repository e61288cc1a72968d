// Test helpers.
#include "support/test_support.h"

#include "core/torch_api.h"

#include <cctype>
#include <limits>
#include <random>

namespace cs::test {

namespace fs = std::filesystem;

fs::path dataPath(const std::string& relative) { return fs::path(kDataDir) / relative; }

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = fs::temp_directory_path() / ("circuitscope-test-" + std::to_string(rd()));
    if (fs::create_directory(candidate)) {
      m_path = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(m_path, ec);
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  if (a.numel() == 0) return 0.0;
  return (a.detach().to(torch::kCPU, torch::kDouble) - b.detach().to(torch::kCPU, torch::kDouble))
      .abs()
      .max()
      .item<double>();
}

std::string folderParamName(const std::string& folder) {
  auto name = folder;
  std::erase_if(name, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); });
  return name;
}

void copyModelFolder(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    const auto name = entry.path().filename().string();
    if (name == "config.json" || entry.path().extension() == ".safetensors" ||
        name == "model.safetensors.index.json") {
      if (name == "expected.safetensors") continue;
      fs::copy_file(entry.path(), to / name, fs::copy_options::overwrite_existing);
    }
  }
}

}  // namespace cs::test
