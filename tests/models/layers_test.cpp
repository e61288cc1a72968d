// Numeric building blocks: rotary embeddings (norm-preserving, relative), rope scaling,
// RMSNorm, and the llama-family variants: Mistral's sliding window and Qwen2's q/k/v biases.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "models/arch/arch.h"
#include "models/layers.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

TEST(Rotary, PreservesNormsAndDependsOnlyOnRelativePosition) {
  torch::manual_seed(0);
  const int E = 16;
  const auto invFreq = rotaryInverseFrequencies(RopeConfig{}, E);
  const auto q = torch::randn({1, 1, 1, E}, torch::kDouble);
  const auto k = torch::randn({1, 1, 1, E}, torch::kDouble);
  auto rotate = [&](const at::Tensor& x, int64_t position) {
    const auto [cos, sin] =
        rotaryTables(torch::full({1, 1}, position, torch::kLong), invFreq, torch::kDouble);
    return applyRotary(x, cos, sin);
  };
  EXPECT_NEAR(rotate(q, 5).norm().item<double>(), q.norm().item<double>(), 1e-6);
  const double a = (rotate(q, 7) * rotate(k, 3)).sum().item<double>();
  const double b = (rotate(q, 24) * rotate(k, 20)).sum().item<double>();
  EXPECT_NEAR(a, b, 1e-5);  // angles are computed in float32, as the reference does
  EXPECT_TRUE(torch::allclose(rotate(q, 0), q));
}

TEST(Rotary, Llama3ScalingKeepsHighFrequenciesAndSlowsLowOnes) {
  RopeConfig plain;
  plain.theta = 500000.0;
  RopeConfig scaled = plain;
  scaled.scaling = "llama3";
  scaled.factor = 8.0;
  scaled.lowFreqFactor = 1.0;
  scaled.highFreqFactor = 4.0;
  scaled.originalContext = 8192;
  const int E = 128;
  const auto base = rotaryInverseFrequencies(plain, E).to(torch::kDouble);
  const auto adjusted = rotaryInverseFrequencies(scaled, E).to(torch::kDouble);
  const auto wavelen = 2 * M_PI / base;
  const auto high = wavelen < 8192.0 / 4.0;  // short wavelengths: unchanged
  const auto low = wavelen > 8192.0 / 1.0;   // long wavelengths: divided by the factor
  ASSERT_TRUE(high.any().item<bool>());
  ASSERT_TRUE(low.any().item<bool>());
  EXPECT_TRUE(torch::allclose(adjusted.masked_select(high), base.masked_select(high), 1e-6));
  EXPECT_TRUE(torch::allclose(adjusted.masked_select(low), base.masked_select(low) / 8.0, 1e-6));
  // The band between is blended: strictly between the two.
  const auto mid = high.logical_not().logical_and(low.logical_not());
  ASSERT_TRUE(mid.any().item<bool>());
  EXPECT_TRUE((adjusted.masked_select(mid) <= base.masked_select(mid) + 1e-12).all().item<bool>());
  EXPECT_TRUE(
      (adjusted.masked_select(mid) >= base.masked_select(mid) / 8.0 - 1e-12).all().item<bool>());

  RopeConfig linear = plain;
  linear.scaling = "linear";
  linear.factor = 4.0;
  EXPECT_TRUE(
      torch::allclose(rotaryInverseFrequencies(linear, E).to(torch::kDouble), base / 4.0, 1e-6));
}

TEST(Norms, RmsNormHasUnitRootMeanSquareBeforeItsWeight) {
  const auto x = torch::randn({3, 5, 32});
  NormWeights w{torch::ones({32}), {}};
  const auto y = applyNorm(x, w, NormKind::RmsNorm, 1e-6);
  EXPECT_TRUE(torch::allclose(y.pow(2).mean(-1), torch::ones({3, 5}), 1e-4));
}

std::unique_ptr<Transformer> llamaLike(const nlohmann::json& extra, std::uint64_t seed) {
  nlohmann::json j{
      {"model_type", "llama"},         {"num_hidden_layers", 1},   {"hidden_size", 32},
      {"num_attention_heads", 4},      {"num_key_value_heads", 2}, {"intermediate_size", 48},
      {"max_position_embeddings", 64}, {"vocab_size", 40}};
  j.update(extra);
  return randomTransformer(llamaArch().parseConfig(j), seed, 0.3);
}

TEST(LlamaFamily, MistralSlidingWindowHidesKeysBeyondTheWindow) {
  // One layer with rotary (relative) positions: the last position's logits depend only on the
  // last `window` tokens, so dropping earlier tokens changes nothing.
  auto model = llamaLike({{"model_type", "mistral"}, {"sliding_window", 3}}, 3);
  ASSERT_EQ(model->config().slidingWindow, 3);
  ModelInput full, tail;
  full.tokens = torch::tensor({{4, 9, 13, 21, 2, 30, 7}}, torch::kLong);
  tail.tokens = full.tokens.narrow(1, 4, 3);
  const auto a = model->forward(full).select(1, 6);
  const auto b = model->forward(tail).select(1, 2);
  EXPECT_LE(test::maxAbsDiff(a, b), 1e-5);
  // Without the window the early tokens matter.
  auto unwindowed = llamaLike(nlohmann::json::object(), 3);
  const auto c = unwindowed->forward(full).select(1, 6);
  const auto d = unwindowed->forward(tail).select(1, 2);
  EXPECT_GT(test::maxAbsDiff(c, d), 1e-3);
}

TEST(LlamaFamily, Qwen2HasQkvBiasesThatMatter) {
  auto model = llamaLike({{"model_type", "qwen2"}}, 5);
  const auto& c = model->config();
  EXPECT_TRUE(c.qkvBias);
  EXPECT_FALSE(c.attnOutBias);
  const auto specs = llamaArch().tensorSpecs(c);
  const auto has = [&](const std::string& name) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == name; });
  };
  EXPECT_TRUE(has("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(has("model.layers.0.self_attn.o_proj.bias"));
  ModelInput input;
  input.tokens = torch::tensor({{1, 2, 3, 4}}, torch::kLong);
  const auto before = model->forward(input);
  model->weights().blocks[0].attn.b_QKV.zero_();
  EXPECT_GT(test::maxAbsDiff(before, model->forward(input)), 1e-4);
}

}  // namespace
}  // namespace cs::models
