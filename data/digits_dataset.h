// The 8x8 optical digits set shipped in resources/digits (1797 images, 10 classes, CC BY 4.0)
// with a fixed split: every fifth image (index % 5 == 0) is the test split, the rest train.
#pragma once

#include <filesystem>

#include "data/dataset.h"

namespace cs::data {

enum class DigitsSplit { Train, Test, All };

class DigitsDataset final : public Dataset {
 public:
  /// Reads and validates the file (default: the shipped resource).
  explicit DigitsDataset(DigitsSplit split, const std::filesystem::path& file = {});
  std::int64_t size() const override { return m_labels.size(0); }
  /// pixels [B, 1, 8, 8] in [0, 1] (value / 16), targets = labels.
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_images;  // [N, 1, 8, 8] float32
  at::Tensor m_labels;  // [N] int64
  DigitsSplit m_split;
};

}  // namespace cs::data
