// Relevance-based scores and pruning (ALGORITHMS.md section 8): scores are non-negative and add
// over examples; a neuron with zero outgoing weights scores 0 and pruning it changes nothing;
// rate 0 is the unpruned accuracy exactly; masks take the least relevant first; the bit table
// stays within its budget; on digits-vit relevance pruning keeps accuracy longer than random.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "analysis/evaluation.h"
#include "analysis/mask_evaluation.h"
#include "analysis/relevance.h"
#include "analysis/relevance_pruning.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "support/message_of.h"
#include "support/rows_dataset.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

test::RowsDataset images(std::int64_t n, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed + 100);
  const auto labels = at::randint(0, 3, {n}, generator, at::TensorOptions().dtype(at::kLong));
  return test::RowsDataset(test::tinyImages(n, seed), labels);
}

RelevanceScoreOptions allRows() {
  RelevanceScoreOptions o;
  o.perClass = 0;
  o.batchSize = 3;
  return o;
}

TEST(RelevanceScores, AreNonNegativeAndAddUpOverExamples) {
  auto model = test::tinyVit(2);
  const auto all = images(8, 1);
  const auto batch = all.batch(0, 8);
  const test::RowsDataset first(batch.pixels.narrow(0, 0, 5), batch.targets.narrow(0, 0, 5));
  const test::RowsDataset rest(batch.pixels.narrow(0, 5, 3), batch.targets.narrow(0, 5, 3));
  const auto whole = scoreByRelevance(*model, all, allRows());
  const auto a = scoreByRelevance(*model, first, allRows());
  const auto b = scoreByRelevance(*model, rest, allRows());
  EXPECT_EQ(whole.examples, 8);
  EXPECT_GE(whole.neurons.minCoeff(), 0.0);
  EXPECT_GE(whole.heads.minCoeff(), 0.0);
  EXPECT_GT(whole.neurons.maxCoeff(), 0.0);
  EXPECT_LT((whole.neurons - a.neurons - b.neurons).cwiseAbs().maxCoeff(),
            1e-9 * whole.neurons.maxCoeff());
  EXPECT_LT((whole.heads - a.heads - b.heads).cwiseAbs().maxCoeff(), 1e-9 * whole.heads.maxCoeff());
  ASSERT_EQ(whole.linear.size(), 8u);
  EXPECT_EQ(whole.linear[0].name, "blocks.0.qkv");
  EXPECT_EQ(whole.linear[7].name, "blocks.1.fc2");
  // Layer contribution is a mean: the whole set's is the example-weighted mean of the parts'.
  for (std::size_t i = 0; i < whole.linear.size(); ++i) {
    const double mixed = (5 * a.linear[i].contribution + 3 * b.linear[i].contribution) / 8;
    EXPECT_NEAR(whole.linear[i].contribution, mixed, 1e-9 * mixed) << whole.linear[i].name;
  }
}

TEST(RelevanceScores, LayerContributionsDifferAcrossLayersThoughResidualRelevanceIsConstant) {
  auto model = test::tinyVit(6, {.zeroBiases = true});
  const auto s = scoreByRelevance(*model, images(6, 2), allRows());
  double sum = 0.0, lo = INFINITY, hi = 0.0;
  for (const auto& row : s.linear) {
    sum += row.normalized;
    lo = std::min(lo, row.contribution);
    hi = std::max(hi, row.contribution);
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_GT(hi, 1.5 * lo);
  // The residual stream, by contrast, carries the same signed total at every layer (CP-LRP).
  RelevanceOptions o;
  o.rules = models::RelevanceRules{};
  o.rules->attention = models::AttentionRule::CpLrp;
  const auto r = computeRelevance(*model, {{}, {}, {}, test::tinyImages(1, 3)}, o);
  for (Eigen::Index l = 1; l < r.residualTotals.size(); ++l) {
    EXPECT_NEAR(r.residualTotals[l], r.residualTotals[0], 1e-9 * std::abs(r.targetLogit));
  }
}

TEST(RelevanceScores, NeuronWithZeroOutgoingWeightsScoresZeroAndPruningItChangesNothing) {
  auto model = test::tinyVit(3);
  {
    torch::NoGradGuard noGrad;
    model->weights().blocks[0].mlp.W_out[5].zero_();
  }
  const auto data = images(6, 4);
  const auto s = scoreByRelevance(*model, data, allRows());
  EXPECT_EQ(s.neurons(0, 5), 0.0);
  EXPECT_GT(s.neurons(0, 4), 0.0);
  hooks::MaskSet masks;
  masks.set({hooks::MaskComponent::Neuron, 0, 5});
  torch::NoGradGuard noGrad;
  const models::ModelInput input{{}, {}, {}, data.batch(0, 6).pixels};
  const auto plain = model->forward(input);
  models::AppliedMasks applied(*model, masks, nullptr);
  EXPECT_TRUE(at::equal(model->forward(input), plain));
}

TEST(RelevanceScores, PerClassLimitAndClassFilterChooseTheExamples) {
  auto model = test::tinyVit(2);
  const auto data = images(12, 5);
  RelevanceScoreOptions o;
  o.perClass = 2;
  o.batchSize = 5;
  const auto s = scoreByRelevance(*model, data, o);
  const auto labels = data.batch(0, 12).targets;
  std::int64_t expected = 0;
  for (int c = 0; c < 3; ++c)
    expected += std::min<std::int64_t>(2, (labels == c).sum().item<std::int64_t>());
  EXPECT_EQ(s.examples, expected);
  o.classes = {1};
  const auto one = scoreByRelevance(*model, data, o);
  EXPECT_EQ(one.classes, std::vector<std::int64_t>{1});
  o.classes = {7};
  EXPECT_NE(
      test::messageOf<ConfigError>([&] { scoreByRelevance(*model, data, o); }).find("no example"),
      std::string::npos);
}

TEST(PruningMask, RemovesTheLeastRelevantFirstAndSkipsMissingComponents) {
  Eigen::MatrixXd scores(2, 3);
  scores << 0.5, 0.1, NAN, 0.3, 0.2, 0.9;
  const auto two = pruningMask(scores, PruneComponent::Heads, 0.5);  // floor(0.5 * 5) = 2
  ASSERT_EQ(two.size(), 2u);
  EXPECT_TRUE(two.find(hooks::MaskComponent::Head, 0, 1).has_value());
  EXPECT_TRUE(two.find(hooks::MaskComponent::Head, 1, 1).has_value());
  const auto most =
      pruningMask(scores, PruneComponent::Neurons, 0.2, PruneOrder::MostRelevantFirst);
  ASSERT_EQ(most.size(), 1u);
  EXPECT_TRUE(most.find(hooks::MaskComponent::Neuron, 1, 2).has_value());
  EXPECT_TRUE(pruningMask(scores, PruneComponent::Heads, 0.0).empty());
  EXPECT_EQ(pruningMask(scores, PruneComponent::Heads, 1.0).size(), 5u);
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              pruningMask(scores, PruneComponent::Heads, 1.5);
            }).find("outside [0, 1]"),
            std::string::npos);
}

TEST(PruningCurves, RateZeroIsTheUnprunedAccuracyExactly) {
  auto model = test::tinyVit(1);
  const auto data = images(9, 6);
  const auto s = scoreByRelevance(*model, data, allRows());
  RelevancePruningOptions o;
  o.rates = {0.0, 0.25, 0.5, 1.0};
  o.component = PruneComponent::Heads;
  const auto r = relevancePruningCurves(*model, s, data, o);
  const double plain = evaluate(*model, data).accuracy;
  EXPECT_EQ(r.unprunedAccuracy, plain);
  ASSERT_EQ(r.curves.size(), 3u);
  for (const auto& curve : r.curves) {
    EXPECT_EQ(curve.accuracy[0], plain) << curve.order;
    EXPECT_EQ(curve.pruned, (std::vector<std::int64_t>{0, 1, 2, 4})) << curve.order;
    EXPECT_NEAR(curve.auc, curveArea(curve.rates, curve.accuracy), 1e-15);
  }
  // Every head gone: all orders end at the same model.
  EXPECT_EQ(r.curves[0].accuracy.back(), r.curves[1].accuracy.back());
  EXPECT_EQ(r.total, 4);
}

TEST(PruningCurves, CurveAreaIsTheTrapezoidRule) {
  EXPECT_DOUBLE_EQ(curveArea({0.0, 0.5, 1.0}, {1.0, 1.0, 0.0}), 0.75);
  EXPECT_DOUBLE_EQ(curveArea({0.0, 0.95}, {0.8, 0.8}), 0.76);
}

TEST(BitAllocation, RaisesTheMostContributingLayersWithinTheBudget) {
  RelevanceScores s;
  s.linear = {{"a", 0, 100, 0.0, 0.1}, {"b", 0, 100, 0.0, 0.6}, {"c", 1, 200, 0.0, 0.3}};
  const auto a = allocateBits(s, {4, 6, 8}, 6.0);
  EXPECT_LE(a.meanBits, 6.0 + 1e-12);
  EXPECT_EQ(a.rows[1].bits, 8);  // the largest contribution first
  EXPECT_EQ(a.rows[2].bits, 6);  // 100*8 + 200*6 + 100*4 = 2400 = 6 * 400
  EXPECT_EQ(a.rows[0].bits, 4);
  EXPECT_DOUBLE_EQ(a.meanBits, 6.0);
  const auto low = allocateBits(s, {4, 6, 8}, 4.0);
  for (const auto& row : low.rows) EXPECT_EQ(row.bits, 4);
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              allocateBits(s, {8, 4}, 6.0);
            }).find("ascending"),
            std::string::npos);
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              allocateBits(s, {4, 8}, 3.0);
            }).find("below"),
            std::string::npos);
}

TEST(RelevancePruningKnownAnswer, DigitsVitKeepsAccuracyLongerThanRandomPruning) {
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:digits-vit"));
  const auto reference = data::openDataset("digits-train");
  const auto test = data::openDataset("digits-test");
  RelevanceScoreOptions so;
  so.perClass = 10;
  const auto scores = scoreByRelevance(*model, *reference, so);
  EXPECT_EQ(scores.examples, 100);
  RelevancePruningOptions po;
  po.eval.batchSize = 128;
  const auto r = relevancePruningCurves(*model, scores, *test, po);
  ASSERT_EQ(r.curves.size(), 3u);
  std::printf(
      "digits-vit neuron pruning AUC: relevance %.4f, random %.4f, magnitude %.4f "
      "(unpruned accuracy %.4f)\n",
      r.curves[0].auc, r.curves[1].auc, r.curves[2].auc, r.unprunedAccuracy);
  EXPECT_GT(r.curves[0].auc, r.curves[1].auc);
}

}  // namespace
}  // namespace cs::analysis
