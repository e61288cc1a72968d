// Synthetic datasets generated in memory from a seed.
#include "data/synthetic_datasets.h"

#include "core/torch_api.h"

#include "core/error.h"

namespace cs::data {

std::int64_t clipRange(std::int64_t size, std::int64_t begin, std::int64_t count) {
  if (begin < 0 || count < 0 || begin > size) {
    throw ConfigError("rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                      ") are outside the dataset's " + std::to_string(size) + " rows");
  }
  return std::min(count, size - begin);
}

InductionDataset::InductionDataset(std::int64_t rows, std::int64_t halfLength, std::int64_t vocab,
                                   std::uint64_t seed, std::int64_t firstToken,
                                   InductionScoring scoring)
    : m_halfLength(halfLength), m_vocab(vocab), m_seed(seed), m_scoring(scoring) {
  if (rows <= 0 || halfLength < 2 || firstToken < 0 || vocab <= firstToken + 1) {
    throw ConfigError(
        "induction data needs rows > 0, half length >= 2 and a vocabulary of at "
        "least two tokens above the first token");
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto half = at::randint(firstToken, vocab, {rows, halfLength}, generator, at::kLong);
  m_tokens = at::cat({half, half}, 1);
}

EvalBatch InductionDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  EvalBatch b;
  b.tokens = m_tokens.narrow(0, begin, count);
  b.lossMask = at::zeros({count, 2 * m_halfLength}, at::kBool);
  const auto first = m_scoring == InductionScoring::RepeatedHalf ? m_halfLength + 1 : 1;
  b.lossMask.narrow(1, first, m_halfLength - 1).fill_(true);
  return b;
}

std::string InductionDataset::describe() const {
  return "induction: " + std::to_string(size()) + " rows of 2 x " + std::to_string(m_halfLength) +
         " tokens (vocab " + std::to_string(m_vocab) + ", seed " + std::to_string(m_seed) + ")" +
         (m_scoring == InductionScoring::FirstHalf ? ", scored on the first half" : "");
}

ModularAdditionDataset::ModularAdditionDataset(std::int64_t modulus, std::int64_t rows,
                                               std::uint64_t seed)
    : m_modulus(modulus) {
  if (modulus < 2 || modulus > 100000 || rows < 0) {
    throw ConfigError("modular addition needs a modulus in [2, 100000] and rows >= 0");
  }
  at::Tensor a, b;
  if (rows == 0) {
    const auto all = at::arange(modulus * modulus, at::kLong);
    a = all.div(modulus, "floor");
    b = all.remainder(modulus);
  } else {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    a = at::randint(0, modulus, {rows}, generator, at::kLong);
    b = at::randint(0, modulus, {rows}, generator, at::kLong);
  }
  setPairs(a, b);
}

ModularAdditionDataset::ModularAdditionDataset(std::int64_t modulus, ModularSplit split,
                                               std::int64_t trainPercent, std::uint64_t seed)
    : m_modulus(modulus) {
  if (modulus < 2 || modulus > 100000 || trainPercent < 1 || trainPercent > 99) {
    throw ConfigError(
        "a modular addition split needs a modulus in [2, 100000] and a train percentage in "
        "[1, 99]");
  }
  const auto pairs = modulus * modulus;
  const auto trainRows = pairs * trainPercent / 100;
  if (trainRows == 0 || trainRows == pairs) {
    throw ConfigError("a " + std::to_string(trainPercent) + "% split of the " +
                      std::to_string(pairs) + " pairs mod " + std::to_string(modulus) +
                      " leaves one side empty; use a larger modulus or another percentage");
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto order = at::randperm(pairs, generator, at::kLong);
  const auto chosen = split == ModularSplit::Train ? order.narrow(0, 0, trainRows)
                                                   : order.narrow(0, trainRows, pairs - trainRows);
  const auto index = std::get<0>(chosen.sort());
  setPairs(index.div(modulus, "floor"), index.remainder(modulus));
  m_part = std::string(split == ModularSplit::Train ? "train" : "test") + " split (" +
           std::to_string(trainPercent) + "% of pairs for training, seed " + std::to_string(seed) +
           ")";
}

void ModularAdditionDataset::setPairs(const at::Tensor& a, const at::Tensor& b) {
  m_tokens = at::stack({a, b, at::full_like(a, m_modulus)}, 1);
  m_targets = (a + b).remainder(m_modulus);
}

EvalBatch ModularAdditionDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  EvalBatch b;
  b.tokens = m_tokens.narrow(0, begin, count);
  b.targets = m_targets.narrow(0, begin, count);
  b.scorePositions = at::full({count}, 2, at::kLong);
  return b;
}

std::string ModularAdditionDataset::describe() const {
  return "modular addition mod " + std::to_string(m_modulus) + ": " +
         (m_part.empty() ? "" : m_part + ", ") + std::to_string(size()) +
         " rows (a, b, =), vocab " + std::to_string(m_modulus + 1);
}

}  // namespace cs::data
