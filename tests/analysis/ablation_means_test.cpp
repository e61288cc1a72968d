// Ablation means against the mean of cached activations computed by hand: float64 sums over
// real positions only, so padding never enters a mean.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "analysis/ablation_means.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

TEST(AblationMeans, EqualTheMeanOfCachedActivationsOverRealPositions) {
  auto model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  // Rows of different lengths: padding must not enter the mean.
  struct Padded : data::Dataset {
    std::int64_t size() const override { return 2; }
    std::string describe() const override { return "two padded rows"; }
    data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
      data::EvalBatch b;
      b.tokens =
          torch::tensor({{4, 8, 15, 16}, {23, 42, 0, 0}}, torch::kLong).narrow(0, begin, count);
      b.attentionMask =
          torch::tensor({{1, 1, 1, 1}, {1, 1, 0, 0}}, torch::kLong).narrow(0, begin, count);
      return b;
    }
  } dataset;
  AblationMeansOptions options;
  options.batchSize = 2;
  const auto means = computeAblationMeans(*model, dataset, options);
  EXPECT_EQ(means.rows, 2);
  EXPECT_EQ(means.positions, 6);
  // By hand: each row alone (no padding), concatenate the real positions, average.
  hooks::ActivationCache a, b;
  c10::InferenceMode guard;
  const std::vector<std::string> hooks{"blocks.1.attn.hook_z", "blocks.1.mlp.hook_post"};
  models::ModelInput first, second;
  first.tokens = torch::tensor({{4, 8, 15, 16}}, torch::kLong);
  second.tokens = torch::tensor({{23, 42}}, torch::kLong);
  models::runWithCache(*model, first, hooks, a);
  models::runWithCache(*model, second, hooks, b);
  for (const auto* name : {"blocks.1.attn.hook_z", "blocks.1.mlp.hook_post"}) {
    const auto all = at::cat({a.at(name)[0], b.at(name)[0]}, 0).to(at::kDouble);
    const auto expected = all.mean(0).to(at::kFloat);
    const auto& got = std::string(name).find("hook_z") != std::string::npos
                          ? means.layers[1].z
                          : means.layers[1].mlpPost;
    EXPECT_LE(test::maxAbsDiff(got, expected), 1e-6) << name;
  }
}

TEST(AblationMeans, RefusesAnEmptyDatasetAndStopsWhenCancelled) {
  auto model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto dataset = data::openDataset("induction:rows=8,half=4,vocab=100,seed=1");
  AblationMeansOptions options;
  options.batchSize = 2;
  Progress progress;
  progress.cancel();
  EXPECT_THROW(computeAblationMeans(*model, *dataset, options, progress), Cancelled);
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
  options.batchSize = 0;
  const auto message =
      test::messageOf<ConfigError>([&] { computeAblationMeans(*model, *dataset, options); });
  EXPECT_NE(message.find("batch size"), std::string::npos) << message;
}

TEST(AblationMeans, CacheComputesOncePerModelDatasetAndLimit) {
  auto model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto dataset = data::openDataset("induction:rows=8,half=4,vocab=100,seed=1");
  const auto other = data::openDataset("induction:rows=8,half=4,vocab=100,seed=2");
  AblationMeansCache cache;
  AblationMeansOptions options;
  options.batchSize = 4;
  const auto& first = cache.get(*model, *dataset, options);
  // A cancelled progress proves the second call computes nothing.
  Progress cancelled;
  cancelled.cancel();
  EXPECT_EQ(&cache.get(*model, *dataset, options, cancelled), &first);
  EXPECT_THROW(cache.get(*model, *other, options, cancelled), Cancelled);
  const auto& second = cache.get(*model, *other, options);
  EXPECT_FALSE(second.layers[0].z.equal(first.layers[0].z));
  options.limit = 4;
  EXPECT_EQ(cache.get(*model, *dataset, options).rows, 4);
  EXPECT_EQ(cache.size(), 3u);
}

}  // namespace
}  // namespace cs::analysis
