// Masks on real models: each mode against the hook it stands for, written out by hand here.
// Zeroing a head equals replacing its hook_z slice by zeros; scale 1 is the identity; a dropped
// sublayer equals an identity sublayer; mean ablation puts the reference mean in; resample takes
// the next row's value; removing the masks restores the model bit for bit.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "analysis/ablation_means.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/dataset_spec.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

using hooks::AblationMode;
using hooks::HookKind;
using hooks::HookPoint;
using hooks::MaskComponent;
using hooks::MaskEntry;
using hooks::MaskSet;

using Replacement = std::optional<at::Tensor>;

class MaskApplication : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model = loadHfModel(test::dataPath("hf/" + GetParam()));
    if (model->config().input == InputKind::Patches) {
      input.pixels = torch::randn({3, 3, 32, 32}, torch::TensorOptions().dtype(torch::kFloat));
    } else {
      input.tokens = torch::tensor({{5, 17, 3, 99, 42, 7}, {1, 2, 3, 4, 5, 6}, {9, 9, 8, 8, 7, 7}},
                                   torch::kLong);
    }
  }
  at::Tensor run() {
    c10::InferenceMode guard;
    return model->forward(input);
  }
  at::Tensor runMasked(const MaskSet& masks, const hooks::AblationMeans* means = nullptr) {
    AppliedMasks applied(*model, masks, means);
    return run();
  }
  // The same edit by hand: one hook that replaces what `edit` says.
  at::Tensor runWithHook(const HookPoint& point, std::function<at::Tensor(at::Tensor)> edit) {
    hooks::ScopedHooks scope(model->hooks());
    scope.add(point, [&](const at::Tensor& x, const HookPoint&) { return Replacement(edit(x)); });
    return run();
  }
  hooks::AblationMeans means() {
    analysis::AblationMeansOptions options;
    options.batchSize = 5;
    if (model->config().input == InputKind::Patches) {
      return analysis::computeAblationMeans(*model, RandomImages(), options);
    }
    const auto dataset = data::openDataset("induction:rows=12,half=4,vocab=100,seed=3");
    return analysis::computeAblationMeans(*model, *dataset, options);
  }
  // Twelve seeded random 3 x 32 x 32 images with labels 0.
  struct RandomImages : data::Dataset {
    std::int64_t size() const override { return 12; }
    std::string describe() const override { return "random images"; }
    data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
      data::EvalBatch b;
      b.pixels = at::randn({12, 3, 32, 32}, gen).narrow(0, begin, std::min(count, 12 - begin));
      b.targets = at::zeros({b.pixels.size(0)}, at::kLong);
      return b;
    }
  };
  int lastLayer() const { return model->config().nLayers - 1; }
  std::unique_ptr<Transformer> model;
  ModelInput input;
};

MaskSet single(MaskEntry entry) {
  MaskSet masks;
  masks.set(entry);
  return masks;
}

TEST_P(MaskApplication, ZeroHeadEqualsZeroingItsHookZ) {
  const int l = lastLayer(), h = 1;
  const auto masked = runMasked(single({MaskComponent::Head, l, h}));
  const auto byHand = runWithHook({HookKind::Z, l}, [&](at::Tensor z) {
    z = z.clone();
    z.select(2, h).zero_();
    return z;
  });
  EXPECT_TRUE(masked.equal(byHand)) << "max |diff| " << test::maxAbsDiff(masked, byHand);
  EXPECT_GT(test::maxAbsDiff(masked, run()), 1e-6) << "zeroing a head changed nothing";
}

TEST_P(MaskApplication, ZeroNeuronsEqualZeroingTheirHookPost) {
  MaskSet masks;
  masks.set({MaskComponent::Neuron, 0, 3});
  masks.set({MaskComponent::Neuron, 0, 11});
  const auto masked = runMasked(masks);
  const auto byHand = runWithHook({HookKind::MlpPost, 0}, [](at::Tensor post) {
    post = post.clone();
    post.select(2, 3).zero_();
    post.select(2, 11).zero_();
    return post;
  });
  EXPECT_TRUE(masked.equal(byHand)) << "max |diff| " << test::maxAbsDiff(masked, byHand);
}

TEST_P(MaskApplication, ScaleOneIsTheIdentity) {
  const auto plain = run();
  MaskSet masks;
  for (int l = 0; l <= lastLayer(); ++l) {
    masks.set({MaskComponent::Head, l, 0, AblationMode::Scale, 1.0});
    masks.set({MaskComponent::Neuron, l, 2, AblationMode::Scale, 1.0});
    masks.set({MaskComponent::AttnSublayer, l, -1, AblationMode::Scale, 1.0});
  }
  EXPECT_TRUE(runMasked(masks).equal(plain));
  // A block's update is recomputed as pre + (post - pre): equal to float rounding.
  masks.set({MaskComponent::Block, 0, -1, AblationMode::Scale, 1.0});
  EXPECT_LE(test::maxAbsDiff(runMasked(masks), plain), 1e-5);
}

TEST_P(MaskApplication, ScaleMultipliesTheHeadsHookZ) {
  const auto masked = runMasked(single({MaskComponent::Head, 0, 2, AblationMode::Scale, 2.5}));
  const auto byHand = runWithHook({HookKind::Z, 0}, [](at::Tensor z) {
    z = z.clone();
    z.select(2, 2).mul_(2.5);
    return z;
  });
  EXPECT_TRUE(masked.equal(byHand)) << "max |diff| " << test::maxAbsDiff(masked, byHand);
}

TEST_P(MaskApplication, DroppedSublayersEqualIdentitySublayers) {
  const int l = lastLayer();
  for (auto component : {MaskComponent::AttnSublayer, MaskComponent::MlpSublayer}) {
    const auto kind =
        component == MaskComponent::AttnSublayer ? HookKind::AttnOut : HookKind::MlpOut;
    const auto dropped = runMasked(single({component, l}));
    const auto identity = runWithHook({kind, l}, [](at::Tensor x) { return at::zeros_like(x); });
    EXPECT_TRUE(dropped.equal(identity)) << hooks::componentName(component) << ": max |diff| "
                                         << test::maxAbsDiff(dropped, identity);
  }
  // A dropped block passes resid_pre straight through.
  at::Tensor identityBlock;
  {
    at::Tensor pre;
    hooks::ScopedHooks scope(model->hooks());
    scope.observe({HookKind::ResidPre, 0}, [&](const at::Tensor& x, const HookPoint&) { pre = x; });
    scope.add({HookKind::ResidPost, 0},
              [&](const at::Tensor&, const HookPoint&) { return Replacement(pre); });
    identityBlock = run();
  }
  EXPECT_TRUE(runMasked(single({MaskComponent::Block, 0})).equal(identityBlock));
}

TEST_P(MaskApplication, DroppedSublayerIsNotComputed) {
  int fired = 0;
  hooks::ScopedHooks scope(model->hooks());
  for (auto kind :
       {HookKind::Ln1Normalized, HookKind::Q, HookKind::Pattern, HookKind::Z, HookKind::AttnOut}) {
    scope.observe({kind, 0}, [&](const at::Tensor&, const HookPoint&) { ++fired; });
  }
  runMasked(single({MaskComponent::AttnSublayer, 0}));
  EXPECT_EQ(fired, 0);
  run();
  EXPECT_EQ(fired, 5);
}

TEST_P(MaskApplication, MeanAblationPutsTheReferenceMeanIn) {
  const auto reference = means();
  ASSERT_EQ(static_cast<int>(reference.layers.size()), model->config().nLayers);
  const int l = lastLayer(), h = 0, neuron = 5;
  MaskSet masks;
  masks.set({MaskComponent::Head, l, h, AblationMode::Mean});
  masks.set({MaskComponent::Neuron, l, neuron, AblationMode::Mean});
  at::Tensor z, post;
  AppliedMasks applied(*model, masks, &reference);
  // Observers attached after the masks see what the masks made.
  hooks::ScopedHooks scope(model->hooks());
  scope.observe({HookKind::Z, l}, [&](const at::Tensor& x, const HookPoint&) { z = x; });
  scope.observe({HookKind::MlpPost, l}, [&](const at::Tensor& x, const HookPoint&) { post = x; });
  run();
  const auto& m = reference.layers[l];
  EXPECT_TRUE(z.select(2, h).equal(m.z[h].expand_as(z.select(2, h))));
  EXPECT_TRUE(post.select(2, neuron).equal(m.mlpPost[neuron].expand_as(post.select(2, neuron))));
}

TEST_P(MaskApplication, MeanOfASublayerAndBlockReplacesItsOutput) {
  const auto reference = means();
  const auto& m = reference.layers[0];
  const auto sublayer =
      runMasked(single({MaskComponent::MlpSublayer, 0, -1, AblationMode::Mean}), &reference);
  const auto byHand = runWithHook({HookKind::MlpOut, 0},
                                  [&](const at::Tensor& x) { return m.mlpOut.expand_as(x); });
  EXPECT_LE(test::maxAbsDiff(sublayer, byHand), 1e-6);

  at::Tensor blockByHand;
  {
    at::Tensor pre;
    hooks::ScopedHooks scope(model->hooks());
    scope.observe({HookKind::ResidPre, 0}, [&](const at::Tensor& x, const HookPoint&) { pre = x; });
    scope.add({HookKind::ResidPost, 0},
              [&](const at::Tensor&, const HookPoint&) { return Replacement(pre + m.blockDelta); });
    blockByHand = run();
  }
  const auto block =
      runMasked(single({MaskComponent::Block, 0, -1, AblationMode::Mean}), &reference);
  EXPECT_LE(test::maxAbsDiff(block, blockByHand), 1e-6);
}

TEST_P(MaskApplication, ResampleTakesTheNextExamplesValue) {
  const int l = 0, h = 1;
  const auto masked = runMasked(single({MaskComponent::Head, l, h, AblationMode::Resample}));
  const auto byHand = runWithHook({HookKind::Z, l}, [&](at::Tensor z) {
    auto out = z.clone();
    const auto B = z.size(0);
    for (int64_t b = 0; b < B; ++b) out[b].select(1, h).copy_(z[(b + 1) % B].select(1, h));
    return out;
  });
  EXPECT_TRUE(masked.equal(byHand)) << "max |diff| " << test::maxAbsDiff(masked, byHand);
}

TEST_P(MaskApplication, RemovingTheMasksRestoresTheModel) {
  const auto plain = run();
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 0});
  masks.set({MaskComponent::AttnSublayer, lastLayer()});
  masks.set({MaskComponent::Block, 0});
  {
    AppliedMasks applied(*model, masks);
    EXPECT_FALSE(run().equal(plain));
  }
  EXPECT_TRUE(run().equal(plain));
  EXPECT_FALSE(model->config().skipsAttention(lastLayer()));
  EXPECT_FALSE(model->config().skipsMlp(0));
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MaskApplication,
                         ::testing::Values("gpt2-tiny", "llama-tiny", "vit-tiny"),
                         [](const auto& info) { return test::folderParamName(info.param); });

TEST(MaskValidation, EntriesThatDoNotFitTheModelAreRefused) {
  auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto& c = model->config();
  auto refuse = [&](MaskEntry e, const std::string& expected) {
    const auto message =
        test::messageOf<ConfigError>([&] { AppliedMasks applied(*model, single(e)); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(model->hooks().attachedCount(), 0u);
  };
  refuse({MaskComponent::Head, c.nLayers, 0}, "layers 0 to " + std::to_string(c.nLayers - 1));
  refuse({MaskComponent::Head, 0, c.nHeads[0]}, std::to_string(c.nHeads[0]) + " heads");
  refuse({MaskComponent::Neuron, 0, -1}, "MLP neurons");
  refuse({MaskComponent::Block, 0, 2}, "takes no index");
  refuse({MaskComponent::Head, 0, 0, AblationMode::Scale, std::nan("")}, "finite");
  refuse({MaskComponent::Head, 0, 0, AblationMode::Mean}, "reference dataset");
}

TEST(MaskValidation, ResampleNeedsTwoExamples) {
  auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  AppliedMasks applied(*model, single({MaskComponent::Head, 0, 0, AblationMode::Resample}));
  ModelInput one;
  one.tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
  c10::InferenceMode guard;
  const auto message = test::messageOf<ShapeError>([&] { model->forward(one); });
  EXPECT_NE(message.find("batch size of at least 2"), std::string::npos) << message;
}

}  // namespace
}  // namespace cs::models
