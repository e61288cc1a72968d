// Rows of token ids held in memory, scored by next-token loss at every real position: the
// backing of text corpora once tokenized, and of token files.
#pragma once

#include "data/dataset.h"

namespace cs::data {

class TokenRowsDataset final : public Dataset {
 public:
  /// tokens [N, T] (T >= 2); attentionMask [N, T] optional, 1 = real token. Positions whose
  /// token or predecessor is padding are not scored.
  explicit TokenRowsDataset(at::Tensor tokens, at::Tensor attentionMask = {},
                            std::string description = "token rows");
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_tokens;         // [N, T]
  at::Tensor m_attentionMask;  // [N, T] or undefined
  std::string m_description;
};

}  // namespace cs::data
