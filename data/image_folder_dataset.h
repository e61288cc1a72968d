// Image folders for classification accuracy: one subfolder per class holding PNG or JPEG
// files. Class names map to the model's id2label when every name is found there, else classes
// are numbered in sorted name order. Images are decoded batch by batch (memory stays flat).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_preprocessor.h"

namespace cs::data {

class ImageFolderDataset final : public Dataset {
 public:
  /// Lists the files now; FormatError naming the folder when there are no class subfolders or
  /// no images, or when some but not all class names are model labels.
  ImageFolderDataset(const std::filesystem::path& folder, ImagePreprocessor preprocessor,
                     const std::vector<std::string>& modelLabels);
  std::int64_t size() const override { return static_cast<std::int64_t>(m_files.size()); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;
  /// The class index each subfolder was given, in sorted subfolder order.
  const std::vector<std::pair<std::string, std::int64_t>>& classes() const { return m_classes; }

 private:
  std::filesystem::path m_folder;
  ImagePreprocessor m_preprocessor;
  std::vector<std::pair<std::string, std::int64_t>> m_classes;
  std::vector<std::pair<std::filesystem::path, std::int64_t>> m_files;
};

}  // namespace cs::data
