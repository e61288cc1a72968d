// Image folder listing, label mapping and batch decoding.
#include "data/image_folder_dataset.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "data/image.h"
#include "data/synthetic_datasets.h"

namespace cs::data {

namespace fs = std::filesystem;

namespace {
bool isImageFile(const fs::path& path) {
  auto ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}
}  // namespace

ImageFolderDataset::ImageFolderDataset(const fs::path& folder, ImagePreprocessor preprocessor,
                                       const std::vector<std::string>& modelLabels)
    : m_folder(folder), m_preprocessor(std::move(preprocessor)) {
  if (!fs::is_directory(folder)) throw IoError(folder.string() + " is not a folder");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    throw FormatError(folder.string() + ": no class subfolders (expected one folder per class)");
  }
  const auto labelIndex = [&](const std::string& name) -> std::int64_t {
    const auto it = std::find(modelLabels.begin(), modelLabels.end(), name);
    return it == modelLabels.end() ? -1 : it - modelLabels.begin();
  };
  const auto matched =
      std::count_if(names.begin(), names.end(), [&](const auto& n) { return labelIndex(n) >= 0; });
  const bool byLabel = matched == static_cast<std::int64_t>(names.size());
  if (matched > 0 && !byLabel) {
    for (const auto& n : names) {
      if (labelIndex(n) < 0) {
        throw FormatError(folder.string() + ": class folder '" + n +
                          "' is not one of the model's labels, while others are; rename it or "
                          "use names that all match or none");
      }
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto index = byLabel ? labelIndex(names[i]) : static_cast<std::int64_t>(i);
    m_classes.emplace_back(names[i], index);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder / names[i])) {
      if (entry.is_regular_file() && isImageFile(entry.path())) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) m_files.emplace_back(std::move(f), index);
  }
  if (m_files.empty())
    throw FormatError(folder.string() + ": no .png or .jpg images in the class folders");
}

EvalBatch ImageFolderDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  std::vector<at::Tensor> pixels;
  std::vector<std::int64_t> labels;
  for (std::int64_t i = begin; i < begin + count; ++i) {
    pixels.push_back(m_preprocessor.preprocess(decodeImage(m_files[i].first)));
    labels.push_back(m_files[i].second);
  }
  EvalBatch b;
  b.pixels = at::stack(pixels);
  b.targets = at::tensor(labels, at::kLong);
  return b;
}

std::string ImageFolderDataset::describe() const {
  return "images " + m_folder.filename().string() + ": " + std::to_string(size()) + " in " +
         std::to_string(m_classes.size()) + " classes";
}

}  // namespace cs::data
