// Token rows of one length whose target is the model's own prediction at the last position, so
// that analyses scored by accuracy (the Local Interaction Basis and its ablations) have targets
// the unmodified model meets exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::test {

class PredictedRows final : public data::Dataset {
 public:
  /// `tokens` [rows, length] (int64).
  PredictedRows(models::Transformer& model, at::Tensor tokens);
  std::int64_t size() const override { return m_tokens.size(0); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override { return "predicted rows"; }
  const at::Tensor& tokens() const { return m_tokens; }
  const at::Tensor& targets() const { return m_targets; }

 private:
  at::Tensor m_tokens, m_targets;
};

}  // namespace cs::test
