// Synthetic datasets generated in memory from a seed.
#include "data/synthetic_datasets.h"

#include <torch/torch.h>

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
                                   std::uint64_t seed, std::int64_t firstToken)
    : m_halfLength(halfLength), m_vocab(vocab), m_seed(seed) {
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
  b.lossMask.narrow(1, m_halfLength + 1, m_halfLength - 1).fill_(true);
  return b;
}

std::string InductionDataset::describe() const {
  return "induction: " + std::to_string(size()) + " rows of 2 x " + std::to_string(m_halfLength) +
         " tokens (vocab " + std::to_string(m_vocab) + ", seed " + std::to_string(m_seed) + ")";
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
  m_tokens = at::stack({a, b, at::full_like(a, modulus)}, 1);
  m_targets = (a + b).remainder(modulus);
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
  return "modular addition mod " + std::to_string(m_modulus) + ": " + std::to_string(size()) +
         " rows (a, b, =), vocab " + std::to_string(m_modulus + 1);
}

}  // namespace cs::data
