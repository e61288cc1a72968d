// Synthetic datasets and dataset specs: shapes, the repeated half, targets of modular
// addition, determinism in the seed, and clear errors for bad specs and ranges.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "core/error.h"
#include "data/dataset_spec.h"
#include "data/synthetic_datasets.h"
#include "data/token_dataset.h"

namespace cs::data {
namespace {

TEST(InductionDataset, SecondHalfRepeatsTheFirstAndOnlyItIsScored) {
  const InductionDataset d(10, 6, 50, 3);
  EXPECT_EQ(d.size(), 10);
  const auto b = d.batch(2, 5);
  ASSERT_EQ(b.tokens.sizes(), (std::vector<int64_t>{5, 12}));
  EXPECT_TRUE(torch::equal(b.tokens.narrow(1, 0, 6), b.tokens.narrow(1, 6, 6)));
  EXPECT_TRUE(((b.tokens >= 0) & (b.tokens < 50)).all().item<bool>());
  // Scored targets: positions 7..11 (the first repeated token at 6 is not predictable).
  const auto expected = torch::arange(12).ge(7).unsqueeze(0).expand({5, 12});
  EXPECT_TRUE(torch::equal(b.lossMask, expected));
}

TEST(InductionDataset, SameSeedSameRowsOtherSeedOtherRows) {
  const InductionDataset a(4, 8, 100, 1), b(4, 8, 100, 1), c(4, 8, 100, 2);
  EXPECT_TRUE(torch::equal(a.batch(0, 4).tokens, b.batch(0, 4).tokens));
  EXPECT_FALSE(torch::equal(a.batch(0, 4).tokens, c.batch(0, 4).tokens));
}

TEST(ModularAdditionDataset, AllPairsWithCorrectTargets) {
  const ModularAdditionDataset d(7, 0, 0);
  ASSERT_EQ(d.size(), 49);
  const auto b = d.batch(0, 49);
  const auto a = b.tokens.select(1, 0), c = b.tokens.select(1, 1);
  EXPECT_TRUE(torch::equal(b.targets, (a + c).remainder(7)));
  EXPECT_TRUE(b.tokens.select(1, 2).eq(7).all().item<bool>());  // "=" is token p
  EXPECT_TRUE(b.scorePositions.eq(2).all().item<bool>());
  // Every pair exactly once.
  EXPECT_EQ(std::get<0>(at::_unique(a * 7 + c)).numel(), 49);
}

TEST(InductionDataset, FirstHalfScoringMarksTheUnrepeatedTokens) {
  const InductionDataset d(3, 6, 50, 3, 0, InductionScoring::FirstHalf);
  const auto b = d.batch(0, 3);
  // Targets at positions 1..5: predicted from the unrepeated prefix only.
  const auto positions = torch::arange(12);
  const auto expected = (positions.ge(1) & positions.lt(6)).unsqueeze(0).expand({3, 12});
  EXPECT_TRUE(torch::equal(b.lossMask, expected));
  EXPECT_TRUE(torch::equal(b.tokens, InductionDataset(3, 6, 50, 3).batch(0, 3).tokens));
  EXPECT_NE(d.describe().find("first half"), std::string::npos);
}

TEST(ModularAdditionDataset, TrainAndTestSplitsPartitionThePairs) {
  const ModularAdditionDataset train(113, ModularSplit::Train, 30, 4);
  const ModularAdditionDataset test(113, ModularSplit::Test, 30, 4);
  EXPECT_EQ(train.size(), 113 * 113 * 30 / 100);  // 3830
  EXPECT_EQ(train.size() + test.size(), 113 * 113);
  const auto a = train.batch(0, train.size()), b = test.batch(0, test.size());
  auto pairIndex = [](const EvalBatch& x) {
    return x.tokens.select(1, 0) * 113 + x.tokens.select(1, 1);
  };
  const auto all = std::get<0>(torch::cat({pairIndex(a), pairIndex(b)}).sort());
  EXPECT_TRUE(torch::equal(all, torch::arange(113 * 113)));  // disjoint and complete
  // Each split is listed in pair order; targets are right; the seed decides the split.
  EXPECT_TRUE(torch::equal(pairIndex(a), std::get<0>(pairIndex(a).sort())));
  EXPECT_TRUE(
      torch::equal(a.targets, (a.tokens.select(1, 0) + a.tokens.select(1, 1)).remainder(113)));
  const ModularAdditionDataset again(113, ModularSplit::Train, 30, 4);
  const ModularAdditionDataset other(113, ModularSplit::Train, 30, 5);
  EXPECT_TRUE(torch::equal(again.batch(0, again.size()).tokens, a.tokens));
  EXPECT_FALSE(torch::equal(other.batch(0, other.size()).tokens, a.tokens));
  EXPECT_THROW(ModularAdditionDataset(113, ModularSplit::Train, 0, 0), ConfigError);
  EXPECT_THROW(ModularAdditionDataset(113, ModularSplit::Train, 100, 0), ConfigError);
}

TEST(ModularAdditionDataset, SplitSpecs) {
  const auto train = openDataset("modadd-train:p=113,percent=30,seed=2");
  const auto test = openDataset("modadd-test:p=113,seed=2");
  EXPECT_EQ(train->size(), 3830);
  EXPECT_EQ(test->size(), 113 * 113 - 3830);
  EXPECT_NE(train->describe().find("train split"), std::string::npos) << train->describe();
  EXPECT_THROW(openDataset("modadd-train:rows=5"), ConfigError);
}

TEST(ModularAdditionDataset, BatchesClipAtTheEnd) {
  const ModularAdditionDataset d(5, 12, 9);
  EXPECT_EQ(d.batch(10, 8).tokens.size(0), 2);
  EXPECT_THROW(d.batch(13, 1), ConfigError);
  EXPECT_THROW(d.batch(-1, 1), ConfigError);
}

TEST(TokenRowsDataset, PaddingIsNeverScored) {
  const auto ids = torch::tensor({{5, 6, 7, 0}, {1, 2, 3, 4}}, torch::kLong);
  const auto mask = torch::tensor({{1, 1, 1, 0}, {1, 1, 1, 1}}, torch::kLong);
  const TokenRowsDataset d(ids, mask);
  const auto b = d.batch(0, 2);
  const auto expected = torch::tensor({{false, true, true, false}, {false, true, true, true}});
  EXPECT_TRUE(torch::equal(b.lossMask, expected));
}

TEST(DatasetSpec, GeneratorsWithParameters) {
  const auto induction = openDataset("induction:rows=7,half=5,vocab=30,seed=4");
  EXPECT_EQ(induction->size(), 7);
  EXPECT_EQ(induction->batch(0, 1).tokens.size(1), 10);
  const auto modadd = openDataset("modadd:p=11");
  EXPECT_EQ(modadd->size(), 121);
  EXPECT_NE(modadd->describe().find("mod 11"), std::string::npos);
}

TEST(DatasetSpec, BadSpecsNameTheProblem) {
  auto message = [](const std::string& spec) {
    try {
      openDataset(spec);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("nonsense").find("not known"), std::string::npos);
  EXPECT_NE(message("modadd:q=3").find("unknown key 'q'"), std::string::npos);
  EXPECT_NE(message("modadd:p=x").find("p='x'"), std::string::npos);
  EXPECT_NE(message("modadd:p").find("not key=value"), std::string::npos);
  EXPECT_NE(message("induction:half=1").find("half length"), std::string::npos);
}

}  // namespace
}  // namespace cs::data
