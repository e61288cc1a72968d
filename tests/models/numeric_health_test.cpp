// Numeric health: a NaN or Inf is reported at the first hook point it reaches, with the batch
// row and position; a healthy model runs bit for bit as without the guard.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <limits>

#include "core/error.h"
#include "models/numeric_health.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::models {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ModelInput tokens(std::vector<std::vector<std::int64_t>> rows) {
  ModelInput input;
  const auto T = static_cast<std::int64_t>(rows.front().size());
  std::vector<std::int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  input.tokens =
      torch::tensor(flat, torch::kLong).view({static_cast<std::int64_t>(rows.size()), T});
  return input;
}

at::Tensor logitsOf(Transformer& model, const ModelInput& input) {
  c10::InferenceMode guard;
  return model.forward(input);
}

std::string numericError(Transformer& model, const ModelInput& input) {
  NumericHealthGuard health(model);
  return test::messageOf<NumericError>([&] { (void)logitsOf(model, input); });
}

TEST(NumericHealth, NaNWeightIsReportedAtTheFirstHookAfterIt) {
  auto model = test::tinyLm(1);
  {
    torch::NoGradGuard noGrad;
    // One input column of layer 1's MLP: every row and position of that neuron becomes NaN.
    model->weights().blocks[1].mlp.W_in.select(1, 3).select(0, 2).fill_(kNaN);
  }
  const auto msg = numericError(*model, tokens({{1, 2, 3}, {4, 5, 6}}));
  EXPECT_THAT(msg, HasSubstr("non-finite values first appear at blocks.1.mlp.hook_pre:"));
  EXPECT_THAT(msg, HasSubstr(": 6 of 96 values are NaN or Inf, the first (NaN) at batch row 0, "
                             "position 0"));
}

TEST(NumericHealth, InfInOneTokenEmbeddingNamesItsRowAndPosition) {
  auto model = test::tinyLm(2);
  {
    torch::NoGradGuard noGrad;
    model->weights().W_E.select(0, 5).select(0, 4).fill_(kInf);
  }
  // Token 5 occurs first at row 1, position 1, and once more at row 1, position 2.
  const auto msg = numericError(*model, tokens({{1, 2, 3}, {4, 5, 5}}));
  EXPECT_THAT(msg, HasSubstr("at hook_embed: 2 of 48 values"));
  EXPECT_THAT(msg, HasSubstr("the first (Inf) at batch row 1, position 1;"));
}

TEST(NumericHealth, AttentionPatternsNameTheQueryPosition) {
  auto x = torch::zeros({2, 2, 3, 3}, torch::kDouble);
  x.index_put_({1, 0, 2, 1}, kNaN);
  const auto msg = test::messageOf<NumericError>([&] {
    requireFinite(x, {hooks::HookKind::Pattern, 0});
  });
  EXPECT_THAT(msg, HasSubstr("blocks.0.attn.hook_pattern: 1 of 36"));
  EXPECT_THAT(msg, HasSubstr("batch row 1, position 2"));
}

TEST(NumericHealth, MaskedAttentionScoresMayHoldMinusInfinity) {
  auto x = torch::zeros({1, 1, 2, 2}, torch::kFloat);
  x.index_put_({0, 0, 0, 1}, -kInf);
  EXPECT_NO_THROW(requireFinite(x, {hooks::HookKind::AttnScores, 0}));
  const auto msg = test::messageOf<NumericError>([&] {
    requireFinite(x, {hooks::HookKind::Pattern, 0});
  });
  EXPECT_THAT(msg, HasSubstr("(Inf)"));
}

TEST(NumericHealth, ClassifierLogitsHaveNoPosition) {
  auto x = torch::zeros({3, 4}, torch::kFloat);
  x.index_put_({2, 1}, kNaN);
  const auto msg = test::messageOf<NumericError>([&] {
    requireFinite(x, {hooks::HookKind::Logits, -1});
  });
  EXPECT_THAT(msg, HasSubstr("hook_logits: 1 of 12"));
  EXPECT_THAT(msg, HasSubstr("at batch row 2;"));
  EXPECT_THAT(msg, Not(HasSubstr("position")));
}

TEST(NumericHealth, CheckingTheLogitsFirstStillNamesTheFirstPoint) {
  auto model = test::tinyLm(1);
  const auto input = tokens({{1, 2, 3}, {4, 5, 6}});
  int runs = 0;
  const auto run = [&]() {
    ++runs;
    return logitsOf(*model, input);
  };
  {
    NumericHealthGuard logitsOnly(*model, NumericScope::Logits);
    EXPECT_EQ(logitsOnly.size(), 1u);
  }
  const auto healthy = runCheckingNumerics(*model, run);
  EXPECT_EQ(runs, 1);  // a healthy run checks the logits only, once
  EXPECT_TRUE(torch::equal(healthy, logitsOf(*model, input)));
  {
    torch::NoGradGuard noGrad;
    model->weights().blocks[1].mlp.W_in.select(1, 3).select(0, 2).fill_(kNaN);
  }
  runs = 0;
  const auto msg = test::messageOf<NumericError>([&] { (void)runCheckingNumerics(*model, run); });
  EXPECT_EQ(runs, 2);  // the logits caught it, the second run found where it starts
  EXPECT_THAT(msg, HasSubstr("non-finite values first appear at blocks.1.mlp.hook_pre:"));
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

TEST(NumericHealth, HealthyModelsRunBitIdenticallyAndTheGuardDetaches) {
  for (auto& model : {test::tinyLm(3), test::tinyLm(3, "llama"), test::tinyVit(3)}) {
    ModelInput input;
    if (model->config().input == InputKind::Patches) {
      input.pixels = test::tinyImages(2, 4);
    } else {
      input = tokens({{1, 2, 3, 4}, {5, 6, 7, 0}});
      input.attentionMask = torch::tensor({1, 1, 1, 1, 1, 1, 1, 0}, torch::kLong).view({2, 4});
    }
    const auto plain = logitsOf(*model, input);
    {
      NumericHealthGuard health(*model);
      // Every point but hook_result is watched.
      EXPECT_EQ(health.size() + model->config().nLayers, model->hookPoints().size());
      EXPECT_TRUE(torch::equal(logitsOf(*model, input), plain));
    }
    EXPECT_EQ(model->hooks().attachedCount(), 0u);
  }
}

}  // namespace
}  // namespace cs::models
