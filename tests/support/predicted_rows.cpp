#include "support/predicted_rows.h"

#include "core/torch_api.h"

#include <algorithm>

namespace cs::test {

PredictedRows::PredictedRows(models::Transformer& model, at::Tensor tokens)
    : m_tokens(std::move(tokens)) {
  torch::NoGradGuard noGrad;
  m_targets = model.forward({m_tokens, {}, {}, {}}).select(1, m_tokens.size(1) - 1).argmax(-1);
}

data::EvalBatch PredictedRows::batch(std::int64_t begin, std::int64_t count) const {
  count = std::min(count, size() - begin);
  data::EvalBatch b;
  b.tokens = m_tokens.narrow(0, begin, count);
  b.targets = m_targets.narrow(0, begin, count);
  b.scorePositions = at::full({count}, m_tokens.size(1) - 1, at::kLong);
  return b;
}

}  // namespace cs::test
