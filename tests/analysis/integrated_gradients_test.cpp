// Integrated gradients over a model's input (ALGORITHMS.md section 0): completeness is exact when
// the model is linear in its input, whatever the rule; on the section-10 fixture the error
// shrinks as the rule is refined; a baseline equal to the input gives nothing; the chunk of
// points per pass changes nothing; the cost is one forward row per point plus F(a) and F(a').
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <numeric>

#include "analysis/integrated_gradients.h"
#include "core/error.h"
#include "hooks/hook_registry.h"
#include "models/random_checkpoint.h"
#include "support/message_of.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using models::Sublayer;

constexpr QuadratureRule kRules[] = {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid,
                                     QuadratureRule::GaussLegendre, QuadratureRule::Gradient};

// A language model whose logits are linear in the embeddings: no norm, every sublayer skipped,
// so logits = (embeddings + positions) W_U (+ b_U).
std::unique_ptr<models::Transformer> linearLm() {
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.dModel = 8;
  shape.nHeads = 2;
  shape.dVocab = 16;
  shape.nCtx = 16;
  auto config = models::configForShape(shape);
  config.norm = models::NormKind::None;
  auto model = models::randomTransformer(config, 3, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  for (int l = 0; l < config.nLayers; ++l) {
    model->setSkipped(l, Sublayer::Attention, true);
    model->setSkipped(l, Sublayer::Mlp, true);
  }
  return model;
}

// An image model linear in its pixels: no class token (the classifier reads the mean over the
// patches), no norm, every sublayer skipped.
std::unique_ptr<models::Transformer> linearVit() {
  models::ModelShape shape;
  shape.family = "vit";
  shape.dModel = 8;
  shape.nHeads = 2;
  shape.nClasses = 3;
  shape.imageSize = 8;
  shape.patchSize = 4;
  auto config = models::configForShape(shape);
  config.norm = models::NormKind::None;
  auto weights = models::randomTransformer(config, 4, 0.5)->weights();
  config.classToken = false;
  weights.classToken = at::Tensor();
  weights.W_pos = weights.W_pos.narrow(0, 1, config.nPatches()).clone();  // the patches' rows
  auto model = std::make_unique<models::Transformer>(config, weights);
  model->to(torch::kCPU, torch::kDouble);
  for (int l = 0; l < config.nLayers; ++l) {
    model->setSkipped(l, Sublayer::Attention, true);
    model->setSkipped(l, Sublayer::Mlp, true);
  }
  return model;
}

models::ModelInput tokens(std::int64_t length, std::uint64_t seed) {
  return {test::tinyTokens(1, length, seed), {}, {}, {}};
}

models::ModelInput image(std::uint64_t seed) { return {{}, {}, {}, test::tinyImages(1, seed)}; }

IntegratedGradientsOptions withRule(QuadratureRule rule, int steps, int chunk = 16) {
  IntegratedGradientsOptions o;
  o.rule = rule;
  o.steps = steps;
  o.chunk = chunk;
  return o;
}

TEST(IntegratedGradients, CompletenessIsExactForAModelLinearInItsInput) {
  auto lm = linearLm();
  auto vit = linearVit();
  for (auto rule : kRules) {
    auto options = withRule(rule, 2);
    options.target = {3, 5, 2};
    const auto r = analyseIntegratedGradients(*lm, tokens(6, 1), options);
    EXPECT_GT(std::abs(r.inputValue - r.baselineValue), 1e-3) << "F does not depend on the input";
    EXPECT_LT(r.completenessError, 1e-12) << ruleName(rule);
    options.target = {1, -1, -1};
    const auto v = analyseIntegratedGradients(*vit, image(2), options);
    EXPECT_GT(std::abs(v.inputValue - v.baselineValue), 1e-3);
    EXPECT_LT(v.completenessError, 1e-12) << ruleName(rule);
  }
}

TEST(IntegratedGradients, LinearModelAttributionsAreGradientTimesDifference) {
  auto lm = linearLm();
  auto options = withRule(QuadratureRule::LeftRiemann, 3);
  options.target = {3, -1, 4};
  const auto r = analyseIntegratedGradients(*lm, tokens(6, 1), options);
  // F = (e_4 + p_4) . W_U[:, 3] (+ b): only position 4 counts, with weights W_U[:, 3].
  const auto& w = lm->weights();
  const auto embeddings = at::embedding(w.W_E, test::tinyTokens(1, 6, 1))[0];  // [T, D]
  const auto expected = (embeddings[4] * w.W_U.select(1, 3)).contiguous();
  ASSERT_EQ(r.elementShape, (std::vector<std::int64_t>{6, 8}));
  for (int t = 0; t < 6; ++t) {
    for (int d = 0; d < 8; ++d) {
      const double want = t == 4 ? expected[d].item<double>() : 0.0;
      EXPECT_NEAR(r.elements[t * 8 + d], want, 1e-13) << t << "," << d;
    }
  }
}

TEST(IntegratedGradients, ErrorShrinksAsTheRuleIsRefinedOnTheFixture) {
  auto gpt2 = test::tinyLm(0, "gpt2");
  auto llama = test::tinyLm(1, "llama");
  auto vit = test::tinyVit(2);
  // Llama has no position embeddings, so zero embeddings put RMSNorm at its singular point
  // (x / rms(x) at x -> 0): its path starts from a token's embedding instead. Its RMSNorm runs in
  // float32, which bounds what any rule can reach there.
  IgBaseline token;
  token.kind = IgBaselineKind::Token;
  struct Case {
    models::Transformer* model;
    models::ModelInput input;
    IgBaseline baseline;
    double gaussLimit;
  };
  const Case cases[] = {{gpt2.get(), tokens(7, 3), {}, 1e-5},
                        {llama.get(), tokens(7, 3), token, 1e-4},
                        {vit.get(), image(5), {}, 1e-5}};
  for (const auto& c : cases) {
    const auto& family = c.model->config().family;
    auto run = [&](QuadratureRule rule, int steps) {
      auto options = withRule(rule, steps, 129);
      options.baseline = c.baseline;
      return analyseIntegratedGradients(*c.model, c.input, options);
    };
    for (auto rule :
         {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid, QuadratureRule::GaussLegendre}) {
      const auto coarse = run(rule, 16);
      const auto fine = run(rule, 128);
      ASSERT_GT(std::abs(fine.inputValue - fine.baselineValue), 0.1) << family;
      EXPECT_LT(fine.completenessError, coarse.completenessError)
          << family << " " << ruleName(rule);
      // Left Riemann converges like 1/m, trapezoid like 1/n^2 (plus its epsilon ends), Gauss-
      // Legendre exponentially once the nodes resolve the integrand.
      const double limit = rule == QuadratureRule::LeftRiemann ? 0.1
                           : rule == QuadratureRule::Trapezoid ? 2e-3
                                                               : c.gaussLimit;
      EXPECT_LT(fine.relativeError, limit) << family << " " << ruleName(rule);
      if (rule == QuadratureRule::LeftRiemann) {
        EXPECT_LT(fine.completenessError, coarse.completenessError / 4) << family;
      }
    }
  }
}

TEST(IntegratedGradients, BaselineEqualToTheInputGivesZeroAttributions) {
  auto lm = test::tinyLm(0, "gpt2");
  const auto input = tokens(5, 2);
  auto options = withRule(QuadratureRule::GaussLegendre, 7);
  options.baseline.kind = IgBaselineKind::Custom;
  options.baseline.custom = at::embedding(lm->weights().W_E, input.tokens);
  const auto r = analyseIntegratedGradients(*lm, input, options);
  for (double e : r.elements) EXPECT_EQ(e, 0.0);
  EXPECT_EQ(r.inputValue, r.baselineValue);
  EXPECT_EQ(r.completenessError, 0.0);
  EXPECT_EQ(r.relativeError, 0.0);

  auto vit = test::tinyVit(0);
  const auto picture = image(3);
  options.baseline.custom = picture.pixels;
  const auto v = analyseIntegratedGradients(*vit, picture, options);
  EXPECT_EQ(v.perPixel.cwiseAbs().maxCoeff(), 0.0);
}

TEST(IntegratedGradients, ChunkSizeDoesNotChangeTheResult) {
  auto lm = test::tinyLm(5, "llama");
  const auto input = tokens(6, 8);
  const auto whole =
      analyseIntegratedGradients(*lm, input, withRule(QuadratureRule::Trapezoid, 11, 12));
  for (int chunk : {1, 5, 100}) {
    const auto r =
        analyseIntegratedGradients(*lm, input, withRule(QuadratureRule::Trapezoid, 11, chunk));
    ASSERT_EQ(r.elements.size(), whole.elements.size());
    for (std::size_t i = 0; i < r.elements.size(); ++i) {
      EXPECT_NEAR(r.elements[i], whole.elements[i], 1e-12) << "chunk " << chunk << " element " << i;
    }
    EXPECT_EQ(r.forwardBackwardPasses, (12 + chunk - 1) / chunk);
  }
}

TEST(IntegratedGradients, CostIsOneForwardRowPerPointPlusInputAndBaseline) {
  auto vit = test::tinyVit(1);
  std::int64_t rows = 0, passes = 0;
  auto handle = vit->hooks().observe({hooks::HookKind::Embed, -1},
                                     [&](const at::Tensor& x, const hooks::HookPoint&) {
                                       rows += x.size(0);
                                       ++passes;
                                     });
  const auto r =
      analyseIntegratedGradients(*vit, image(1), withRule(QuadratureRule::LeftRiemann, 20, 8));
  EXPECT_EQ(r.points, 20);
  EXPECT_EQ(rows, 20 + 2);
  EXPECT_EQ(passes, 3 + 1);  // chunks of 8, 8, 4 and the two-row pass for F(a), F(a')
  EXPECT_EQ(r.forwardBackwardPasses, 3);
  EXPECT_EQ(r.forwardPasses, 1);
}

TEST(IntegratedGradients, SumsPerTokenAndPerPixelAddUpTheElements) {
  auto lm = test::tinyLm(2, "gpt2");
  const auto r =
      analyseIntegratedGradients(*lm, tokens(5, 6), withRule(QuadratureRule::Trapezoid, 8));
  ASSERT_EQ(r.perToken.size(), 5);
  for (int t = 0; t < 5; ++t) {
    const double sum =
        std::accumulate(r.elements.begin() + t * 8, r.elements.begin() + t * 8 + 8, 0.0);
    EXPECT_NEAR(r.perToken(t), sum, 1e-12);
  }
  EXPECT_NEAR(r.perToken.sum(), r.attributionSum, 1e-12);

  auto vit = test::tinyVit(2);
  const auto v = analyseIntegratedGradients(*vit, image(4), withRule(QuadratureRule::Trapezoid, 8));
  ASSERT_EQ(v.perPixel.rows(), 8);
  ASSERT_EQ(v.perPixel.cols(), 8);
  ASSERT_EQ(v.elementShape, (std::vector<std::int64_t>{3, 8, 8}));
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      double sum = 0.0;
      for (int ch = 0; ch < 3; ++ch) sum += v.elements[ch * 64 + y * 8 + x];
      EXPECT_NEAR(v.perPixel(y, x), sum, 1e-12);
    }
  }
}

TEST(IntegratedGradients, BaselinesAreWhatTheyName) {
  auto lm = test::tinyLm(3, "gpt2");
  auto options = withRule(QuadratureRule::Gradient, 0);
  options.target = {2, 9, -1};
  options.baseline.kind = IgBaselineKind::Token;
  options.baseline.token = 7;
  const auto r = analyseIntegratedGradients(*lm, tokens(4, 1), options);
  // F at the baseline is F of the sequence 7 7 7 7.
  torch::NoGradGuard noGrad;
  const auto logits = lm->forward({torch::full({1, 4}, 7, torch::kLong), {}, {}, {}})[0][3];
  EXPECT_NEAR(r.baselineValue, (logits[2] - logits[9]).item<double>(), 1e-12);
  EXPECT_EQ(r.target, "logit[2] - logit[9] at position 3");

  auto vit = test::tinyVit(3);
  options.target = {1, -1, -1};
  options.baseline = {};
  options.baseline.kind = IgBaselineKind::Black;
  options.baseline.blackLevel = {-1.0, 0.5, 2.0};
  const auto black = analyseIntegratedGradients(*vit, image(1), options);
  auto pixels =
      torch::tensor({-1.0, 0.5, 2.0}, torch::kDouble).view({1, 3, 1, 1}).expand({1, 3, 8, 8});
  EXPECT_NEAR(black.baselineValue, vit->forward({{}, {}, {}, pixels})[0][1].item<double>(), 1e-12);

  options.baseline.kind = IgBaselineKind::Mean;
  const auto picture = image(2);
  const auto mean = analyseIntegratedGradients(*vit, picture, options);
  pixels = picture.pixels.mean({2, 3}, true).expand({1, 3, 8, 8});
  EXPECT_NEAR(mean.baselineValue, vit->forward({{}, {}, {}, pixels})[0][1].item<double>(), 1e-12);
}

TEST(IntegratedGradients, DefaultTargetIsTheTopPrediction) {
  auto lm = test::tinyLm(4, "gpt2");
  const auto input = tokens(5, 9);
  const auto r = analyseIntegratedGradients(*lm, input, withRule(QuadratureRule::Gradient, 0));
  torch::NoGradGuard noGrad;
  const auto logits = lm->forward(input)[0][4];
  EXPECT_EQ(r.answer, logits.argmax().item<std::int64_t>());
  EXPECT_EQ(r.position, 4);
  EXPECT_NEAR(r.inputValue, logits.max().item<double>(), 1e-12);
}

TEST(IntegratedGradients, RefusesWhatTheModelCannotTake) {
  auto lm = test::tinyLm(0, "gpt2");
  auto vit = test::tinyVit(0);
  IntegratedGradientsOptions options;
  options.target.position = 9;
  auto message =
      test::messageOf<ConfigError>([&] { analyseIntegratedGradients(*lm, tokens(4, 0), options); });
  EXPECT_NE(message.find("position 9"), std::string::npos) << message;
  options.target = {16, -1, -1};
  message =
      test::messageOf<ConfigError>([&] { analyseIntegratedGradients(*lm, tokens(4, 0), options); });
  EXPECT_NE(message.find("vocabulary"), std::string::npos) << message;
  options.target = {};
  message = test::messageOf<ShapeError>([&] {
    analyseIntegratedGradients(*lm, {test::tinyTokens(2, 4), {}, {}, {}}, options);
  });
  EXPECT_NE(message.find("one example"), std::string::npos) << message;
  options.baseline.kind = IgBaselineKind::Token;
  message =
      test::messageOf<ConfigError>([&] { analyseIntegratedGradients(*vit, image(0), options); });
  EXPECT_NE(message.find("language models"), std::string::npos) << message;
  options.baseline.kind = IgBaselineKind::Mean;
  message =
      test::messageOf<ConfigError>([&] { analyseIntegratedGradients(*lm, tokens(4, 0), options); });
  EXPECT_NE(message.find("image models"), std::string::npos) << message;
  options.baseline.kind = IgBaselineKind::Custom;
  options.baseline.custom = torch::zeros({1, 3, 8}, torch::kDouble);
  message =
      test::messageOf<ShapeError>([&] { analyseIntegratedGradients(*lm, tokens(4, 0), options); });
  EXPECT_NE(message.find("[1, 4, 8]"), std::string::npos) << message;
  message = test::messageOf<ShapeError>([&] { analyseIntegratedGradients(*vit, tokens(4, 0)); });
  EXPECT_NE(message.find("pixel"), std::string::npos) << message;
}

}  // namespace
}  // namespace cs::analysis
