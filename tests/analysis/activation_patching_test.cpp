// Activation patching against the invariants of ALGORITHMS.md section 4: patching all of
// resid_pre at layer 0 (or the final residual at the scored position) recovers the source run;
// identical inputs change nothing; batched locations equal one-by-one runs; one head's patch
// equals the same splice written by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "analysis/activation_patching.h"
#include "core/error.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

class ActivationPatching : public ::testing::Test {
 protected:
  void SetUp() override {
    model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
    clean.tokens = torch::tensor({{5, 17, 3, 99, 42, 7, 5, 17}}, torch::kLong);
    corrupted.tokens = torch::tensor({{5, 17, 3, 64, 42, 7, 5, 30}}, torch::kLong);
  }
  std::unique_ptr<models::Transformer> model;
  models::ModelInput clean, corrupted;
  PatchMetric metric{11, 12, -1};
};

TEST_F(ActivationPatching, WholeResidPreAtLayerZeroRecoversTheSourceRun) {
  PatchingOptions options;
  options.hookPatterns = {"blocks.0.hook_resid_pre"};
  options.perHead = false;
  options.locationsPerPass = 1;
  for (auto direction : {PatchDirection::Denoising, PatchDirection::Noising}) {
    options.direction = direction;
    const auto r = patchActivations(*model, clean, corrupted, metric, options);
    ASSERT_EQ(r.locations.size(), 1u);
    ASSERT_GT(std::abs(r.cleanMetric - r.corruptedMetric), 1e-4) << "inputs do not differ";
    const double source =
        direction == PatchDirection::Denoising ? r.cleanMetric : r.corruptedMetric;
    EXPECT_EQ(r.locations[0].metric, source) << r.direction;
    EXPECT_DOUBLE_EQ(r.locations[0].score, 1.0) << r.direction;
  }
}

TEST_F(ActivationPatching, FinalResidualAtTheScoredPositionScoresOne) {
  PatchingOptions options;
  options.hookPatterns = {"blocks." + std::to_string(model->config().nLayers - 1) +
                          ".hook_resid_post"};
  options.perPosition = true;
  const auto r = patchActivations(*model, clean, corrupted, metric, options);
  ASSERT_EQ(r.locations.size(), 8u);
  EXPECT_NEAR(r.locations.back().score, 1.0, 1e-5);
  EXPECT_EQ(r.locations.back().position, 7);
  // Earlier positions of the last residual cannot reach the last position's logits.
  for (std::size_t i = 0; i + 1 < r.locations.size(); ++i) {
    EXPECT_NEAR(r.locations[i].metric, r.corruptedMetric, 1e-5) << "position " << i;
  }
}

TEST_F(ActivationPatching, IdenticalInputsChangeNothing) {
  PatchingOptions options;
  options.hookPatterns = {"blocks.*.attn.hook_z", "blocks.*.hook_mlp_out"};
  options.perPosition = true;
  const auto r = patchActivations(*model, clean, clean, metric, options);
  const auto& c = model->config();
  EXPECT_EQ(r.locations.size(), static_cast<std::size_t>(c.nLayers * (c.nHeads[0] + 1) * 8));
  for (const auto& loc : r.locations) {
    EXPECT_NEAR(loc.metric, r.cleanMetric, 1e-5) << loc.hook << " head " << loc.head;
    EXPECT_EQ(loc.score, 0.0);
  }
}

TEST_F(ActivationPatching, BatchedLocationsEqualOneByOne) {
  PatchingOptions options;
  options.hookPatterns = {"blocks.*.attn.hook_z", "blocks.*.attn.hook_pattern"};
  options.locationsPerPass = 1;
  const auto single = patchActivations(*model, clean, corrupted, metric, options);
  options.locationsPerPass = 5;
  const auto batched = patchActivations(*model, clean, corrupted, metric, options);
  ASSERT_EQ(single.locations.size(), batched.locations.size());
  EXPECT_LT(batched.forwardPasses, single.forwardPasses);
  for (std::size_t i = 0; i < single.locations.size(); ++i) {
    EXPECT_EQ(single.locations[i].hook, batched.locations[i].hook);
    EXPECT_EQ(single.locations[i].head, batched.locations[i].head);
    EXPECT_NEAR(single.locations[i].metric, batched.locations[i].metric, 1e-5) << i;
  }
}

TEST_F(ActivationPatching, OneHeadEqualsTheSpliceByHand) {
  PatchingOptions options;
  options.hookPatterns = {"blocks.1.attn.hook_z"};
  options.heads = {2};
  const auto r = patchActivations(*model, clean, corrupted, metric, options);
  ASSERT_EQ(r.locations.size(), 1u);
  EXPECT_EQ(r.locations[0].head, 2);

  c10::InferenceMode guard;
  hooks::ActivationCache cache;
  models::runWithCache(*model, clean, {"blocks.1.attn.hook_z"}, cache);
  const auto source = cache.at("blocks.1.attn.hook_z");
  hooks::ScopedHooks scope(model->hooks());
  scope.add({hooks::HookKind::Z, 1}, [&](const at::Tensor& z, const hooks::HookPoint&) {
    auto out = z.clone();
    out.select(2, 2).copy_(source.select(2, 2));
    return std::optional<at::Tensor>(out);
  });
  const auto logits = model->forward(corrupted);
  const double byHand = (logits[0][7][11] - logits[0][7][12]).item<double>();
  EXPECT_NEAR(r.locations[0].metric, byHand, 1e-5);
  EXPECT_NEAR(r.locations[0].score,
              (byHand - r.corruptedMetric) / (r.cleanMetric - r.corruptedMetric), 1e-4);
}

TEST_F(ActivationPatching, RefusesMismatchedInputsAndBadRequests) {
  models::ModelInput shorter;
  shorter.tokens = torch::tensor({{5, 17, 3}}, torch::kLong);
  auto message =
      test::messageOf<ShapeError>([&] { patchActivations(*model, clean, shorter, metric); });
  EXPECT_NE(message.find("same length"), std::string::npos) << message;

  PatchingOptions options;
  options.heads = {99};
  message = test::messageOf<ConfigError>(
      [&] { patchActivations(*model, clean, corrupted, metric, options); });
  EXPECT_NE(message.find("head 99"), std::string::npos) << message;

  PatchMetric outside{model->config().dVocab, -1, -1};
  message =
      test::messageOf<ConfigError>([&] { patchActivations(*model, clean, corrupted, outside); });
  EXPECT_NE(message.find("outside"), std::string::npos) << message;
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

TEST(PatchingScore, NormalisesBothDirectionsAndGuardsTinySpans) {
  EXPECT_DOUBLE_EQ(patchingScore(3.0, 4.0, 2.0, PatchDirection::Denoising), 0.5);
  EXPECT_DOUBLE_EQ(patchingScore(2.0, 4.0, 2.0, PatchDirection::Noising), 1.0);
  EXPECT_DOUBLE_EQ(patchingScore(4.0, 4.0, 2.0, PatchDirection::Noising), 0.0);
  EXPECT_EQ(patchingScore(9.0, 1.0, 1.0 + 1e-9, PatchDirection::Denoising), 0.0);
}

}  // namespace
}  // namespace cs::analysis
