// Hook semantics on a real model: observing changes nothing, replacing hook_z of one head equals
// zeroing that head's W_O rows, hook_result sums to hook_attn_out, scoped hooks are gone after
// their scope, and a replacement of the wrong shape is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "core/error.h"
#include "hooks/hook_registry.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

using hooks::HookKind;
using hooks::HookPoint;

class HookSemantics : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model = loadHfModel(test::dataPath("hf/" + GetParam()));
    if (model->config().input == InputKind::Patches) {
      input.pixels = torch::randn({2, 3, 32, 32}, torch::TensorOptions().dtype(torch::kFloat));
    } else {
      input.tokens = torch::tensor({{5, 17, 3, 99, 42, 7}, {1, 2, 3, 4, 5, 6}}, torch::kLong);
    }
  }
  at::Tensor run() {
    c10::InferenceMode guard;
    return model->forward(input);
  }
  std::unique_ptr<Transformer> model;
  ModelInput input;
};

TEST_P(HookSemantics, ObservingEveryPointChangesNothing) {
  const auto plain = run();
  int fired = 0;
  std::vector<hooks::HookHandle> handles;
  for (const auto& point : model->hookPoints()) {
    handles.push_back(
        model->hooks().observe(point, [&fired](const at::Tensor&, const HookPoint&) { ++fired; }));
  }
  const auto observed = run();
  EXPECT_EQ(fired, static_cast<int>(model->hookPoints().size()));
  EXPECT_TRUE(torch::equal(plain, observed));
}

TEST_P(HookSemantics, ZeroingOneHeadZEqualsZeroingItsOutputRows) {
  const int layer = 1, head = 2;
  at::Tensor viaHook;
  {
    auto handle =
        model->hooks().add(HookPoint{HookKind::Z, layer},
                           [&](const at::Tensor& z, const HookPoint&) -> std::optional<at::Tensor> {
                             auto out = z.clone();
                             out.select(2, head).zero_();
                             return out;
                           });
    viaHook = run();
  }
  const auto plain = run();
  model->weights().blocks[layer].attn.W_O[head].zero_();  // [E, D] rows of that head
  const auto viaWeights = run();
  EXPECT_GT(test::maxAbsDiff(plain, viaWeights), 1e-4)
      << "the head must matter for the test to mean anything";
  EXPECT_LE(test::maxAbsDiff(viaHook, viaWeights), 1e-5);
}

TEST_P(HookSemantics, ResultIsComputedOnlyWhenHookedAndSumsToAttnOut) {
  const auto plain = run();
  at::Tensor result, attnOut;
  {
    hooks::ScopedHooks scope(model->hooks());
    scope.observe(HookPoint{HookKind::Result, 0},
                  [&](const at::Tensor& x, const HookPoint&) { result = x.clone(); });
    scope.observe(HookPoint{HookKind::AttnOut, 0},
                  [&](const at::Tensor& x, const HookPoint&) { attnOut = x.clone(); });
    const auto hooked = run();
    EXPECT_LE(test::maxAbsDiff(plain, hooked), 1e-5);
  }
  const auto& attn = model->weights().blocks[0].attn;
  ASSERT_EQ(result.dim(), 4);
  EXPECT_EQ(result.size(2), attn.nHeads);
  auto summed = result.sum(2);
  if (attn.b_O.defined()) summed = summed + attn.b_O;
  EXPECT_LE(test::maxAbsDiff(summed, attnOut), 1e-5);
}

TEST_P(HookSemantics, ScopedHooksAreGoneAfterTheScope) {
  int calls = 0;
  {
    hooks::ScopedHooks scope(model->hooks());
    scope
        .observe(HookPoint{HookKind::ResidPost, 0},
                 [&](const at::Tensor&, const HookPoint&) { ++calls; })
        .add(HookPoint{HookKind::MlpPost, 1},
             [](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> {
               return x * 0;
             });
    EXPECT_EQ(model->hooks().attachedCount(), 2u);
    run();
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
  EXPECT_FALSE(model->hooks().active(HookKind::ResidPost, 0));
  const auto a = run();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(torch::equal(a, run()));
}

TEST_P(HookSemantics, ReplacementOfTheWrongShapeIsRefused) {
  auto handle =
      model->hooks().add(HookPoint{HookKind::ResidMid, 0},
                         [](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> {
                           return x.narrow(1, 0, 1);
                         });
  try {
    run();
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.hook_resid_mid"), std::string::npos) << e.what();
  }
}

TEST_P(HookSemantics, ReplacingResidPreWithItselfIsBitExact) {
  const auto plain = run();
  auto handle = model->hooks().add(
      HookPoint{HookKind::ResidPre, 1},
      [](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> { return x.clone(); });
  EXPECT_TRUE(torch::equal(plain, run()));
}

// hookPoints() lists exactly the points a forward pass fires: a skipped sublayer's own points
// (norm, q/k/v, pattern, z, attn_out; mlp pre/post/out) are not listed and never fire.
TEST_P(HookSemantics, HookPointsListExactlyThePointsThatFireWhenSublayersAreSkipped) {
  model->setSkipped(0, Sublayer::Mlp, true);
  model->setSkipped(1, Sublayer::Attention, true);
  const auto listed = model->hookPoints();
  for (const auto& point : listed) {
    if (point.layer == 0) {
      EXPECT_NE(point.kind, HookKind::MlpPost);
      EXPECT_NE(point.kind, HookKind::MlpOut);
    }
    if (point.layer == 1) {
      EXPECT_NE(point.kind, HookKind::Z);
      EXPECT_NE(point.kind, HookKind::AttnOut);
    }
  }
  std::vector<HookPoint> fired;
  std::vector<hooks::HookHandle> handles;
  for (const auto& point : hooks::allHookPoints(model->config().nLayers)) {
    handles.push_back(model->hooks().observe(
        point, [&fired](const at::Tensor&, const HookPoint& p) { fired.push_back(p); }));
  }
  run();
  // hook_result fires only when something asks for it, which the observers above do.
  EXPECT_EQ(fired, listed);
}

// Running on from a cached blocks.{l}.hook_resid_pre reproduces the whole forward pass, with
// padding, rotary positions and class tokens alike; earlier points do not fire.
TEST_P(HookSemantics, ForwardFromACachedResidualReproducesTheForwardPass) {
  if (input.tokens.defined())
    input.attentionMask = torch::tensor({{0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}});
  const int L = model->config().nLayers;
  std::vector<at::Tensor> residuals(L + 1);
  std::vector<hooks::HookHandle> handles;
  for (int l = 0; l < L; ++l) {
    handles.push_back(model->hooks().observe(
        HookPoint{HookKind::ResidPre, l},
        [&residuals, l](const at::Tensor& x, const HookPoint&) { residuals[l] = x.clone(); }));
  }
  handles.push_back(model->hooks().observe(
      HookPoint{HookKind::ResidPost, L - 1},
      [&residuals, L](const at::Tensor& x, const HookPoint&) { residuals[L] = x.clone(); }));
  const auto plain = run();
  handles.clear();
  int embedFired = 0;
  auto embedHandle =
      model->hooks().observe(HookPoint{HookKind::Embed, -1},
                             [&embedFired](const at::Tensor&, const HookPoint&) { ++embedFired; });
  for (int l = 0; l <= L; ++l) {
    c10::InferenceMode guard;
    const auto resumed = model->forwardFrom(l, residuals[l], input);
    EXPECT_LT(test::maxAbsDiff(resumed, plain), 1e-5) << "from layer " << l;
  }
  EXPECT_EQ(embedFired, 0);
  EXPECT_THAT(test::messageOf<ConfigError>([&] { model->forwardFrom(L + 1, residuals[0], input); }),
              ::testing::HasSubstr("does not exist"));
}

INSTANTIATE_TEST_SUITE_P(Families, HookSemantics,
                         ::testing::Values("gpt2-tiny", "llama-tiny", "vit-tiny"),
                         [](const auto& info) { return test::folderParamName(info.param); });

}  // namespace
}  // namespace cs::models
