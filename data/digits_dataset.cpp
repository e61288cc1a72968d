// Digits dataset: validated load of the shipped safetensors file and the fixed split.
#include "data/digits_dataset.h"

#include "core/torch_api.h"

#include "core/error.h"
#include "core/resources.h"
#include "core/shape_text.h"
#include "data/safetensors.h"
#include "data/synthetic_datasets.h"

namespace cs::data {

DigitsDataset::DigitsDataset(DigitsSplit split, const std::filesystem::path& file)
    : m_split(split) {
  const auto path = file.empty() ? resourcePath("digits/digits.safetensors") : file;
  const auto st = SafetensorsFile::open(path);
  const auto images = st.tensor("images");
  const auto labels = st.tensor("labels");
  const auto n = labels.numel();
  if (images.scalar_type() != at::kByte || labels.scalar_type() != at::kByte || labels.dim() != 1 ||
      images.sizes() != at::IntArrayRef({n, 8, 8})) {
    throw FormatError(path.string() + ": expected images U8 [N, 8, 8] and labels U8 [N], got " +
                      shapeText(images.sizes()) + " and " + shapeText(labels.sizes()));
  }
  if (n > 0 && (labels.max().item<int>() > 9 || images.max().item<int>() > 16)) {
    throw FormatError(path.string() + ": labels must be 0..9 and pixels 0..16");
  }
  auto index = at::arange(n, at::kLong);
  if (split == DigitsSplit::Test) index = index.masked_select(index.remainder(5).eq(0));
  if (split == DigitsSplit::Train) index = index.masked_select(index.remainder(5).ne(0));
  m_images = images.index_select(0, index).to(at::kFloat).div(16.0).unsqueeze(1);
  m_labels = labels.index_select(0, index).to(at::kLong);
}

EvalBatch DigitsDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  EvalBatch b;
  b.pixels = m_images.narrow(0, begin, count);
  b.targets = m_labels.narrow(0, begin, count);
  return b;
}

std::string DigitsDataset::describe() const {
  const char* name = m_split == DigitsSplit::Test    ? "test"
                     : m_split == DigitsSplit::Train ? "train"
                                                     : "all";
  return std::string("digits 8x8 (") + name + " split): " + std::to_string(size()) + " images";
}

}  // namespace cs::data
