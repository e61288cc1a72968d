// Activation patching against the invariants of ALGORITHMS.md section 4: patching all of
// resid_pre at layer 0 (or the final residual at the scored position) recovers the source run;
// identical inputs change nothing; batched locations equal one-by-one runs; one head's (one
// neuron's) patch equals the same splice written by hand; several pairs average their scores;
// and on the built-in induction model the head the demo finds ranks among the top two.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <algorithm>
#include <cmath>

#include "analysis/activation_patching.h"
#include "analysis/head_ablation.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

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
    // Equal up to float32 rounding: the patched run is batched differently from the source run,
    // and a BLAS may block a GEMM differently for another batch size (MKL does; OpenBLAS not).
    EXPECT_NEAR(r.locations[0].metric, source, 1e-4) << r.direction;
    EXPECT_NEAR(r.locations[0].score, 1.0, 1e-4) << r.direction;
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

// The section-10 fixtures in float64, several pairs with a metric of their own each.
PatchingPairs tinyLmPairs(int64_t n, int64_t length = 6) {
  PatchingPairs pairs;
  pairs.clean.tokens = test::tinyTokens(n, length, 1);
  pairs.corrupted.tokens = test::tinyTokens(n, length, 2);
  for (int64_t i = 0; i < n; ++i) pairs.metrics.push_back({i % 16, (i + 5) % 16, -1});
  return pairs;
}

PatchingPairs tinyVitPairs(int64_t n) {
  PatchingPairs pairs;
  pairs.clean.pixels = test::tinyImages(n, 1);
  pairs.corrupted.pixels = test::tinyImages(n, 2);
  pairs.metrics = {{1, 2, -1}};
  return pairs;
}

const PatchKind kKinds[] = {PatchKind::Heads, PatchKind::ResidPre, PatchKind::AttnOut,
                            PatchKind::MlpOut, PatchKind::Neurons};

TEST(ActivationPatchingKinds, IdenticalInputsScoreZeroEverywhere) {
  auto lm = test::tinyLm(1);
  auto vit = test::tinyVit(1);
  auto lmPairs = tinyLmPairs(3);
  lmPairs.corrupted = lmPairs.clean;
  auto vitPairs = tinyVitPairs(2);
  vitPairs.corrupted = vitPairs.clean;
  for (auto* setup : {&lmPairs, &vitPairs}) {
    auto& model = setup == &lmPairs ? *lm : *vit;
    for (auto kind : kKinds) {
      const auto r = analyseActivationPatching(model, *setup, patchingOptionsFor(kind));
      ASSERT_FALSE(r.locations.empty()) << patchKindName(kind);
      EXPECT_EQ(r.scoredPairs, 0);
      for (const auto& loc : r.locations) {
        EXPECT_NEAR(loc.metric, r.cleanMetric, 1e-12) << loc.hook << " " << patchKindName(kind);
        EXPECT_EQ(loc.score, 0.0);
      }
    }
  }
}

TEST(ActivationPatchingKinds, FirstAndLastResidualsRecoverTheSourceRun) {
  auto lm = test::tinyLm(2);
  auto vit = test::tinyVit(2);
  const auto lmPairs = tinyLmPairs(3);
  const auto vitPairs = tinyVitPairs(3);
  for (auto direction : {PatchDirection::Denoising, PatchDirection::Noising}) {
    for (auto* setup : {&lmPairs, &vitPairs}) {
      auto& model = setup == &lmPairs ? *lm : *vit;
      PatchingOptions options;
      options.direction = direction;
      options.perHead = false;
      options.hookPatterns = {"blocks.0.hook_resid_pre"};
      auto r = analyseActivationPatching(model, *setup, options);
      ASSERT_EQ(r.scoredPairs, 3);
      ASSERT_EQ(r.locations.size(), 1u);
      EXPECT_NEAR(r.locations[0].score, 1.0, 1e-9);

      // The final residual: only the scored position (LM: the last; ViT: the class token).
      options.hookPatterns = {"blocks.1.hook_resid_post"};
      options.perPosition = true;
      r = analyseActivationPatching(model, *setup, options);
      const bool isLm = setup == &lmPairs;
      const auto scored = isLm ? r.locations.size() - 1 : 0;
      for (std::size_t i = 0; i < r.locations.size(); ++i) {
        EXPECT_NEAR(r.locations[i].score, i == scored ? 1.0 : 0.0, 1e-9) << "position " << i;
      }
    }
  }
}

TEST(ActivationPatchingKinds, GridsHaveTheHeatmapShapes) {
  auto model = test::tinyLm(3);
  const auto pairs = tinyLmPairs(2);
  struct Expected {
    PatchingOptions options;
    std::string rows, columns;
    Eigen::Index nRows, nColumns;
  };
  auto headsByPosition = patchingOptionsFor(PatchKind::Heads);
  headsByPosition.perPosition = true;
  const Expected cases[] = {
      {patchingOptionsFor(PatchKind::Heads), "layer", "head", 2, 2},
      {patchingOptionsFor(PatchKind::ResidPre), "layer", "pos", 2, 6},
      {patchingOptionsFor(PatchKind::MlpOut), "layer", "pos", 2, 6},
      {patchingOptionsFor(PatchKind::Neurons), "layer", "neuron", 2, 16},
      {headsByPosition, "layer,head", "pos", 4, 6},
  };
  for (const auto& c : cases) {
    const auto r = analyseActivationPatching(*model, pairs, c.options);
    ASSERT_EQ(r.grids.size(), 1u);
    const auto& grid = r.grids[0];
    EXPECT_EQ(grid.hook, c.options.hookPatterns[0]);
    EXPECT_EQ(grid.rows, c.rows);
    EXPECT_EQ(grid.columns, c.columns);
    ASSERT_EQ(grid.score.rows(), c.nRows) << grid.hook;
    ASSERT_EQ(grid.score.cols(), c.nColumns) << grid.hook;
    ASSERT_EQ(static_cast<Eigen::Index>(grid.rowLabels.size()), c.nRows);
    EXPECT_EQ(static_cast<Eigen::Index>(r.locations.size()), c.nRows * c.nColumns);
    // Row-major over the locations: each cell holds its location's score.
    for (std::size_t i = 0; i < r.locations.size(); ++i) {
      const auto& loc = r.locations[i];
      const auto row = c.rows == "layer" ? loc.layer : loc.layer * 2 + loc.head;
      const auto col = c.columns == "pos"    ? loc.position
                       : c.columns == "head" ? loc.head
                                             : loc.neuron;
      EXPECT_EQ(grid.score(row, col), loc.score) << i;
    }
  }
  EXPECT_EQ(analyseActivationPatching(*model, pairs, headsByPosition).grids[0].rowLabels[3],
            "L1H1");
}

TEST(ActivationPatchingKinds, EachNeuronEqualsTheSpliceByHand) {
  auto model = test::tinyLm(4);
  const auto pairs = tinyLmPairs(1);
  auto options = patchingOptionsFor(PatchKind::Neurons);
  options.locationsPerPass = 7;
  const auto r = analyseActivationPatching(*model, pairs, options);
  ASSERT_EQ(r.locations.size(), 32u);

  c10::InferenceMode guard;
  hooks::ActivationCache cache;
  models::runWithCache(*model, pairs.clean, {"blocks.*.mlp.hook_post"}, cache);
  for (const auto& loc : r.locations) {
    const auto& source = cache.at(loc.hook);
    hooks::ScopedHooks scope(model->hooks());
    scope.add({hooks::HookKind::MlpPost, loc.layer},
              [&](const at::Tensor& post, const hooks::HookPoint&) {
                auto out = post.clone();
                out.select(2, loc.neuron).copy_(source.select(2, loc.neuron));
                return std::optional<at::Tensor>(out);
              });
    const auto logits = model->forward(pairs.corrupted);
    const double byHand = (logits[0][5][0] - logits[0][5][5]).item<double>();
    EXPECT_NEAR(loc.metric, byHand, 1e-12) << "layer " << loc.layer << " neuron " << loc.neuron;
  }
}

TEST(ActivationPatchingKinds, SeveralPairsAverageTheirOwnScoresWhateverTheBatching) {
  auto model = test::tinyLm(5);
  const auto pairs = tinyLmPairs(3);
  auto options = patchingOptionsFor(PatchKind::Heads);
  options.perPosition = true;
  options.locationsPerPass = 1;
  const auto oneByOne = analyseActivationPatching(*model, pairs, options);
  options.locationsPerPass = 10;
  const auto batched = analyseActivationPatching(*model, pairs, options);
  EXPECT_EQ(oneByOne.forwardPasses, 2 + 24);
  EXPECT_EQ(batched.forwardPasses, 2 + 3);
  ASSERT_EQ(batched.scoredPairs, 3);
  std::vector<PatchingResult> single;
  for (int64_t n = 0; n < 3; ++n) {
    PatchingPairs one;
    one.clean.tokens = pairs.clean.tokens.narrow(0, n, 1);
    one.corrupted.tokens = pairs.corrupted.tokens.narrow(0, n, 1);
    one.metrics = {pairs.metrics[n]};
    single.push_back(analyseActivationPatching(*model, one, options));
    EXPECT_NEAR(batched.cleanMetrics[n], single.back().cleanMetric, 1e-12);
  }
  ASSERT_EQ(batched.locations.size(), 24u);
  for (std::size_t i = 0; i < batched.locations.size(); ++i) {
    double score = 0.0, metric = 0.0;
    for (const auto& s : single) {
      score += s.locations[i].score / 3.0;
      metric += s.locations[i].metric / 3.0;
    }
    EXPECT_NEAR(batched.locations[i].score, score, 1e-9) << i;
    EXPECT_NEAR(batched.locations[i].metric, metric, 1e-9) << i;
    EXPECT_NEAR(oneByOne.locations[i].metric, batched.locations[i].metric, 1e-12) << i;
  }
}

TEST(ActivationPatchingKinds, RefusesPairsThatDoNotMatch) {
  auto model = test::tinyLm(6);
  auto pairs = tinyLmPairs(3);
  auto bad = pairs;
  bad.corrupted.tokens = bad.corrupted.tokens.narrow(0, 0, 2);
  auto message = test::messageOf<ShapeError>([&] { analyseActivationPatching(*model, bad); });
  EXPECT_NE(message.find("row by row"), std::string::npos) << message;
  bad = pairs;
  bad.metrics.pop_back();
  message = test::messageOf<ConfigError>([&] { analyseActivationPatching(*model, bad); });
  EXPECT_NE(message.find("one metric per pair"), std::string::npos) << message;
  auto options = patchingOptionsFor(PatchKind::Neurons);
  options.neurons = {99};
  message =
      test::messageOf<ConfigError>([&] { analyseActivationPatching(*model, pairs, options); });
  EXPECT_NE(message.find("neuron 99"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([] { parsePatchKind("everything"); });
  EXPECT_NE(message.find("attn-out"), std::string::npos) << message;
  EXPECT_EQ(parsePatchKind("mlp-out"), PatchKind::MlpOut);
}

// Known answer (issue 7). The demo picks the head whose zero ablation costs the most induction
// accuracy (on this model the previous-token head L0H0, far ahead of all others). Pairs:
// clean = A A, corrupted = B A with A, B random halves of 16 tokens, so only the clean run has
// an earlier copy to induct from; the metric is the logit of the correct next token A[k + 1] at
// position 16 + k of the repeat, over eight pairs. Ablation asks what the model needs, which is
// noising (corrupted into clean): it must rank the demo's head among the top two. Denoising
// asks what restores the answer on its own: a previous-token head cannot (the first half's
// values are still B), a layer-1 induction head can, so its top head must sit in layer 1.
TEST(ActivationPatchingInduction, RanksTheDemosHeadAmongTheTopTwo) {
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:induction"));
  const auto dataset = data::openDataset("induction:rows=1024,half=16,vocab=64,seed=1000");
  HeadAblationOptions ablation;
  ablation.eval = {128, 128};
  const auto ablated = ablateEachHead(*model, *dataset, ablation);
  const auto& config = model->config();
  int hurtL = 0, hurtH = 0;
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) {
      if (ablated.accuracy(l, h) < ablated.accuracy(hurtL, hurtH)) hurtL = l, hurtH = h;
    }
  }

  const int64_t N = 8, half = 16;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const auto a = at::randint(0, config.dVocab, {N, half}, generator, longs);
  const auto b = at::randint(0, config.dVocab, {N, half}, generator, longs);
  PatchingPairs pairs;
  pairs.clean.tokens = at::cat({a, a}, 1);
  pairs.corrupted.tokens = at::cat({b, a}, 1);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t k = 4 + n;
    pairs.metrics.push_back({a[n][k + 1].item<int64_t>(), -1, half + k});
  }
  auto options = patchingOptionsFor(PatchKind::Heads);
  options.direction = PatchDirection::Noising;
  const auto noising = analyseActivationPatching(*model, pairs, options);
  ASSERT_GT(noising.cleanMetric, noising.corruptedMetric + 1.0) << "the clean runs should induct";
  const auto& necessary = noising.grids.at(0).score;
  int better = 0;
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) better += necessary(l, h) > necessary(hurtL, hurtH);
  }
  EXPECT_LT(better, 2) << "the demo's head L" << hurtL << "H" << hurtH << "\n" << necessary;

  options.direction = PatchDirection::Denoising;
  const Eigen::MatrixXd sufficient =
      analyseActivationPatching(*model, pairs, options).grids.at(0).score;
  Eigen::Index topLayer = 0, topHead = 0;
  sufficient.maxCoeff(&topLayer, &topHead);
  EXPECT_EQ(topLayer, 1) << sufficient;
}

TEST(PatchingScore, NormalisesBothDirectionsAndGuardsTinySpans) {
  EXPECT_DOUBLE_EQ(patchingScore(3.0, 4.0, 2.0, PatchDirection::Denoising), 0.5);
  EXPECT_DOUBLE_EQ(patchingScore(2.0, 4.0, 2.0, PatchDirection::Noising), 1.0);
  EXPECT_DOUBLE_EQ(patchingScore(4.0, 4.0, 2.0, PatchDirection::Noising), 0.0);
  EXPECT_EQ(patchingScore(9.0, 1.0, 1.0 + 1e-9, PatchDirection::Denoising), 0.0);
}

}  // namespace
}  // namespace cs::analysis
