// Layer-wise relevance propagation (ALGORITHMS.md section 7): conservation on bias-free models
// in float64, linear-model exactness, the identity and uniform rules' shares, the generalised
// gamma rule against a term-by-term sum, gamma = 0 equal to the epsilon rule, the
// gradient-times-input form equal to the explicit rules, forward values untouched by the rules.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <string>
#include <vector>

#include "analysis/relevance.h"
#include "analysis/relevance_explicit.h"
#include "core/error.h"
#include "models/layers.h"
#include "models/loaders/hf_loader.h"
#include "models/random_checkpoint.h"
#include "support/message_of.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using hooks::HookKind;
using hooks::HookPoint;
using models::AttentionRule;
using models::RelevanceRules;

models::ModelInput image(std::uint64_t seed) { return {{}, {}, {}, test::tinyImages(1, seed)}; }
models::ModelInput tokens(std::int64_t length, std::uint64_t seed) {
  return {test::tinyTokens(1, length, seed), {}, {}, {}};
}

RelevanceRules epsilonRules(AttentionRule attention) {
  RelevanceRules rules;
  rules.attention = attention;
  return rules;
}

RelevanceOptions withRules(const RelevanceRules& rules, std::int64_t target = -1) {
  RelevanceOptions o;
  o.rules = rules;
  o.target = target;
  return o;
}

double maxAbsDiff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  double worst = 0.0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    if (std::isnan(x) && std::isnan(y)) continue;
    worst = std::max(worst, std::abs(x - y));
  }
  return worst;
}

TEST(Relevance, BiasFreeVitConservesTheLogitAtEveryResidualLayerWithCpLrp) {
  auto model = test::tinyVit(3, {.zeroBiases = true});
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    const auto r =
        computeRelevance(*model, image(seed), withRules(epsilonRules(AttentionRule::CpLrp)));
    const double logit = r.targetLogit;
    ASSERT_GT(std::abs(logit), 1e-3);
    // Patch tokens + class token (r.input) + position embedding = logit_c.
    EXPECT_LT(std::abs(r.inputTotal - logit) / std::abs(logit), 1e-8) << r.inputTotal;
    ASSERT_EQ(r.residualTotals.size(), 3);
    for (Eigen::Index l = 0; l < r.residualTotals.size(); ++l) {
      EXPECT_LT(std::abs(r.residualTotals[l] - logit) / std::abs(logit), 1e-8) << "layer " << l;
    }
    // Without a patch bias the pixels hold all of the patch tokens' relevance.
    EXPECT_NEAR(r.pixels.sum(), r.input.tail(4).sum(), 1e-9 * std::abs(logit));
  }
}

TEST(Relevance, BiasFreeLlamaConservesTheLogitThroughRmsNormRotaryAndTheGatedMlp) {
  auto model = test::tinyLm(5, "llama", {.zeroBiases = true});
  const auto r =
      computeRelevance(*model, tokens(6, 1), withRules(epsilonRules(AttentionRule::CpLrp)));
  ASSERT_GT(std::abs(r.targetLogit), 1e-3);
  EXPECT_EQ(r.positions.size(), 0);
  EXPECT_LT(std::abs(r.inputTotal - r.targetLogit) / std::abs(r.targetLogit), 1e-8);
  for (Eigen::Index l = 0; l < r.residualTotals.size(); ++l) {
    EXPECT_LT(std::abs(r.residualTotals[l] - r.targetLogit) / std::abs(r.targetLogit), 1e-8);
  }
  EXPECT_EQ(r.position, 5);
}

TEST(Relevance, LinearModelRelevanceIsInputTimesTheTargetWeightRow) {
  auto shape = models::ModelShape{};
  shape.nLayers = 1;
  shape.dModel = 8;
  shape.nHeads = 2;
  shape.dVocab = 12;
  shape.nCtx = 8;
  auto config = models::configForShape(shape);
  config.norm = models::NormKind::None;
  config.positions = models::PositionKind::None;
  auto model = models::randomTransformer(config, 4, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  model->setSkipped(0, models::Sublayer::Attention, true);
  model->setSkipped(0, models::Sublayer::Mlp, true);
  const auto x = at::randn({1, 3, 8}, at::TensorOptions().dtype(at::kDouble));
  const std::int64_t c = 7;
  const auto pass =
      runRelevancePass(*model, {{}, {}, x, {}}, RelevanceRules{}, {{HookKind::Embed, -1}},
                       [&](const at::Tensor& logits) { return logits[0][2][c]; });
  const auto expected = x[0][2] * model->weights().W_U.select(1, c);
  EXPECT_TRUE(at::allclose(pass.relevance[0][0][2], expected, 0.0, 1e-15));
  EXPECT_EQ(pass.relevance[0][0].narrow(0, 0, 2).abs().max().item<double>(), 0.0);
}

TEST(Relevance, IdentityRulePassesRelevanceThroughGeluUnchanged) {
  auto model = test::tinyVit(1);
  std::vector<HookPoint> points{
      {HookKind::MlpPre, 0}, {HookKind::MlpPost, 0}, {HookKind::MlpPre, 1}, {HookKind::MlpPost, 1}};
  const auto pass = runRelevancePass(*model, image(2), epsilonRules(AttentionRule::AttnLrp), points,
                                     [](const at::Tensor& logits) { return logits[0][1]; });
  for (int l = 0; l < 2; ++l) {
    const auto& pre = pass.relevance[2 * l];
    const auto& post = pass.relevance[2 * l + 1];
    ASSERT_GT(post.abs().max().item<double>(), 1e-6);
    EXPECT_LT((pre - post).abs().max().item<double>(), 1e-8 * post.abs().max().item<double>())
        << "layer " << l;
  }
}

TEST(Relevance, UniformRuleGivesPatternAndValuesHalfOfTheHeadOutputEach) {
  auto model = test::tinyLm(2);
  for (int l = 0; l < 2; ++l) {
    const std::vector<HookPoint> points{{HookKind::Pattern, l}, {HookKind::V, l}, {HookKind::Z, l}};
    const auto pass =
        runRelevancePass(*model, tokens(7, 3), epsilonRules(AttentionRule::AttnLrp), points,
                         [](const at::Tensor& logits) { return logits[0][6][4]; });
    const double pattern = pass.relevance[0].sum().item<double>();
    const double values = pass.relevance[1].sum().item<double>();
    const double z = pass.relevance[2].sum().item<double>();
    ASSERT_GT(std::abs(z), 1e-6);
    EXPECT_NEAR(pattern, 0.5 * z, 1e-10 * std::abs(z)) << "layer " << l;
    EXPECT_NEAR(values, 0.5 * z, 1e-10 * std::abs(z)) << "layer " << l;
  }
}

TEST(Relevance, CpLrpSendsNoRelevanceIntoTheAttentionPattern) {
  auto model = test::tinyLm(2);
  const auto pass = runRelevancePass(*model, tokens(5, 1), epsilonRules(AttentionRule::CpLrp),
                                     {{HookKind::Pattern, 0}, {HookKind::Q, 1}, {HookKind::V, 1}},
                                     [](const at::Tensor& logits) { return logits[0][4][2]; });
  EXPECT_EQ(pass.relevance[0].abs().max().item<double>(), 0.0);
  EXPECT_EQ(pass.relevance[1].abs().max().item<double>(), 0.0);
  EXPECT_GT(pass.relevance[2].abs().max().item<double>(), 1e-8);
}

// The generalised gamma rule written out term by term for one [in] -> [out] layer.
at::Tensor gammaByLoops(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                        const at::Tensor& r, double gamma, double eps) {
  const auto in = w.size(0), out = w.size(1);
  auto result = at::zeros({in}, x.options());
  const auto X = x.accessor<double, 1>();
  const auto W = w.accessor<double, 2>();
  const auto B = b.accessor<double, 1>();
  const auto R = r.accessor<double, 1>();
  auto res = result.accessor<double, 1>();
  for (int64_t j = 0; j < out; ++j) {
    double z = B[j];
    for (int64_t i = 0; i < in; ++i) z += X[i] * W[i][j];
    if (z == 0.0) continue;
    const double s = z > 0 ? 1.0 : -1.0;
    // Weights favouring the output's own sign on each input sign.
    const auto weight = [&](int64_t i, bool positiveInput) {
      const double wij = W[i][j];
      const bool boostPositiveWeights = (s > 0) == positiveInput;
      return wij + gamma * (boostPositiveWeights ? std::max(wij, 0.0) : std::min(wij, 0.0));
    };
    double denom = B[j] + gamma * (s > 0 ? std::max(B[j], 0.0) : std::min(B[j], 0.0));
    for (int64_t i = 0; i < in; ++i) denom += X[i] * weight(i, X[i] >= 0);
    denom += eps * (denom >= 0 ? 1.0 : -1.0);
    for (int64_t i = 0; i < in; ++i) res[i] += X[i] * weight(i, X[i] >= 0) * R[j] / denom;
  }
  return result;
}

TEST(Relevance, GammaRuleMatchesTheTermByTermSumAndConservesWithoutBias) {
  auto opts = at::TensorOptions().dtype(at::kDouble);
  const auto x = at::randn({6}, opts), w = at::randn({6, 5}, opts), b = at::randn({5}, opts);
  const auto r = at::randn({5}, opts);
  for (const double gamma : {0.0, 0.05, 0.25, 100.0}) {
    const auto rule = models::gammaRule(x, w, b, r, gamma, 1e-6);
    EXPECT_TRUE(at::allclose(rule, gammaByLoops(x, w, b, r, gamma, 1e-6), 1e-12, 1e-12))
        << "gamma " << gamma;
    const auto noBias = at::zeros({5}, opts);
    const auto conserved = models::gammaRule(x, w, noBias, r, gamma, 1e-12);
    EXPECT_NEAR(conserved.sum().item<double>(), r.sum().item<double>(), 1e-9) << gamma;
  }
}

TEST(Relevance, GammaZeroIsTheEpsilonRuleWithTheSameStabiliser) {
  auto opts = at::TensorOptions().dtype(at::kDouble);
  const auto x = at::randn({4, 6}, opts), w = at::randn({6, 5}, opts), b = at::randn({5}, opts);
  const auto r = at::randn({4, 5}, opts);
  const double eps = 1e-3;
  const auto z = models::project(x, w, b);
  const auto epsilon = x * models::project(r / models::stabilize(z, eps), w.t());
  EXPECT_TRUE(at::allclose(models::gammaRule(x, w, b, r, 0.0, eps), epsilon, 1e-13, 1e-13));
  // The gradient form's custom backward with gamma = 0 is the plain gradient's relevance.
  const auto leaf = x.clone().requires_grad_(true);
  const auto out = models::gammaLinear(leaf, w, b, 0.0, 1e-12);
  const auto seed = at::randn({4, 5}, opts);
  const auto grad = torch::autograd::grad({out}, {leaf}, {seed})[0];
  EXPECT_TRUE(at::allclose(grad * x, x * models::project(seed, w.t()), 1e-8, 1e-10));
}

TEST(Relevance, GradientFormEqualsTheExplicitRulesOnARandomTwoBlockTransformer) {
  auto model = test::tinyLm(7);  // GPT-2 style, biases and LayerNorm shifts included
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    const auto input = tokens(6, seed);
    const auto options = withRules(epsilonRules(AttentionRule::AttnLrp));
    const auto fast = computeRelevance(*model, input, options);
    const auto ref = explicitRelevance(*model, input, options, 1e-12);
    const double scale = std::abs(fast.targetLogit);
    EXPECT_EQ(fast.answer, ref.answer);
    EXPECT_LT(maxAbsDiff(fast.input, ref.input), 1e-6 * scale);
    EXPECT_LT(maxAbsDiff(fast.positions, ref.positions), 1e-6 * scale);
    EXPECT_LT(maxAbsDiff(fast.residual, ref.residual), 1e-6 * scale);
    EXPECT_LT(maxAbsDiff(fast.neurons, ref.neurons), 1e-6 * scale);
    EXPECT_LT(maxAbsDiff(fast.heads, ref.heads), 1e-6 * scale);
    EXPECT_GT(fast.heads.cwiseAbs().maxCoeff(), 1e-4);  // not trivially equal
  }
}

TEST(Relevance, GradientFormEqualsTheExplicitRulesOnAVitWithCpLrpAndGamma) {
  auto model = test::tinyVit(4);
  auto rules = models::visionRelevanceRules();
  rules.groups.push_back({1, 1, 0.3});
  const auto options = withRules(rules);
  const auto fast = computeRelevance(*model, image(5), options);
  const auto ref = explicitRelevance(*model, image(5), options, 1e-12);
  const double scale = std::abs(fast.targetLogit);
  EXPECT_LT(maxAbsDiff(fast.pixels, ref.pixels), 1e-6 * scale);
  EXPECT_LT(maxAbsDiff(fast.input, ref.input), 1e-6 * scale);
  EXPECT_LT(maxAbsDiff(fast.residual, ref.residual), 1e-6 * scale);
  EXPECT_LT(maxAbsDiff(fast.neurons, ref.neurons), 1e-6 * scale);
  // Gamma changes the answer: the rules are really in force.
  const auto epsilonOnly =
      computeRelevance(*model, image(5), withRules(epsilonRules(AttentionRule::CpLrp)));
  EXPECT_GT(maxAbsDiff(fast.pixels, epsilonOnly.pixels), 1e-6 * scale);
}

TEST(Relevance, RulesLeaveEveryForwardValueAsItWas) {
  std::vector<std::pair<std::unique_ptr<models::Transformer>, models::ModelInput>> cases;
  cases.emplace_back(test::tinyLm(1), tokens(6, 0));
  cases.emplace_back(test::tinyLm(1, "llama"), tokens(6, 0));
  cases.emplace_back(test::tinyVit(1), image(0));
  auto rules = models::visionRelevanceRules();
  rules.gammaLinear = 0.1;
  for (auto& [model, input] : cases) {
    torch::NoGradGuard noGrad;
    const auto plain = model->forward(input);
    for (const auto attention : {AttentionRule::AttnLrp, AttentionRule::CpLrp}) {
      rules.attention = attention;
      model->setRelevanceRules(rules);
      const auto shaped = model->forward(input);
      model->setRelevanceRules(std::nullopt);
      EXPECT_LT((shaped - plain).abs().max().item<double>(), 1e-12);
    }
  }
}

TEST(Relevance, HeadAndNeuronTablesCarryTheirSublayersOutputRelevance) {
  auto model = test::tinyLm(3, "gpt2", {.zeroBiases = true});
  const auto input = tokens(5, 2);
  const auto options = withRules(epsilonRules(AttentionRule::CpLrp));
  const auto r = computeRelevance(*model, input, options);
  ASSERT_EQ(r.neurons.rows(), 2);
  ASSERT_EQ(r.neurons.cols(), 16);
  ASSERT_EQ(r.heads.cols(), 2);
  EXPECT_FALSE(model->relevanceRules().has_value());  // restored after the pass
  // Without biases W_out and W_O pass relevance on unchanged: a layer's neurons (heads) hold
  // what its MLP (attention) output holds.
  const std::vector<HookPoint> points{
      {HookKind::MlpOut, 0}, {HookKind::AttnOut, 0}, {HookKind::MlpOut, 1}, {HookKind::AttnOut, 1}};
  const auto pass =
      runRelevancePass(*model, input, *options.rules, points,
                       [&](const at::Tensor& logits) { return logits[0][r.position][r.answer]; });
  for (int l = 0; l < 2; ++l) {
    const double mlp = pass.relevance[2 * l].sum().item<double>();
    const double attn = pass.relevance[2 * l + 1].sum().item<double>();
    EXPECT_GT(std::abs(mlp), 1e-6);
    EXPECT_NEAR(r.neurons.row(l).sum(), mlp, 1e-9) << "layer " << l;
    EXPECT_NEAR(r.heads.row(l).sum(), attn, 1e-9) << "layer " << l;
  }
}

// The Hugging Face fixtures (GPT-2, Llama with grouped-query attention and rotary positions,
// ViT) loaded from disk: the gradient form runs with each family's default rules, the forward
// pass is unchanged, and on GPT-2 in float64 it equals the explicit rules.
TEST(Relevance, RunsOnTheHuggingFaceFixtures) {
  for (const std::string name : {"gpt2-tiny", "llama-tiny", "vit-tiny"}) {
    SCOPED_TRACE(name);
    auto model = models::loadHfModel(test::dataPath("hf/" + name));
    model->to(torch::kCPU, torch::kDouble);
    const auto& c = model->config();
    models::ModelInput input;
    if (c.input == models::InputKind::Patches) {
      input.pixels = at::randn({1, c.nChannels, c.imageSize, c.imageSize}, at::kDouble);
    } else {
      input.tokens = at::randint(0, c.dVocab, {1, 7}, at::TensorOptions().dtype(at::kLong));
    }
    const auto r = computeRelevance(*model, input);
    EXPECT_TRUE(r.input.allFinite());
    EXPECT_TRUE(r.residual.allFinite());
    EXPECT_GT(r.input.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(r.residual.rows(), c.nLayers + 1);
    if (name == "gpt2-tiny") {
      const auto ref = explicitRelevance(*model, input, {}, 1e-12);
      EXPECT_LT(maxAbsDiff(r.input, ref.input), 1e-6 * std::abs(r.targetLogit));
      EXPECT_LT(maxAbsDiff(r.heads, ref.heads), 1e-6 * std::abs(r.targetLogit));
    }
  }
}

TEST(Relevance, ClearErrorsForBadRequests) {
  auto model = test::tinyLm(1);
  EXPECT_NE(test::messageOf<ShapeError>([&] {
              computeRelevance(*model, {test::tinyTokens(2, 4), {}, {}, {}});
            }).find("batch of 1"),
            std::string::npos);
  RelevanceOptions o;
  o.target = 99;
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              computeRelevance(*model, tokens(4, 0), o);
            }).find("outside [0, 16)"),
            std::string::npos);
  o.target = -1;
  o.position = 4;
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              computeRelevance(*model, tokens(4, 0), o);
            }).find("position 4"),
            std::string::npos);
  RelevanceRules bad;
  bad.gammaLinear = -1.0;
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              computeRelevance(*model, tokens(4, 0), withRules(bad));
            }).find("gamma of the linear layers"),
            std::string::npos);
  bad = {};
  bad.groups.push_back({1, 5, 0.1});
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              computeRelevance(*model, tokens(4, 0), withRules(bad));
            }).find("not a range"),
            std::string::npos);
  auto llama = test::tinyLm(1, "llama");
  EXPECT_NE(
      test::messageOf<ConfigError>([&] { explicitRelevance(*llama, tokens(4, 0)); }).find("rotary"),
      std::string::npos);
  EXPECT_FALSE(model->relevanceRules().has_value());
}

}  // namespace
}  // namespace cs::analysis
