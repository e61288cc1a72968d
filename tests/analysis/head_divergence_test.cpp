// Head divergence and reinforcement against the invariants of ALGORITHMS.md section 6: identical
// branches give VHD 0 and select nothing, alpha = 1 changes no logit, heads whose output does not
// move are never selected, at most half a layer's heads are, the lockstep equals re-running with
// the earlier selections applied, scaling z reorients the next RMSNorm's output toward the head;
// the outlier filter and median on hand-built numbers; per-token divergence equals the per-step
// VHD; and the known answer on the built-in induction model.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "analysis/head_ablation.h"
#include "analysis/head_divergence.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "hooks/hook_registry.h"
#include "models/compaction.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "models/mask_file.h"
#include "models/random_checkpoint.h"
#include "support/message_of.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using hooks::HookKind;

models::ModelInput ids(const at::Tensor& tokens) { return {tokens, {}, {}, {}}; }

// A random GPT-2-style model in float64 with more layers and heads than the fixture.
std::unique_ptr<models::Transformer> wideLm(int layers, int heads, std::uint64_t seed) {
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.nLayers = layers;
  shape.dModel = 4 * heads;
  shape.nHeads = heads;
  shape.dVocab = 16;
  shape.nCtx = 32;
  auto model = models::randomTransformer(models::configForShape(shape), seed, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  return model;
}

// The last-position z [H, E] of every layer (observed after any masks).
std::vector<at::Tensor> lastZ(models::Transformer& model, const models::ModelInput& input) {
  std::vector<at::Tensor> z(static_cast<std::size_t>(model.config().nLayers));
  hooks::ScopedHooks scope(model.hooks());
  for (int l = 0; l < model.config().nLayers; ++l) {
    scope.observe({HookKind::Z, l},
                  [&z, l](const at::Tensor& x, const hooks::HookPoint&) { z[l] = x[0][-1]; });
  }
  torch::NoGradGuard noGrad;
  model.forward(input);
  return z;
}

TEST(HeadDivergence, DefaultLayersAreLayerOneAndTheLastSevenSixteenths) {
  EXPECT_EQ(defaultDivergenceLayers(1), (std::vector<int>{0}));
  EXPECT_EQ(defaultDivergenceLayers(2), (std::vector<int>{1}));
  EXPECT_EQ(defaultDivergenceLayers(4), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(defaultDivergenceLayers(12), (std::vector<int>{1, 6, 7, 8, 9, 10, 11}));
  std::vector<int> paper{1};
  for (int l = 18; l < 32; ++l) paper.push_back(l);  // the paper's last 14 of 32
  EXPECT_EQ(defaultDivergenceLayers(32), paper);
}

TEST(HeadDivergence, OutlierFilterAndMedianSelectionOnHandBuiltNumbers) {
  // Head 3 has both the largest VHD and the largest TA: mean + std is 4 + 4.08 for VHD and
  // 3.25 + 4.5 for TA, so it is zeroed; the median of {1, 2, 3, 0} is 1.5.
  auto s = selectDivergentHeads({1, 2, 3, 10}, {1, 1, 1, 10});
  EXPECT_EQ(s.filtered, (std::vector<double>{1, 2, 3, 0}));
  EXPECT_EQ(s.selected, (std::vector<int>{1, 2}));
  // A large VHD with an ordinary TA is no outlier.
  s = selectDivergentHeads({1, 2, 3, 10}, {5, 5, 5, 1});
  EXPECT_EQ(s.filtered, (std::vector<double>{1, 2, 3, 10}));
  EXPECT_EQ(s.selected, (std::vector<int>{2, 3}));
  // Odd count: strictly above the middle value.
  s = selectDivergentHeads({0.5, 0.1, 0.9, 0.3, 0.7}, {1, 1, 1, 1, 1});
  EXPECT_EQ(s.selected, (std::vector<int>{2, 4}));
  // Ties at the median are not above it; one head has no median to exceed.
  EXPECT_TRUE(selectDivergentHeads({2, 2, 2, 2}, {1, 2, 3, 4}).selected.empty());
  EXPECT_TRUE(selectDivergentHeads({5}, {5}).selected.empty());
  EXPECT_TRUE(selectDivergentHeads({}, {}).selected.empty());
  test::messageOf<ShapeError>([] { selectDivergentHeads({1, 2}, {1}); });
}

TEST(HeadDivergence, SelectionTakesAtMostHalfAndNeverAZeroHead) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> uniform(0.0, 3.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int H = 1 + trial % 12;
    std::vector<double> vhd(H), ta(H);
    for (int h = 0; h < H; ++h) {
      vhd[h] = rng() % 4 == 0 ? 0.0 : uniform(rng);
      ta[h] = uniform(rng);
    }
    const auto s = selectDivergentHeads(vhd, ta);
    EXPECT_LE(static_cast<int>(s.selected.size()), H / 2) << "H " << H;
    for (int h : s.selected) EXPECT_GT(vhd[h], 0.0);
  }
}

TEST(HeadDivergence, IdenticalBranchesGiveZeroAndSelectNothing) {
  auto gpt2 = test::tinyLm(0, "gpt2");
  auto llama = test::tinyLm(1, "llama");
  auto vit = test::tinyVit(2);
  const auto tokens = ids(test::tinyTokens(1, 6, 3));
  const models::ModelInput image{{}, {}, {}, test::tinyImages(1, 4)};
  HeadDivergenceOptions options;
  options.layers = {0, 1};
  for (auto [model, input] : {std::pair{gpt2.get(), tokens}, std::pair{llama.get(), tokens},
                              std::pair{vit.get(), image}}) {
    const auto r = analyseHeadDivergence(*model, input, input, options);
    EXPECT_EQ(r.vhd.cwiseAbs().maxCoeff(), 0.0) << model->config().family;
    EXPECT_TRUE(r.selectedHeads.empty()) << model->config().family;
    EXPECT_EQ(r.selected.sum(), 0);
    EXPECT_GT(r.ta.minCoeff(), 0.0);
  }
}

TEST(HeadDivergence, AlphaOneLeavesTheLogitsAsTheyWere) {
  auto model = wideLm(3, 4, 5);
  const auto with = ids(test::tinyTokens(1, 9, 1));
  const auto without = withoutSegment(with, 0, 4);
  HeadDivergenceOptions options;
  options.alpha = 1.0;
  options.layers = {0, 1, 2};
  const auto r = analyseHeadDivergence(*model, with, without, options);
  ASSERT_FALSE(r.selectedHeads.empty());
  torch::NoGradGuard noGrad;
  const auto baseline = model->forward(with);
  const auto masks = reinforcementMask(r);
  ASSERT_EQ(masks.size(), r.selectedHeads.size());
  models::AppliedMasks applied(*model, masks);
  EXPECT_EQ(test::maxAbsDiff(model->forward(with), baseline), 0.0);
}

TEST(HeadDivergence, HeadsWhoseOutputDoesNotMoveAreNeverSelected) {
  auto model = wideLm(3, 4, 6);
  // Zero value weights: heads 1.0 and 2.3 output exactly 0 in both branches.
  {
    torch::NoGradGuard noGrad;
    const int64_t H = 4, E = model->config().dHead;
    for (auto [layer, head] : {std::pair{1, 0}, std::pair{2, 3}}) {
      auto& attn = model->weights().blocks[layer].attn;
      attn.W_QKV.narrow(1, 2 * H * E + head * E, E).zero_();
      if (attn.b_QKV.defined()) attn.b_QKV.narrow(0, 2 * H * E + head * E, E).zero_();
    }
  }
  HeadDivergenceOptions options;
  options.layers = {0, 1, 2};
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    const auto with = ids(test::tinyTokens(1, 10, seed));
    const auto r = analyseHeadDivergence(*model, with, withoutSegment(with, 1, 5), options);
    EXPECT_EQ(r.vhd(1, 0), 0.0);
    EXPECT_EQ(r.vhd(2, 3), 0.0);
    EXPECT_EQ(r.selected(1, 0), 0);
    EXPECT_EQ(r.selected(2, 3), 0);
    for (int l = 0; l < 3; ++l) EXPECT_LE(r.selected.row(l).sum(), 2) << "layer " << l;
    EXPECT_GT(r.selected.sum(), 0);
  }
}

TEST(HeadDivergence, AtMostHalfOfEachLayerIsSelected) {
  for (int heads : {3, 5, 8}) {
    auto model = wideLm(2, heads, heads);
    HeadDivergenceOptions options;
    options.layers = {0, 1};
    const auto with = ids(test::tinyTokens(1, 12, heads));
    const auto r = analyseHeadDivergence(*model, with, ids(test::tinyTokens(1, 7, 99)), options);
    for (int l = 0; l < 2; ++l) EXPECT_LE(r.selected.row(l).sum(), heads / 2) << heads;
  }
}

TEST(HeadDivergence, LockstepEqualsMeasuringWithEarlierSelectionsApplied) {
  auto model = wideLm(4, 4, 8);
  const auto with = ids(test::tinyTokens(1, 11, 2));
  const auto without = withoutSegment(with, 2, 6);
  HeadDivergenceOptions options;
  options.layers = {0, 1, 3};
  const auto r = analyseHeadDivergence(*model, with, without, options);
  ASSERT_TRUE(r.lockstep);
  hooks::MaskSet applied;
  int passes = 0;
  for (int l = 0; l < 4; ++l) {
    std::vector<at::Tensor> a, b;
    {
      models::AppliedMasks masks(*model, applied);
      a = lastZ(*model, with);
      b = lastZ(*model, without);
    }
    for (int h = 0; h < 4; ++h) {
      EXPECT_NEAR(r.vhd(l, h), (a[l][h] - b[l][h]).norm().item<double>(), 1e-12) << l << "." << h;
      EXPECT_NEAR(r.ta(l, h), b[l][h].pow(2).sum().item<double>(), 1e-12) << l << "." << h;
    }
    if (l == 2) {
      EXPECT_TRUE(std::isnan(r.filteredVhd(l, 0)));  // not in L_r
      continue;
    }
    std::vector<double> vhd, ta;
    for (int h = 0; h < 4; ++h) {
      vhd.push_back(r.vhd(l, h));
      ta.push_back(r.ta(l, h));
    }
    const auto s = selectDivergentHeads(vhd, ta);
    for (int h = 0; h < 4; ++h) {
      EXPECT_EQ(r.selected(l, h), std::count(s.selected.begin(), s.selected.end(), h));
      applied.set({hooks::MaskComponent::Head, l, h, hooks::AblationMode::Scale, 2.0});
      if (!std::count(s.selected.begin(), s.selected.end(), h)) {
        applied.remove(hooks::MaskComponent::Head, l, h);
      }
    }
    if (!s.selected.empty()) ++passes;
  }
  EXPECT_EQ(reinforcementMask(r), applied);
  // One pair to start, one more after each layer whose selection changes later layers (the
  // last analysed layer has none after it to change).
  const int changing = passes - (r.selected.row(3).sum() > 0 ? 1 : 0);
  EXPECT_EQ(r.forwardPasses, 2 * (1 + changing));

  // Without the lockstep every layer is measured on the unreinforced model.
  options.lockstep = false;
  const auto plain = analyseHeadDivergence(*model, with, without, options);
  const auto a = lastZ(*model, with);
  const auto b = lastZ(*model, without);
  for (int l = 0; l < 4; ++l) {
    for (int h = 0; h < 4; ++h) {
      EXPECT_NEAR(plain.vhd(l, h), (a[l][h] - b[l][h]).norm().item<double>(), 1e-12);
    }
  }
  EXPECT_EQ(plain.forwardPasses, 2);
  EXPECT_GT((plain.vhd.row(3) - r.vhd.row(3)).cwiseAbs().maxCoeff(), 1e-6)
      << "reinforcing layers 0 and 1 should move layer 3";
}

TEST(HeadDivergence, ReinforcementMaskScalesZBeforeTheOutputProjection) {
  auto model = wideLm(3, 4, 9);
  const auto with = ids(test::tinyTokens(1, 8, 4));
  HeadDivergenceOptions options;
  options.layers = {0, 2};
  options.alpha = 2.5;
  const auto r = analyseHeadDivergence(*model, with, withoutSegment(with, 0, 3), options);
  ASSERT_FALSE(r.selectedHeads.empty());
  ASSERT_EQ(r.selectedHeads.front().layer, 0);
  const auto masks = reinforcementMask(r);
  for (const auto& e : masks.entries()) {
    EXPECT_EQ(e.mode, hooks::AblationMode::Scale);
    EXPECT_EQ(e.value, 2.5);
    EXPECT_EQ(e.component, hooks::MaskComponent::Head);
  }
  // Layer 0 sees no earlier reinforcement: its z is alpha times the plain one for selected heads
  // and unchanged for the others, and attn_out is the sum of the scaled heads through W_O.
  at::Tensor plainZ, scaledZ, scaledOut;
  {
    torch::NoGradGuard noGrad;
    hooks::ScopedHooks scope(model->hooks());
    scope.observe({HookKind::Z, 0}, [&](const at::Tensor& x, const auto&) { plainZ = x; });
    model->forward(with);
  }
  {
    torch::NoGradGuard noGrad;
    models::AppliedMasks applied(*model, masks);
    hooks::ScopedHooks scope(model->hooks());
    scope.observe({HookKind::Z, 0}, [&](const at::Tensor& x, const auto&) { scaledZ = x; });
    scope.observe({HookKind::AttnOut, 0}, [&](const at::Tensor& x, const auto&) { scaledOut = x; });
    model->forward(with);
  }
  const auto& attn = model->weights().blocks[0].attn;
  auto expectedOut = at::zeros_like(scaledOut);
  for (int h = 0; h < 4; ++h) {
    const double factor = r.selected(0, h) ? 2.5 : 1.0;
    EXPECT_LT(test::maxAbsDiff(scaledZ.select(2, h), factor * plainZ.select(2, h)), 1e-14) << h;
    expectedOut += at::matmul(factor * plainZ.select(2, h), attn.W_O[h]);
  }
  if (attn.b_O.defined()) expectedOut += attn.b_O;
  EXPECT_LT(test::maxAbsDiff(scaledOut, expectedOut), 1e-12);

  // Like any mask: it saves and reloads, and compaction refuses it (scaling removes nothing).
  const auto fingerprint = models::fingerprintOf(model->config(), {});
  const nlohmann::json document = models::maskToJson(masks, fingerprint, "reinforcement");
  EXPECT_EQ(models::maskFromJson(document, fingerprint, model->config()), masks);
  const auto message = test::messageOf<ConfigError>([&] { models::compactModel(*model, masks); });
  EXPECT_NE(message.find("scale"), std::string::npos) << message;
}

TEST(HeadDivergence, ScalingAHeadReorientsTheNextRmsNormTowardIt) {
  auto model = test::tinyLm(3, "llama");
  {
    torch::NoGradGuard noGrad;
    model->weights().blocks[0].ln2.weight.fill_(1.0);  // unit-weight RMSNorm
  }
  const auto input = ids(test::tinyTokens(1, 6, 5));
  for (int head = 0; head < 2; ++head) {
    // y = the head's result z W_O at the last position; x = resid_mid there, unscaled.
    at::Tensor x, y;
    {
      torch::NoGradGuard noGrad;
      hooks::ScopedHooks scope(model->hooks());
      scope.observe({HookKind::Result, 0},
                    [&](const at::Tensor& t, const auto&) { y = t[0][-1][head].clone(); });
      scope.observe({HookKind::ResidMid, 0},
                    [&](const at::Tensor& t, const auto&) { x = t[0][-1].clone(); });
      model->forward(input);
    }
    ASSERT_LT(std::abs(at::cosine_similarity(x, y, 0).item<double>()), 0.99) << "x parallel to y";
    double previous = -2.0;
    for (double alpha : {1.0, 1.25, 1.5, 2.0, 3.0, 4.0}) {
      hooks::MaskSet masks;
      masks.set({hooks::MaskComponent::Head, 0, head, hooks::AblationMode::Scale, alpha});
      at::Tensor normed;
      {
        torch::NoGradGuard noGrad;
        models::AppliedMasks applied(*model, masks);
        hooks::ScopedHooks scope(model->hooks());
        scope.observe({HookKind::Ln2Normalized, 0},
                      [&](const at::Tensor& t, const auto&) { normed = t[0][-1].clone(); });
        model->forward(input);
      }
      // The norm's input is x + (alpha - 1) y; RMSNorm runs in float32.
      const auto shifted = x + (alpha - 1.0) * y;
      const auto expected = shifted * at::rsqrt(shifted.pow(2).mean() + model->config().normEps);
      EXPECT_LT(test::maxAbsDiff(normed, expected), 1e-5) << alpha;
      const double cosine = at::cosine_similarity(normed, y, 0).item<double>();
      EXPECT_GT(cosine, previous) << "head " << head << " alpha " << alpha;
      previous = cosine;
    }
  }
}

TEST(HeadDivergence, ImageAgainstABlankImage) {
  auto vit = test::tinyVit(1);
  const models::ModelInput image{{}, {}, {}, test::tinyImages(1, 2)};
  for (auto kind : {BlankImage::Zero, BlankImage::Mean}) {
    const auto blank = blankImage(image, kind);
    ASSERT_EQ(blank.pixels.sizes(), image.pixels.sizes());
    if (kind == BlankImage::Zero) {
      EXPECT_EQ(blank.pixels.abs().max().item<double>(), 0.0);
    } else {
      EXPECT_LT(test::maxAbsDiff(blank.pixels.mean({2, 3}), image.pixels.mean({2, 3})), 1e-14);
      EXPECT_LT(test::maxAbsDiff(blank.pixels.amax({2, 3}), blank.pixels.amin({2, 3})), 1e-14);
    }
    const auto r = analyseHeadDivergence(*vit, image, blank);
    EXPECT_EQ(r.layers, std::vector<int>{1});
    EXPECT_GT(r.vhd.minCoeff(), 0.0);
    EXPECT_LE(r.selected.row(1).sum(), 1);
    EXPECT_EQ(r.selected.row(0).sum(), 0);  // layer 0 is not in L_r
  }
}

TEST(HeadDivergence, InputsAndOptionsAreChecked) {
  auto lm = test::tinyLm(0, "gpt2");
  const auto with = ids(torch::tensor({{3, 4, 5, 6, 7}}, torch::kLong));
  const auto cut = withoutSegment(with, 1, 3);
  EXPECT_EQ(test::maxAbsDiff(cut.tokens, torch::tensor({{3, 6, 7}}, torch::kLong)), 0.0);
  auto message = test::messageOf<ConfigError>([&] { withoutSegment(with, 3, 3); });
  EXPECT_NE(message.find("0 <= A < B <= 5"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([&] { withoutSegment(with, 0, 5); });
  EXPECT_NE(message.find("whole input"), std::string::npos) << message;
  HeadDivergenceOptions options;
  options.layers = {2};
  message = test::messageOf<ConfigError>([&] { analyseHeadDivergence(*lm, with, cut, options); });
  EXPECT_NE(message.find("layers 0 to 1"), std::string::npos) << message;
  options.layers = {};
  options.alpha = std::nan("");
  test::messageOf<ConfigError>([&] { analyseHeadDivergence(*lm, with, cut, options); });
  message = test::messageOf<ShapeError>(
      [&] { analyseHeadDivergence(*lm, ids(test::tinyTokens(2, 4)), cut); });
  EXPECT_NE(message.find("one example"), std::string::npos) << message;
}

TEST(TokenDivergence, EachStepEqualsTheVhdOfThatPrefix) {
  auto model = wideLm(2, 8, 3);
  const auto with = ids(test::tinyTokens(1, 8, 6));
  const auto without = withoutSegment(with, 0, 3);
  TokenDivergenceOptions options;
  options.continuation = {4, 9, 1, 15};
  const auto r = analyseTokenDivergence(*model, with, without, options);
  ASSERT_EQ(r.vhd.size(), 4u);
  EXPECT_EQ(r.topK, 1);  // max(1, 8 / 8)
  EXPECT_FALSE(r.generated);
  EXPECT_EQ(r.forwardPasses, 2);  // causal: one pass per branch covers every step
  HeadDivergenceOptions plain;
  plain.lockstep = false;
  for (int t = 0; t < 4; ++t) {
    const auto tail = torch::tensor(std::vector<std::int64_t>(options.continuation.begin(),
                                                              options.continuation.begin() + t),
                                    torch::kLong)
                          .view({1, t});
    const auto step = analyseHeadDivergence(*model, ids(at::cat({with.tokens, tail}, 1)),
                                            ids(at::cat({without.tokens, tail}, 1)), plain);
    EXPECT_LT((r.vhd[t] - step.vhd).cwiseAbs().maxCoeff(), 1e-12) << "step " << t;
    double sum = 0.0;
    for (int l = 0; l < 2; ++l) {
      sum += step.vhd.row(l).maxCoeff();
      EXPECT_EQ(r.inTopK[t].row(l).sum(), 1);
      int top = 0;
      step.vhd.row(l).maxCoeff(&top);
      EXPECT_EQ(r.inTopK[t](l, top), 1);
    }
    EXPECT_NEAR(r.tokenDivergence[t], sum, 1e-12);
  }
  options.topK = 3;
  const auto three = analyseTokenDivergence(*model, with, without, options);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(three.inTopK[t].sum(), 6);
    EXPECT_GT(three.tokenDivergence[t], r.tokenDivergence[t]);
  }
}

TEST(TokenDivergence, GeneratesGreedilyFromTheWithBranch) {
  auto model = test::tinyLm(2, "llama");
  const auto with = ids(test::tinyTokens(1, 5, 7));
  const auto without = ids(test::tinyTokens(1, 3, 8));
  TokenDivergenceOptions options;
  options.generate = 4;
  const auto r = analyseTokenDivergence(*model, with, without, options);
  EXPECT_TRUE(r.generated);
  EXPECT_EQ(r.tokens, greedyContinuation(*model, with, 4));
  EXPECT_EQ(r.forwardPasses, 4 + 1);
  // The same tokens given as a continuation give the same divergences.
  TokenDivergenceOptions given;
  given.continuation = r.tokens;
  const auto again = analyseTokenDivergence(*model, with, without, given);
  for (int t = 0; t < 4; ++t) {
    EXPECT_LT((again.vhd[t] - r.vhd[t]).cwiseAbs().maxCoeff(), 1e-6) << t;
  }
  const auto same = analyseTokenDivergence(*model, with, with, given);
  for (double d : same.tokenDivergence) EXPECT_EQ(d, 0.0);
}

TEST(TokenDivergence, RefusesWhatItCannotFollow) {
  auto lm = test::tinyLm(0, "gpt2");
  auto vit = test::tinyVit(0);
  const auto with = ids(test::tinyTokens(1, 5, 1));
  TokenDivergenceOptions none;
  auto message =
      test::messageOf<ConfigError>([&] { analyseTokenDivergence(*lm, with, with, none); });
  EXPECT_NE(message.find("continuation"), std::string::npos) << message;
  TokenDivergenceOptions both;
  both.generate = 2;
  both.continuation = {1};
  message = test::messageOf<ConfigError>([&] { analyseTokenDivergence(*lm, with, with, both); });
  EXPECT_NE(message.find("not both"), std::string::npos) << message;
  TokenDivergenceOptions tooMany;
  tooMany.generate = 13;
  message = test::messageOf<ConfigError>([&] { analyseTokenDivergence(*lm, with, with, tooMany); });
  EXPECT_NE(message.find("16"), std::string::npos) << message;
  const models::ModelInput image{{}, {}, {}, test::tinyImages(1)};
  message = test::messageOf<ConfigError>([&] { analyseTokenDivergence(*vit, image, image, both); });
  EXPECT_NE(message.find("language model"), std::string::npos) << message;
}

// Known answer (issue 7): on the built-in induction model, the head whose zero ablation costs the
// most accuracy (what the demo finds) is among the two most divergent heads when the context is
// the first occurrence of the repeated sequence. "With": a random half A then A again, cut after
// k tokens of the repeat; "without": the first half replaced by other random tokens B, same
// positions. VHD is compared at the last position, i.e. at second-half positions k = 1..15,
// over four sequences. Heads are ranked by VHD relative to their layer's median: raw VHD grows
// with a head's output norm, and the layer-1 heads are larger (their input already differs).
TEST(HeadDivergence, FindsTheDemoHeadOnTheBuiltinInductionModel) {
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:induction"));
  const auto dataset = data::openDataset("induction:rows=128,half=16,vocab=64,seed=1000");
  HeadAblationOptions ablation;
  ablation.eval = {128, 128};
  const auto accuracy = ablateEachHead(*model, *dataset, ablation).accuracy;
  int demoLayer = 0, demoHead = 0;
  for (int l = 0; l < accuracy.rows(); ++l) {
    for (int h = 0; h < accuracy.cols(); ++h) {
      if (accuracy(l, h) < accuracy(demoLayer, demoHead)) demoLayer = l, demoHead = h;
    }
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  Eigen::MatrixXd relative = Eigen::MatrixXd::Zero(accuracy.rows(), accuracy.cols());
  Eigen::MatrixXd raw = relative;
  for (int sequence = 0; sequence < 4; ++sequence) {
    const auto a = at::randint(0, 64, {1, 16}, generator, at::kLong);
    const auto b = at::randint(0, 64, {1, 16}, generator, at::kLong);
    for (int k = 1; k < 16; ++k) {
      const auto r = analyseHeadDivergence(*model, ids(at::cat({a, a.narrow(1, 0, k)}, 1)),
                                           ids(at::cat({b, a.narrow(1, 0, k)}, 1)));
      relative += r.relativeVhd;
      raw += r.vhd;
    }
  }
  std::vector<double> scores(relative.data(), relative.data() + relative.size());
  std::sort(scores.rbegin(), scores.rend());
  EXPECT_GE(relative(demoLayer, demoHead), scores[1])
      << "head " << demoLayer << "." << demoHead << " (accuracy " << accuracy(demoLayer, demoHead)
      << " when ablated); relative VHD:\n"
      << relative / 60.0;
  // Within its layer the head is the most divergent by raw VHD too.
  EXPECT_EQ(raw.row(demoLayer).maxCoeff(), raw(demoLayer, demoHead)) << raw / 60.0;
}

}  // namespace
}  // namespace cs::analysis
