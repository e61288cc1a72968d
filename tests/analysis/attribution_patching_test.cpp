// Attribution patching against ALGORITHMS.md section 4: exactly activation patching wherever
// everything downstream of the patched activation is linear (no norms, no attention after it,
// a ReLU kept in its linear part), equal to it to first order for a tiny perturbation of a
// nonlinear model, zero for identical inputs, and the same per pair whether pairs run alone or
// together; the comparison's correlations.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>

#include "analysis/activation_patching.h"
#include "analysis/attribution_patching.h"
#include "core/error.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

// The model with every norm removed and its GELU replaced by a ReLU shifted so far into its
// linear part that no input here leaves it (the output bias undoes the shift): affine
// downstream of every activation that no attention follows.
std::unique_ptr<models::Transformer> linearised(std::unique_ptr<models::Transformer> base) {
  auto config = base->config();
  config.norm = models::NormKind::None;
  config.activation = models::Activation::Relu;
  auto weights = base->weights();
  constexpr double kShift = 1e3;
  for (auto& b : weights.blocks) {
    b.mlp.b_in = b.mlp.b_in + kShift;
    b.mlp.b_out = b.mlp.b_out - kShift * b.mlp.W_out.sum(0);
  }
  return std::make_unique<models::Transformer>(config, weights);
}

PatchingPairs lmPairs(int64_t n) {
  PatchingPairs pairs;
  pairs.clean.tokens = test::tinyTokens(n, 6, 11);
  pairs.corrupted.tokens = test::tinyTokens(n, 6, 12);
  for (int64_t i = 0; i < n; ++i) pairs.metrics.push_back({(3 * i) % 16, (3 * i + 7) % 16, -1});
  return pairs;
}

PatchingPairs vitPairs(int64_t n, double corruption = 1.0) {
  PatchingPairs pairs;
  pairs.clean.pixels = test::tinyImages(n, 11);
  pairs.corrupted.pixels = pairs.clean.pixels + corruption * test::tinyImages(n, 12);
  pairs.metrics = {{0, 2, -1}};
  return pairs;
}

void expectSameLocations(const PatchingResult& estimate, const PatchingResult& exact,
                         double tolerance, const std::string& what) {
  ASSERT_EQ(estimate.locations.size(), exact.locations.size()) << what;
  ASSERT_FALSE(exact.locations.empty()) << what;
  EXPECT_EQ(estimate.method, "attribution");
  EXPECT_NEAR(estimate.cleanMetric, exact.cleanMetric, 1e-9) << what;
  EXPECT_NEAR(estimate.corruptedMetric, exact.corruptedMetric, 1e-9) << what;
  for (std::size_t i = 0; i < exact.locations.size(); ++i) {
    const auto& a = estimate.locations[i];
    const auto& b = exact.locations[i];
    ASSERT_EQ(a.hook, b.hook);
    EXPECT_NEAR(a.score, b.score, tolerance) << what << " " << a.hook << " head " << a.head
                                             << " pos " << a.position << " neuron " << a.neuron;
    // Plus float64 rounding: with clean and corrupted scoring alike the tolerance would be 0.
    EXPECT_NEAR(a.metric, b.metric,
                tolerance * std::abs(exact.cleanMetric - exact.corruptedMetric) + 1e-12)
        << what << " " << a.hook;
  }
}

TEST(AttributionPatching, EqualsActivationPatchingWhenEverythingDownstreamIsLinear) {
  auto lm = linearised(test::tinyLm(1, "gpt2", {.attentionFree = true}));
  auto vit = linearised(test::tinyVit(1, {.attentionFree = true}));
  const auto lmSet = lmPairs(3);
  const auto vitSet = vitPairs(2);
  for (auto direction : {PatchDirection::Denoising, PatchDirection::Noising}) {
    for (auto kind : {PatchKind::ResidPre, PatchKind::MlpOut, PatchKind::Neurons}) {
      auto options = patchingOptionsFor(kind);
      options.direction = direction;
      const auto what =
          patchKindName(kind) + (direction == PatchDirection::Noising ? " noising" : "");
      expectSameLocations(analyseAttributionPatching(*lm, lmSet, options),
                          analyseActivationPatching(*lm, lmSet, options), 1e-9, "lm " + what);
      expectSameLocations(analyseAttributionPatching(*vit, vitSet, options),
                          analyseActivationPatching(*vit, vitSet, options), 1e-9, "vit " + what);
    }
  }
  // Heads of the last layer, when its MLP is gone and no norm follows: z -> W_O -> unembed.
  auto heads = linearised(test::tinyLm(2));
  heads->setSkipped(1, models::Sublayer::Mlp, true);
  auto options = patchingOptionsFor(PatchKind::Heads);
  options.hookPatterns = {"blocks.1.attn.hook_z"};
  options.perPosition = true;
  const auto estimate = analyseAttributionPatching(*heads, lmSet, options);
  const auto exact = analyseActivationPatching(*heads, lmSet, options);
  expectSameLocations(estimate, exact, 1e-9, "last-layer heads");
  const auto c = comparePatching(estimate, exact);
  EXPECT_EQ(c.locations, 12);
  EXPECT_NEAR(c.pearson, 1.0, 1e-9);
  EXPECT_NEAR(c.spearman, 1.0, 1e-9);
  EXPECT_LT(c.maxAbsDifference, 1e-9);
}

TEST(AttributionPatching, AgreesToFirstOrderForATinyPerturbation) {
  auto vit = test::tinyVit(3);
  const auto pairs = vitPairs(2, 1e-5);
  for (auto kind :
       {PatchKind::Heads, PatchKind::ResidPre, PatchKind::AttnOut, PatchKind::Neurons}) {
    const auto options = patchingOptionsFor(kind);
    const auto estimate = analyseAttributionPatching(*vit, pairs, options);
    const auto exact = analyseActivationPatching(*vit, pairs, options);
    ASSERT_EQ(exact.scoredPairs, 2);
    // Scores are ratios of O(eps) changes; the second-order remainder leaves O(eps).
    expectSameLocations(estimate, exact, 1e-3, patchKindName(kind));
    EXPECT_GT(comparePatching(estimate, exact).pearson, 0.999) << patchKindName(kind);
  }
}

TEST(AttributionPatching, IdenticalInputsScoreZero) {
  auto lm = test::tinyLm(4);
  auto pairs = lmPairs(2);
  pairs.corrupted = pairs.clean;
  for (auto kind : {PatchKind::Heads, PatchKind::ResidPre, PatchKind::Neurons}) {
    const auto r = analyseAttributionPatching(*lm, pairs, patchingOptionsFor(kind));
    EXPECT_EQ(r.scoredPairs, 0);
    EXPECT_EQ(r.forwardPasses, 2);
    EXPECT_EQ(r.backwardPasses, 1);
    for (const auto& loc : r.locations) {
      EXPECT_EQ(loc.score, 0.0) << loc.hook;
      EXPECT_NEAR(loc.metric, r.cleanMetric, 1e-12) << loc.hook;
    }
  }
}

TEST(AttributionPatching, PairsTogetherEqualPairsAloneEvenInsideInferenceMode) {
  auto lm = test::tinyLm(5);
  const auto pairs = lmPairs(3);
  auto options = patchingOptionsFor(PatchKind::Heads);
  options.perPosition = true;
  // A caller in inference mode (the CLI, a viewer's worker) must still get gradients.
  c10::InferenceMode caller;
  const auto together = analyseAttributionPatching(*lm, pairs, options);
  ASSERT_EQ(together.locations.size(), 24u);
  std::vector<double> score(24, 0.0);
  for (int64_t n = 0; n < 3; ++n) {
    PatchingPairs one;
    one.clean.tokens = pairs.clean.tokens.narrow(0, n, 1);
    one.corrupted.tokens = pairs.corrupted.tokens.narrow(0, n, 1);
    one.metrics = {pairs.metrics[n]};
    const auto alone = analyseAttributionPatching(*lm, one, options);
    for (std::size_t i = 0; i < score.size(); ++i) score[i] += alone.locations[i].score / 3.0;
  }
  for (std::size_t i = 0; i < score.size(); ++i) {
    EXPECT_NEAR(together.locations[i].score, score[i], 1e-9) << i;
  }
  EXPECT_EQ(lm->hooks().attachedCount(), 0u);
}

TEST(PatchingComparison, CorrelatesScoresAndRanksWithTies) {
  PatchingResult a, b;
  const double x[] = {1.0, 2.0, 2.0, 5.0};
  const double y[] = {0.1, 0.3, 0.3, 10.0};  // monotone in x, far from linear
  for (int i = 0; i < 4; ++i) {
    a.locations.push_back({"blocks.0.attn.hook_z", 0, i, -1, -1, 0.0, x[i]});
    b.locations.push_back({"blocks.0.attn.hook_z", 0, i, -1, -1, 0.0, y[i]});
  }
  const auto c = comparePatching(a, b);
  EXPECT_EQ(c.locations, 4);
  EXPECT_NEAR(c.spearman, 1.0, 1e-12);
  EXPECT_LT(c.pearson, 0.99);
  EXPECT_GT(c.pearson, 0.5);
  EXPECT_NEAR(c.maxAbsDifference, 5.0, 1e-12);

  b.locations[1].head = 3;
  auto message = test::messageOf<ConfigError>([&] { comparePatching(a, b); });
  EXPECT_NE(message.find("location 1"), std::string::npos) << message;
  b.locations.pop_back();
  message = test::messageOf<ConfigError>([&] { comparePatching(a, b); });
  EXPECT_NE(message.find("same options"), std::string::npos) << message;
}

}  // namespace
}  // namespace cs::analysis
