// Seeded synthetic task sets that need no files: repeated random token sequences (induction)
// and modular addition. The same parameters and seed always give the same rows.
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace cs::data {

/// Which positions of an induction row are scored.
enum class InductionScoring {
  RepeatedHalf,  ///< the second half from its second token on (what induction predicts)
  FirstHalf,     ///< the first half from its second token on (unpredictable: chance level)
};

/// Rows of 2 x `halfLength` tokens drawn uniformly from [firstToken, vocab); the second half
/// repeats the first. Scored: next-token prediction inside the second half from its second
/// token on (the first repeated token cannot be predicted by induction), or inside the first
/// half for a chance-level baseline.
class InductionDataset final : public Dataset {
 public:
  InductionDataset(std::int64_t rows, std::int64_t halfLength, std::int64_t vocab,
                   std::uint64_t seed, std::int64_t firstToken = 0,
                   InductionScoring scoring = InductionScoring::RepeatedHalf);
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_tokens;  // [N, 2 L]
  std::int64_t m_halfLength;
  std::int64_t m_vocab;
  std::uint64_t m_seed;
  InductionScoring m_scoring;
};

/// Which pairs of modular addition a dataset holds.
enum class ModularSplit {
  Train,  ///< the first trainPercent % of a seeded permutation of the p^2 pairs
  Test,   ///< the other pairs
};

/// Rows (a, b, =) with a, b in [0, p) and the token "=" = p; target (a + b) mod p at the last
/// position. `rows` = 0 gives all p^2 pairs in order; else `rows` pairs drawn with the seed.
class ModularAdditionDataset final : public Dataset {
 public:
  ModularAdditionDataset(std::int64_t modulus, std::int64_t rows, std::uint64_t seed);
  /// A seeded train/test split of all p^2 pairs: the pairs are shuffled with `seed`, the first
  /// floor(p^2 trainPercent / 100) are the train split and the rest the test split. Each split
  /// lists its pairs in order (a p + b). trainPercent in [1, 99].
  ModularAdditionDataset(std::int64_t modulus, ModularSplit split, std::int64_t trainPercent,
                         std::uint64_t seed);
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  void setPairs(const at::Tensor& a, const at::Tensor& b);

  at::Tensor m_tokens;   // [N, 3]
  at::Tensor m_targets;  // [N]
  std::int64_t m_modulus;
  std::string m_part;  // "" (all or sampled pairs) or e.g. "train split (30% of pairs, seed 0)"
};

/// Checks a [begin, begin + count) request against a dataset of `size` rows and returns the
/// clipped count.
std::int64_t clipRange(std::int64_t size, std::int64_t begin, std::int64_t count);

}  // namespace cs::data
