// Seeded synthetic task sets that need no files: repeated random token sequences (induction)
// and modular addition. The same parameters and seed always give the same rows.
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace cs::data {

/// Rows of 2 x `halfLength` tokens drawn uniformly from [firstToken, vocab); the second half
/// repeats the first. Scored: next-token prediction inside the second half from its second
/// token on (the first repeated token cannot be predicted by induction).
class InductionDataset final : public Dataset {
 public:
  InductionDataset(std::int64_t rows, std::int64_t halfLength, std::int64_t vocab,
                   std::uint64_t seed, std::int64_t firstToken = 0);
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_tokens;  // [N, 2 L]
  std::int64_t m_halfLength;
  std::int64_t m_vocab;
  std::uint64_t m_seed;
};

/// Rows (a, b, =) with a, b in [0, p) and the token "=" = p; target (a + b) mod p at the last
/// position. `rows` = 0 gives all p^2 pairs in order; else `rows` pairs drawn with the seed.
class ModularAdditionDataset final : public Dataset {
 public:
  ModularAdditionDataset(std::int64_t modulus, std::int64_t rows, std::uint64_t seed);
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_tokens;   // [N, 3]
  at::Tensor m_targets;  // [N]
  std::int64_t m_modulus;
};

/// Checks a [begin, begin + count) request against a dataset of `size` rows and returns the
/// clipped count.
std::int64_t clipRange(std::int64_t size, std::int64_t begin, std::int64_t count);

}  // namespace cs::data
