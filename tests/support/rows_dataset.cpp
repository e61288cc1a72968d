// In-memory test rows.
#include "support/rows_dataset.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cstdint>

namespace cs::test {

std::int64_t RowsDataset::size() const {
  return m_pixels.defined() ? m_pixels.size(0) : static_cast<std::int64_t>(m_rows.size());
}

data::EvalBatch RowsDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = std::min(count, size() - begin);
  data::EvalBatch b;
  if (m_pixels.defined()) {
    b.pixels = m_pixels.narrow(0, begin, count);
    if (m_labels.defined()) b.targets = m_labels.narrow(0, begin, count);
    return b;
  }
  std::size_t longest = 0, shortest = SIZE_MAX;
  for (std::int64_t i = begin; i < begin + count; ++i) {
    longest = std::max(longest, m_rows[i].size());
    shortest = std::min(shortest, m_rows[i].size());
  }
  const auto T = static_cast<std::int64_t>(longest);
  b.tokens = at::full({count, T}, m_padId, at::kLong);
  auto mask = at::zeros({count, T}, at::kLong);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto& row = m_rows[begin + i];
    for (std::size_t t = 0; t < row.size(); ++t) {
      b.tokens[i][static_cast<std::int64_t>(t)] = row[t];
      mask[i][static_cast<std::int64_t>(t)] = 1;
    }
  }
  if (shortest != longest) b.attentionMask = mask;
  b.lossMask = mask.ne(0);
  return b;
}

}  // namespace cs::test
