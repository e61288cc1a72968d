// A dataset held in memory for tests: images (with labels, or none), or token rows of any length,
// right-padded with `padId` and masked per batch when their lengths differ, scored on every real
// next token.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace cs::test {

class RowsDataset final : public data::Dataset {
 public:
  explicit RowsDataset(at::Tensor pixels, at::Tensor labels = {})
      : m_pixels(std::move(pixels)), m_labels(std::move(labels)) {}
  explicit RowsDataset(std::vector<std::vector<std::int64_t>> rows, std::int64_t padId = 0)
      : m_rows(std::move(rows)), m_padId(padId) {}

  std::int64_t size() const override;
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override { return "test rows"; }

 private:
  at::Tensor m_pixels, m_labels;
  std::vector<std::vector<std::int64_t>> m_rows;
  std::int64_t m_padId = 0;
};

}  // namespace cs::test
