// The model shapes the built-in models need: no norm at all (NormKind::None) equals a hand
// computation and its ln hook points carry the un-normed stream; attention-only blocks (MLP
// width 0, skipped); an image model without a class token (the classifier reads the mean over
// patches); all of them survive the native checkpoint format; gradients flow through forward.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>

#include "core/error.h"
#include "hooks/hook_registry.h"
#include "models/loaders/hf_loader.h"
#include "models/native_checkpoint.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

using hooks::HookKind;
using hooks::HookPoint;

// One layer, two heads, ReLU MLP with biases, no norm: the modadd shape in miniature.
TransformerConfig noNormConfig() {
  TransformerConfig c;
  c.family = "circuitscope";
  c.modelType = "toy";
  c.nLayers = 1;
  c.dModel = 4;
  c.dHead = 3;
  c.setUniform(2, 2, 5);
  c.nCtx = 3;
  c.dVocab = 7;
  c.norm = NormKind::None;
  c.activation = Activation::Relu;
  c.mlpBias = true;
  return c;
}

at::Tensor forwardNoGrad(Transformer& model, const ModelInput& input) {
  c10::InferenceMode guard;
  return model.forward(input);
}

TEST(NormNone, ForwardEqualsAHandComputation) {
  auto model = randomTransformer(noNormConfig(), 5, 0.7);
  model->to(at::kCPU, at::kDouble);
  const auto tokens = torch::tensor({{3, 0, 6}, {1, 1, 2}}, torch::kLong);
  const auto logits = forwardNoGrad(*model, ModelInput{tokens});

  const auto& w = model->weights();
  const auto& a = w.blocks[0].attn;
  const auto& m = w.blocks[0].mlp;
  const int64_t T = 3;
  const auto hidden = torch::ones({T, T}, torch::kBool).triu(1);
  for (int64_t b = 0; b < 2; ++b) {
    const auto x0 = w.W_E.index_select(0, tokens[b]) + w.W_pos;  // [T, D]
    auto attn = torch::zeros_like(x0);
    for (int64_t h = 0; h < 2; ++h) {
      const auto q = x0.mm(a.W_Q()[h]), k = x0.mm(a.W_K()[h]), v = x0.mm(a.W_V()[h]);
      const auto scores = q.mm(k.t()).div(std::sqrt(3.0)).masked_fill(hidden, -1e300);
      attn = attn + scores.softmax(-1).mm(v).mm(a.W_O[h]);
    }
    const auto x1 = x0 + attn;
    const auto x2 = x1 + torch::relu(x1.mm(m.W_in) + m.b_in).mm(m.W_out) + m.b_out;
    const auto expected = x2.mm(w.W_U);
    EXPECT_LE(test::maxAbsDiff(logits[b], expected), 1e-12) << "row " << b;
  }
}

TEST(NormNone, NormHookPointsFireWithTheUnnormedStream) {
  auto model = randomTransformer(noNormConfig(), 2, 0.5);
  at::Tensor residPre, ln1, residMid, ln2, residPost, lnFinal;
  hooks::ScopedHooks scope(model->hooks());
  auto keep = [&scope](HookKind kind, int layer, at::Tensor& into) {
    scope.observe(HookPoint{kind, layer},
                  [&into](const at::Tensor& x, const HookPoint&) { into = x.clone(); });
  };
  keep(HookKind::ResidPre, 0, residPre);
  keep(HookKind::Ln1Normalized, 0, ln1);
  keep(HookKind::ResidMid, 0, residMid);
  keep(HookKind::Ln2Normalized, 0, ln2);
  keep(HookKind::ResidPost, 0, residPost);
  keep(HookKind::LnFinalNormalized, -1, lnFinal);
  forwardNoGrad(*model, ModelInput{torch::tensor({{1, 2, 3}}, torch::kLong)});
  ASSERT_TRUE(ln1.defined() && ln2.defined() && lnFinal.defined());
  EXPECT_TRUE(torch::equal(ln1, residPre));
  EXPECT_TRUE(torch::equal(ln2, residMid));
  EXPECT_TRUE(torch::equal(lnFinal, residPost));
}

TEST(NormNone, HasNoNormWeights) {
  auto model = randomTransformer(noNormConfig(), 1, 0.1);
  for (const auto& [name, t] : model->weights().namedTensors()) {
    EXPECT_EQ(name.find("ln"), std::string::npos) << name;
  }
  EXPECT_EQ(model->dtype(), at::kFloat);  // read from W_U: there is no norm weight to ask
}

TEST(NativeCheckpoint, NoNormAttentionOnlyAndClassTokenFreeModelsRoundTrip) {
  TransformerConfig attnOnly;
  attnOnly.family = "circuitscope";
  attnOnly.nLayers = 2;
  attnOnly.dModel = 8;
  attnOnly.dHead = 2;
  attnOnly.setUniform(4, 4, 0);
  attnOnly.mlpSkipped.assign(2, true);
  attnOnly.nCtx = 6;
  attnOnly.dVocab = 11;

  TransformerConfig mlp;
  mlp.family = "circuitscope";
  mlp.nLayers = 1;
  mlp.dModel = 6;
  mlp.dHead = 1;
  mlp.setUniform(0, 0, 9);
  mlp.attnSkipped.assign(1, true);
  mlp.input = InputKind::Patches;
  mlp.imageSize = 4;
  mlp.patchSize = 4;
  mlp.nChannels = 1;
  mlp.classToken = false;
  mlp.positions = PositionKind::None;
  mlp.norm = NormKind::None;
  mlp.activation = Activation::Relu;
  mlp.mlpBias = true;
  mlp.unembedBias = true;
  mlp.head = HeadKind::Classifier;
  mlp.nClasses = 3;
  mlp.causal = false;

  for (const auto& config : {noNormConfig(), attnOnly, mlp}) {
    SCOPED_TRACE(config.dModel);
    auto model = randomTransformer(config, 9, 0.3);
    test::TempDir dir;
    saveNativeCheckpoint(*model, dir.path());
    auto loaded = loadHfModel(dir.path());
    EXPECT_EQ(loaded->config(), model->config());
    ModelInput input;
    if (config.input == InputKind::Patches) {
      input.pixels = torch::rand({2, 1, 4, 4});
    } else {
      input.tokens = torch::tensor({{1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}}, torch::kLong)
                         .narrow(1, 0, config.nCtx)
                         .remainder(config.dVocab);
    }
    EXPECT_TRUE(torch::equal(forwardNoGrad(*model, input), forwardNoGrad(*loaded, input)));
  }
}

TEST(AttentionOnly, SkippedMlpsFireNoMlpHooks) {
  TransformerConfig c;
  c.family = "circuitscope";
  c.nLayers = 2;
  c.dModel = 8;
  c.dHead = 2;
  c.setUniform(4, 4, 0);
  c.mlpSkipped.assign(2, true);
  c.nCtx = 6;
  c.dVocab = 11;
  auto model = randomTransformer(c, 3, 0.3);
  int mlpFired = 0, patternFired = 0;
  hooks::ScopedHooks scope(model->hooks());
  for (int layer = 0; layer < 2; ++layer) {
    for (auto kind :
         {HookKind::Ln2Normalized, HookKind::MlpPre, HookKind::MlpPost, HookKind::MlpOut}) {
      scope.observe(HookPoint{kind, layer},
                    [&](const at::Tensor&, const HookPoint&) { ++mlpFired; });
    }
    scope.observe(HookPoint{HookKind::Pattern, layer},
                  [&](const at::Tensor&, const HookPoint&) { ++patternFired; });
  }
  forwardNoGrad(*model, ModelInput{torch::tensor({{1, 2, 3, 4}}, torch::kLong)});
  EXPECT_EQ(mlpFired, 0);
  EXPECT_EQ(patternFired, 2);
}

TEST(ClassTokenFree, ClassifierReadsTheMeanOverPatches) {
  TransformerConfig c;
  c.family = "circuitscope";
  c.nLayers = 1;
  c.dModel = 5;
  c.dHead = 5;
  c.setUniform(1, 1, 4);
  c.input = InputKind::Patches;
  c.imageSize = 4;
  c.patchSize = 2;
  c.nChannels = 1;
  c.classToken = false;
  c.nCtx = c.nImageTokens();
  c.head = HeadKind::Classifier;
  c.nClasses = 3;
  c.causal = false;
  auto model = randomTransformer(c, 4, 0.4);
  at::Tensor finalStream;
  auto handle = model->hooks().observe(
      HookPoint{HookKind::LnFinalNormalized, -1},
      [&](const at::Tensor& x, const HookPoint&) { finalStream = x.clone(); });
  const auto logits = forwardNoGrad(*model, ModelInput{{}, {}, {}, torch::rand({2, 1, 4, 4})});
  ASSERT_EQ(finalStream.sizes(), (std::vector<int64_t>{2, 4, 5}));  // 4 patches, no class token
  const auto expected = finalStream.mean(1).mm(model->weights().W_U);
  EXPECT_LE(test::maxAbsDiff(logits, expected), 1e-6);

  c.input = InputKind::Tokens;
  c.dVocab = 10;
  EXPECT_THROW(c.validate(), ConfigError);  // only image models go without a class token
}

TEST(Gradients, FlowThroughForwardToEveryUsedWeight) {
  auto model = randomTransformer(noNormConfig(), 6, 0.5);
  auto& w = model->weights();
  std::vector<at::Tensor> params;
  for (auto* t : {&w.W_E, &w.W_pos, &w.blocks[0].attn.W_QKV, &w.blocks[0].attn.W_O,
                  &w.blocks[0].mlp.W_in, &w.blocks[0].mlp.W_out, &w.W_U}) {
    t->requires_grad_(true);
    params.push_back(*t);
  }
  const auto logits =
      model->forward(ModelInput{torch::tensor({{1, 2, 3}, {4, 5, 6}}, torch::kLong)});
  logits.pow(2).sum().backward();
  for (std::size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << "parameter " << i;
    EXPECT_GT(params[i].grad().abs().sum().item<double>(), 0.0) << "parameter " << i;
  }
  // A gradient check in float64 on the attention weights, through the batched-matmul path.
  model->to(at::kCPU, at::kDouble);
  auto qkv = w.blocks[0].attn.W_QKV.detach().clone().requires_grad_(true);
  const auto tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
  auto lossOf = [&](const at::Tensor& weights) {
    w.blocks[0].attn.W_QKV = weights;
    return model->forward(ModelInput{tokens}).select(2, 0).sum();
  };
  lossOf(qkv).backward();
  const auto analytic = qkv.grad().clone();
  at::NoGradGuard noGrad;
  const double h = 1e-6;
  auto bumped = qkv.detach().clone();
  bumped[1][2] += h;
  const double numeric = (lossOf(bumped).item<double>() - lossOf(qkv.detach()).item<double>()) / h;
  EXPECT_NEAR(analytic[1][2].item<double>(), numeric, 1e-4);
}

// Dropping a sublayer and undoing it leaves the configuration equal to the original, so mask
// fingerprints and compaction see the same model.
TEST(Skipping, DropAndUndoLeaveTheConfigAsItWas) {
  TransformerConfig c;
  c.family = "circuitscope";
  c.nLayers = 2;
  c.dModel = 8;
  c.dHead = 2;
  c.setUniform(4, 4, 8);
  c.nCtx = 6;
  c.dVocab = 11;
  auto model = randomTransformer(c, 3, 0.3);
  const auto original = model->config();
  model->setSkipped(1, Sublayer::Attention, true);
  model->setSkipped(0, Sublayer::Mlp, true);
  EXPECT_NE(model->config(), original);
  model->setSkipped(1, Sublayer::Attention, false);
  model->setSkipped(0, Sublayer::Mlp, false);
  EXPECT_EQ(model->config(), original);
}

}  // namespace
}  // namespace cs::models
