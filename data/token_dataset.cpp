// In-memory token rows with next-token scoring.
#include "data/token_dataset.h"

#include "core/torch_api.h"

#include "core/error.h"
#include "core/shape_text.h"
#include "data/synthetic_datasets.h"

namespace cs::data {

TokenRowsDataset::TokenRowsDataset(at::Tensor tokens, at::Tensor attentionMask,
                                   std::string description)
    : m_tokens(std::move(tokens)),
      m_attentionMask(std::move(attentionMask)),
      m_description(std::move(description)) {
  if (m_tokens.dim() != 2 || m_tokens.size(1) < 2 || at::isFloatingType(m_tokens.scalar_type())) {
    throw ShapeError("token rows: expected integer ids [rows, positions >= 2], got " +
                     shapeText(m_tokens.sizes()));
  }
  m_tokens = m_tokens.to(at::kLong);
  if (m_attentionMask.defined() && m_attentionMask.sizes() != m_tokens.sizes()) {
    throw ShapeError("token rows: attention mask " + shapeText(m_attentionMask.sizes()) +
                     " does not match the ids " + shapeText(m_tokens.sizes()));
  }
}

EvalBatch TokenRowsDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  EvalBatch b;
  b.tokens = m_tokens.narrow(0, begin, count);
  const auto T = m_tokens.size(1);
  b.lossMask = at::ones({count, T}, at::kBool);
  b.lossMask.select(1, 0).fill_(false);
  if (m_attentionMask.defined()) {
    b.attentionMask = m_attentionMask.narrow(0, begin, count).to(at::kLong);
    const auto valid = b.attentionMask.ne(0);
    b.lossMask.narrow(1, 1, T - 1).logical_and_(valid.narrow(1, 1, T - 1));
    b.lossMask.narrow(1, 1, T - 1).logical_and_(valid.narrow(1, 0, T - 1));
  }
  return b;
}

std::string TokenRowsDataset::describe() const {
  return m_description + ": " + std::to_string(size()) + " rows of " +
         std::to_string(m_tokens.size(1)) + " tokens";
}

}  // namespace cs::data
