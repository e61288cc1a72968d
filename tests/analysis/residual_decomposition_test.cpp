// Residual path decomposition and DLA against the invariants of ALGORITHMS.md section 3 on the
// section-10 fixture (float64): completeness, heads + b_O = the attention path, the paths sum to
// h_L exactly, a model without blocks, zero paths, hand-computed DLA, RMSNorm, no norm, pooled
// classifiers and padding; path accuracy and greedy pruning on small datasets.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <numeric>

#include "analysis/residual_decomposition.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/layers.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using models::ModelInput;
using models::Transformer;

// A tiny model of another shape: the native format takes any config.
std::unique_ptr<Transformer> tinyVariant(models::TransformerConfig config, std::uint64_t seed = 0) {
  config.family = "circuitscope";
  config.modelType = "circuitscope";
  auto model = models::randomTransformer(config, seed, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  return model;
}

ModelInput inputFor(const Transformer& model, int64_t rows, uint64_t seed = 3) {
  ModelInput input;
  if (model.config().input == models::InputKind::Patches) {
    input.pixels = test::tinyImages(rows, seed);
  } else {
    input.tokens = test::tinyTokens(rows, 6, seed);
  }
  return input;
}

// u^T logits computed independently of the decomposition: from the model's own forward.
double directionOf(Transformer& model, const ModelInput& input, int64_t row, int64_t pos,
                   int64_t answer, int64_t foil) {
  torch::NoGradGuard noGrad;
  auto logits = model.forward(input)[row];
  if (logits.dim() == 2) logits = logits[pos];
  double v = logits[answer].item<double>();
  if (foil >= 0) v -= logits[foil].item<double>();
  return v;
}

struct Named {
  const char* name;
  std::unique_ptr<Transformer> (*make)();
};

std::unique_ptr<Transformer> makeVit() { return test::tinyVit(1); }
std::unique_ptr<Transformer> makeGpt2() { return test::tinyLm(2, "gpt2"); }
std::unique_ptr<Transformer> makeLlama() { return test::tinyLm(3, "llama"); }
std::unique_ptr<Transformer> makePooledVit() {
  auto config = test::tinyVit()->config();
  config.classToken = false;
  return tinyVariant(config, 4);
}
std::unique_ptr<Transformer> makeUnnormed() {
  auto config = test::tinyLm()->config();
  config.norm = models::NormKind::None;
  return tinyVariant(config, 5);
}

class EveryModel : public ::testing::TestWithParam<Named> {};

TEST_P(EveryModel, DlaPlusConstantIsTheDirectionLogit) {
  auto model = GetParam().make();
  const auto input = inputFor(*model, 3);
  const auto r = analyseResidualDecomposition(*model, input);
  ASSERT_EQ(r.dla.rows(), 3);
  ASSERT_EQ(r.dla.cols(), 2 * model->config().nLayers + 1);
  for (int64_t s = 0; s < 3; ++s) {
    const auto pos = std::max<int64_t>(r.positions[s], 0);
    const double expected = directionOf(*model, input, s, pos, r.answers[s], r.foils[s]);
    EXPECT_EQ(expected, r.directionLogit(s));
    const double total = r.dla.row(s).sum() + r.constant(s);
    // The model computes RMSNorm in float32 (models/layers.cpp, as Llama does), so its logits
    // carry float32 rounding of the normalised residual: measure that error against the size
    // of the terms, not against a logit difference that may be small.
    const double scale = model->config().norm == models::NormKind::RmsNorm
                             ? std::abs(r.constant(s)) + r.dla.row(s).cwiseAbs().sum()
                             : std::abs(expected);
    EXPECT_LT(std::abs(total - expected) / scale, 1e-6)
        << "example " << s << ": " << total << " vs " << expected;
  }
  EXPECT_LT(r.completenessError, 1e-6);
}

TEST_P(EveryModel, HeadsPlusOutputBiasAreTheAttentionPath) {
  auto model = GetParam().make();
  const auto r = analyseResidualDecomposition(*model, inputFor(*model, 2));
  ASSERT_EQ(r.headDla.size(), 2u);
  for (int64_t s = 0; s < 2; ++s) {
    for (int l = 0; l < model->config().nLayers; ++l) {
      const double heads =
          r.headDla[s].row(l).head(model->config().nHeads[l]).sum() + r.biasDla(s, l);
      const double path = r.dla(s, 1 + 2 * l);
      EXPECT_NEAR(heads, path, 1e-10 * (1 + std::abs(path))) << "example " << s << " layer " << l;
    }
  }
}

TEST_P(EveryModel, PathsAddUpToTheFinalResidualExactly) {
  auto model = GetParam().make();
  const auto input = inputFor(*model, 2);
  const auto r = analyseResidualDecomposition(*model, input);
  EXPECT_EQ(r.decompositionError, 0.0);
  // And against a separate forward pass's cache of the final residual.
  const auto sites = defaultReadSites(model->config(), input);
  const auto paths = captureResidualPaths(*model, input, sites, false);
  hooks::ActivationCache cache;
  const int L = model->config().nLayers;
  models::runWithCache(*model, input, {"blocks." + std::to_string(L - 1) + ".hook_resid_post"},
                       cache);
  auto final = cache.at(hooks::HookKind::ResidPost, L - 1);
  if (sites.positions.defined()) {
    std::vector<at::Tensor> rows;
    for (int64_t s = 0; s < sites.rows.size(0); ++s) {
      rows.push_back(final[sites.rows[s].item<int64_t>()][sites.positions[s].item<int64_t>()]);
    }
    final = at::stack(rows).unsqueeze(1);
  }
  auto sum = paths.embed.clone();
  for (int l = 0; l < L; ++l) sum = sum + paths.attn[l] + paths.mlp[l];
  EXPECT_TRUE(torch::equal(sum, final));
}

TEST_P(EveryModel, LastLensStepAndLeaveNothingOutAreTheModel) {
  auto model = GetParam().make();
  const auto r = analyseResidualDecomposition(*model, inputFor(*model, 2));
  ASSERT_TRUE(r.hasViews);
  const auto last = r.lens.cols() - 1;
  for (int64_t s = 0; s < 2; ++s) {
    EXPECT_NEAR(r.lens(s, last), r.directionLogit(s), 1e-9);
    EXPECT_EQ(r.lensTop(s, last), r.answers[s]);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixture, EveryModel,
                         ::testing::Values(Named{"vit", makeVit}, Named{"gpt2", makeGpt2},
                                           Named{"llama", makeLlama},
                                           Named{"pooledVit", makePooledVit},
                                           Named{"noNorm", makeUnnormed}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ResidualDecomposition, EmbeddingDlaMatchesAHandComputation) {
  auto model = test::tinyLm(7);
  ModelInput input{test::tinyTokens(1, 5, 8)};
  DecompositionOptions options;
  options.answers = {3};
  options.foils = {9};
  const auto r = analyseResidualDecomposition(*model, input, options);
  hooks::ActivationCache cache;
  models::runWithCache(*model, input, {"blocks.0.hook_resid_pre", "blocks.1.hook_resid_post"},
                       cache);
  const auto h0 = cache.at(hooks::HookKind::ResidPre, 0)[0][4];
  const auto hL = cache.at(hooks::HookKind::ResidPost, 1)[0][4];
  const double eps = model->config().normEps;
  const auto sigma = torch::sqrt(hL.var(-1, false) + eps);
  const auto& w = model->weights();
  const auto u = w.W_U.select(1, 3) - w.W_U.select(1, 9);
  const double hand = (u * (w.lnFinal.weight * (h0 - h0.mean()) / sigma)).sum().item<double>();
  EXPECT_NEAR(r.dla(0, 0), hand, 1e-12);
  const double constant = (u * w.lnFinal.bias).sum().item<double>() +
                          (w.b_U.defined() ? (w.b_U[3] - w.b_U[9]).item<double>() : 0.0);
  EXPECT_NEAR(r.constant(0), constant, 1e-12);
  EXPECT_EQ(r.answers[0], 3);
  EXPECT_EQ(r.foils[0], 9);
}

TEST(ResidualDecomposition, WithoutNormDlaIsTheUnembeddedPathAndSoloIsItsLogits) {
  auto model = makeUnnormed();
  ModelInput input{test::tinyTokens(1, 4, 2)};
  const auto r = analyseResidualDecomposition(*model, input);
  const auto paths =
      captureResidualPaths(*model, input, defaultReadSites(model->config(), input), false);
  const auto& w = model->weights();
  const auto u = w.W_U.select(1, r.answers[0]) - w.W_U.select(1, r.foils[0]);
  const auto mlp1 = paths.mlp[1][0][0];
  EXPECT_NEAR(r.dla(0, 4), (mlp1 * u).sum().item<double>(), 1e-12);
  auto logits = mlp1.matmul(w.W_U);
  if (w.b_U.defined()) logits = logits + w.b_U;
  EXPECT_NEAR(r.solo(0, 4), (logits[r.answers[0]] - logits[r.foils[0]]).item<double>(), 1e-12);
}

TEST(ResidualDecomposition, PooledClassifierReadsTheMeanOverPatches) {
  auto model = makePooledVit();
  const auto input = inputFor(*model, 2);
  const auto r = analyseResidualDecomposition(*model, input);
  EXPECT_EQ(r.readout, "mean over 4 patches");
  EXPECT_EQ(r.positions, (std::vector<int64_t>{-1, -1}));
  // The solo view of a path pools LN(c_p) over the patches, by hand:
  const auto paths =
      captureResidualPaths(*model, input, defaultReadSites(model->config(), input), false);
  const auto& w = model->weights();
  const auto normed = models::applyNorm(paths.attn[0][1], w.lnFinal, model->config().norm,
                                        model->config().normEps);  // [R, D]
  auto logits = normed.mean(0).matmul(w.W_U);
  if (w.b_U.defined()) logits = logits + w.b_U;
  EXPECT_NEAR(r.solo(1, 1), (logits[r.answers[1]] - logits[r.foils[1]]).item<double>(), 1e-12);
}

TEST(ResidualDecomposition, ModelWithoutBlocksHasOnePathWhoseSoloViewIsTheModel) {
  auto config = test::tinyLm()->config();
  config.nLayers = 0;
  config.nHeads.clear();
  config.nKvHeads.clear();
  config.dMlp.clear();
  auto model = tinyVariant(config, 9);
  const ModelInput input{test::tinyTokens(2, 5, 1)};
  const auto r = analyseResidualDecomposition(*model, input);
  ASSERT_EQ(r.paths.size(), 1u);
  EXPECT_EQ(r.paths[0].name, "embed");
  for (int64_t s = 0; s < 2; ++s) {
    EXPECT_NEAR(r.solo(s, 0), r.directionLogit(s), 1e-12);
    EXPECT_EQ(r.soloTop(s, 0), r.answers[s]);
    EXPECT_NEAR(r.dla(s, 0) + r.constant(s), r.directionLogit(s), 1e-12);
  }
  EXPECT_EQ(r.decompositionError, 0.0);
}

TEST(ResidualDecomposition, RemovingAZeroPathChangesNothing) {
  auto model = test::tinyLm(11);
  {
    torch::NoGradGuard noGrad;
    auto& attn = model->weights().blocks[0].attn;
    attn.W_O.zero_();  // c_attn,0 = b_O
    if (attn.b_O.defined()) attn.b_O.zero_();
  }
  model->setSkipped(1, models::Sublayer::Mlp, true);  // skipped: contributes nothing
  const auto r = analyseResidualDecomposition(*model, ModelInput{test::tinyTokens(3, 6, 4)});
  EXPECT_TRUE(r.paths[4].skipped);
  for (int64_t s = 0; s < 3; ++s) {
    for (int p : {1, 4}) {
      EXPECT_EQ(r.dla(s, p), 0.0) << r.paths[p].name;
      // Up to float64 rounding: the views are read out in one batch, and a BLAS may block a
      // GEMM differently per row count and CPU.
      EXPECT_NEAR(r.leaveOneOut(s, p), r.lens(s, r.lens.cols() - 1), 1e-12) << r.paths[p].name;
      EXPECT_EQ(r.leaveOneOutTop(s, p), r.answers[s]) << r.paths[p].name;
    }
    EXPECT_EQ(r.headDla[s](0, 0), 0.0);
    EXPECT_EQ(r.headDla[s](0, 1), 0.0);
  }
}

TEST(ResidualDecomposition, PaddedRowsReadTheirLastRealToken) {
  auto model = test::tinyLm(12);
  const auto tokens = test::tinyTokens(1, 4, 5);
  const auto plain = analyseResidualDecomposition(*model, ModelInput{tokens});
  const auto pad = at::zeros({1, 2}, at::kLong);
  ModelInput right{at::cat({tokens, pad}, 1), at::cat({at::ones({1, 4}, at::kLong), pad}, 1)};
  ModelInput left{at::cat({pad, tokens}, 1), at::cat({pad, at::ones({1, 4}, at::kLong)}, 1)};
  for (const auto* padded : {&right, &left}) {
    const auto r = analyseResidualDecomposition(*model, *padded);
    EXPECT_EQ(r.positions[0], padded == &right ? 3 : 5);
    EXPECT_EQ(r.answers, plain.answers);
    for (int p = 0; p < r.dla.cols(); ++p) EXPECT_NEAR(r.dla(0, p), plain.dla(0, p), 1e-10);
  }
}

TEST(ResidualDecomposition, AnswerOnlyDirectionHasNoFoil) {
  auto model = test::tinyVit(2);
  DecompositionOptions options;
  options.answerOnly = true;
  options.answers = {2};
  const auto input = inputFor(*model, 2);
  const auto r = analyseResidualDecomposition(*model, input, options);
  EXPECT_EQ(r.foils, (std::vector<int64_t>{-1, -1}));
  EXPECT_NEAR(r.dla.row(1).sum() + r.constant(1), directionOf(*model, input, 1, 0, 2, -1), 1e-9);
}

TEST(ResidualDecomposition, BadRequestsSayWhatIsWrong) {
  auto lm = test::tinyLm();
  const ModelInput input{test::tinyTokens(2, 4, 1)};
  DecompositionOptions options;
  options.answers = {16};
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*lm, input, options);
            }).find("answer 16 is outside the model's outputs [0, 16)"),
            std::string::npos);
  options.answers = {4};
  options.foils = {4};
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*lm, input, options);
            }).find("foil must differ"),
            std::string::npos);
  options = {};
  options.answers = {1, 2, 3};
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*lm, input, options);
            }).find("one answer for every example (2)"),
            std::string::npos);
  options = {};
  options.position = 4;
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*lm, input, options);
            }).find("past the input's 4 positions"),
            std::string::npos);
  ModelInput padded{input.tokens, torch::tensor({{1, 1, 1, 1}, {1, 1, 0, 0}}, torch::kLong)};
  options.position = 3;
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*lm, padded, options);
            }).find("padding in row 1"),
            std::string::npos);
  auto vit = test::tinyVit();
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseResidualDecomposition(*vit, inputFor(*vit, 1), options);
            }).find("read position is for language models"),
            std::string::npos);
}

// Class-labelled images for the fixture ViT.
class LabelledImages : public data::Dataset {
 public:
  LabelledImages(at::Tensor pixels, at::Tensor labels)
      : m_pixels(std::move(pixels)), m_labels(std::move(labels)) {}
  std::int64_t size() const override { return m_pixels.size(0); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
    data::EvalBatch b;
    count = std::min(count, size() - begin);
    b.pixels = m_pixels.narrow(0, begin, count);
    b.targets = m_labels.narrow(0, begin, count);
    return b;
  }
  std::string describe() const override { return "labelled tiny images"; }

 private:
  at::Tensor m_pixels, m_labels;
};

TEST(PathAccuracy, SumsAgreeWithTheModelAndZeroPathsChangeNothing) {
  auto model = test::tinyVit(5);
  model->setSkipped(0, models::Sublayer::Mlp, true);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const LabelledImages data(test::tinyImages(20, 6), at::randint(0, 3, {20}, generator, at::kLong));
  PathAccuracyOptions options;
  options.batchSize = 7;
  const auto r = analysePathAccuracy(*model, data, options);
  EXPECT_EQ(r.predictions, 20);
  EXPECT_DOUBLE_EQ(r.lensAccuracy(4), r.accuracy);
  EXPECT_DOUBLE_EQ(r.leaveOneOutAccuracy(2), r.accuracy);  // mlp 0 skipped
  EXPECT_EQ(r.leaveOneOutDelta(2), 0.0);
  EXPECT_NEAR(r.meanDla.sum() + r.meanConstant, r.meanDirectionLogit, 1e-9);
  // Batch size does not change the statistics.
  options.batchSize = 20;
  const auto whole = analysePathAccuracy(*model, data, options);
  EXPECT_NEAR((whole.meanDla - r.meanDla).cwiseAbs().maxCoeff(), 0.0, 1e-12);
  EXPECT_EQ(whole.soloAccuracy, r.soloAccuracy);
}

TEST(PathAccuracy, GreedyPruningOnlyRemovesPathsThatHelpAndStopsAtALocalOptimum) {
  auto model = test::tinyVit(6);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(4);
  const LabelledImages data(test::tinyImages(40, 7), at::randint(0, 3, {40}, generator, at::kLong));
  PathAccuracyOptions options;
  options.prune = true;
  const auto r = analysePathAccuracy(*model, data, options);
  ASSERT_TRUE(r.pruned);
  ASSERT_EQ(r.pruningAccuracy.size(), r.prunedPaths.size() + 1);
  EXPECT_DOUBLE_EQ(r.pruningAccuracy.front(), r.accuracy);
  for (std::size_t i = 1; i < r.pruningAccuracy.size(); ++i) {
    EXPECT_GT(r.pruningAccuracy[i], r.pruningAccuracy[i - 1]);
  }
  // Brute force: with the pruned paths gone, no further single removal raises accuracy.
  const auto batch = data.batch(0, 40);
  const ModelInput input{{}, {}, {}, batch.pixels};
  const auto paths =
      captureResidualPaths(*model, input, defaultReadSites(model->config(), input), false);
  const auto ordered = paths.ordered();
  std::vector<bool> kept(ordered.size(), true);
  for (int p : r.prunedPaths) kept[p] = false;
  auto accuracyWithout = [&](int extra) {
    auto sum = at::zeros_like(paths.embed);
    for (std::size_t p = 0; p < ordered.size(); ++p) {
      if (kept[p] && static_cast<int>(p) != extra) sum = sum + ordered[p];
    }
    return readoutSites(*model, sum).argmax(1).eq(batch.targets).sum().item<double>() / 40.0;
  };
  const double final = accuracyWithout(-1);
  EXPECT_NEAR(final, r.pruningAccuracy.back(), 1e-12);
  for (std::size_t p = 0; p < ordered.size(); ++p) {
    if (kept[p]) {
      EXPECT_LE(accuracyWithout(static_cast<int>(p)), final) << r.paths[p].name;
    }
  }
}

TEST(PathAccuracy, InductionModelLeansOnItsLastAttentionLayer) {
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:induction"));
  const auto data = data::openDataset("induction:rows=16,half=16,vocab=64,seed=1000");
  const auto r = analysePathAccuracy(*model, *data);
  EXPECT_GT(r.accuracy, 0.8);
  // Removing the second attention layer's direct path destroys induction; the embedding's
  // solo view cannot predict a repeated token.
  EXPECT_LT(r.leaveOneOutAccuracy(3), 0.2);
  EXPECT_LT(r.soloAccuracy(0), 0.2);
  EXPECT_GT(r.meanDla(3), r.meanDla(1));
  EXPECT_LT(r.leaveOneOutDelta(3), 0.0);
}

}  // namespace
}  // namespace cs::analysis
