// CUDA agreement: where libtorch has a CUDA device, a checkpoint gives on the GPU what it gives
// on the CPU and what the Hugging Face fixtures hold: logits, cached activations, attention
// patterns, input gradients, hooked runs, patching sweeps, recordings and the latency
// bookkeeping. Every test skips where there is no CUDA device (CI has none); scripts/cuda-check
// runs them on a GPU machine against a PyTorch 2.x libtorch.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <ATen/Context.h>

#include "analysis/activation_patching.h"
#include "analysis/latency.h"
#include "analysis/recording.h"
#include "core/device.h"
#include "core/error.h"
#include "data/safetensors.h"
#include "data/store/activation_store_reader.h"
#include "data/synthetic_datasets.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "support/test_support.h"

namespace cs {
namespace {

using hooks::HookKind;
using hooks::HookPoint;

constexpr double kLogitTol = 1e-4;  // the golden tolerances of the CPU suite
constexpr double kProbTol = 1e-5;

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "this libtorch has no CUDA device";
    gpu = chooseDevice("cuda");
  }

  static std::unique_ptr<models::Transformer> load(const std::string& name, c10::Device device,
                                                   at::ScalarType dtype = at::kFloat) {
    models::LoadOptions options;
    options.device = device;
    options.dtype = dtype;
    return models::loadHfModel(test::dataPath("hf/" + name), options);
  }

  static data::SafetensorsFile expected(const std::string& name) {
    return data::SafetensorsFile::open(test::dataPath("hf/" + name + "/expected.safetensors"));
  }

  c10::Device gpu{c10::kCPU};
};

models::ModelInput tokensInput(const at::Tensor& ids) {
  models::ModelInput input;
  input.tokens = ids;
  return input;
}

TEST_F(Cuda, ChoosingCudaKeepsFloat32Exact) {
  EXPECT_TRUE(gpu.is_cuda());
  EXPECT_FALSE(at::globalContext().allowTF32CuDNN());
  EXPECT_FALSE(at::globalContext().allowTF32CuBLAS());
  const auto count = static_cast<int>(torch::cuda::device_count());
  try {
    chooseDevice("cuda:" + std::to_string(count));
    FAIL() << "a device index past the last GPU was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA device(s)"), std::string::npos) << e.what();
  }
}

TEST_F(Cuda, LanguageModelsMatchTheFixturesOnTheGpu) {
  for (const std::string name : {"gpt2-tiny", "llama-tiny"}) {
    SCOPED_TRACE(name);
    const auto want = expected(name);
    auto model = load(name, gpu);
    ASSERT_TRUE(model->device().is_cuda());
    const auto ids = want.tensor("input_ids");
    hooks::ActivationCache cache;
    at::Tensor logits;
    {
      c10::InferenceMode guard;
      logits =
          models::runWithCache(*model, tokensInput(ids),
                               {"blocks.*.hook_resid_post", "blocks.*.attn.hook_pattern"}, cache);
    }
    ASSERT_TRUE(logits.is_cuda());
    EXPECT_LE(test::maxAbsDiff(logits.cpu(), want.tensor("logits")), kLogitTol);
    const int L = model->config().nLayers;
    for (int l = 0; l < L; ++l) {
      const auto pattern = cache.at(HookKind::Pattern, l);
      EXPECT_TRUE(pattern.is_cuda()) << "cached activations stay on the model's device";
      EXPECT_LE(test::maxAbsDiff(pattern.cpu(), want.tensor("attentions." + std::to_string(l))),
                kProbTol)
          << "layer " << l;
      if (l + 1 < L) {
        EXPECT_LE(test::maxAbsDiff(cache.at(HookKind::ResidPost, l).cpu(),
                                   want.tensor("hidden_states." + std::to_string(l + 1))),
                  kLogitTol)
            << "layer " << l;
      }
    }
    c10::InferenceMode guard;
    const auto cpuLogits = load(name, c10::Device(c10::kCPU))->forward(tokensInput(ids));
    EXPECT_LE(test::maxAbsDiff(logits.cpu(), cpuLogits), kLogitTol);
  }
}

// The patch embedding is a convolution: this is where TF32 would show.
TEST_F(Cuda, VitMatchesTheFixtureOnTheGpu) {
  const auto want = expected("vit-tiny");
  auto model = load("vit-tiny", gpu);
  models::ModelInput input;
  input.pixels = want.tensor("pixel_values");
  c10::InferenceMode guard;
  const auto logits = model->forward(input);
  ASSERT_TRUE(logits.is_cuda());
  EXPECT_LE(test::maxAbsDiff(logits.cpu(), want.tensor("logits")), kLogitTol);
}

TEST_F(Cuda, InputGradientMatchesTheFixture) {
  const auto want = expected("gpt2-tiny");
  auto model = load("gpt2-tiny", gpu);
  const auto embeds = want.tensor("inputs_embeds").to(gpu).requires_grad_(true);
  models::ModelInput input;
  input.embeddings = embeds;
  const auto target = want.tensor("grad_target")[0].item<int64_t>();
  model->forward(input)[0][6][target].backward();
  ASSERT_TRUE(embeds.grad().defined());
  EXPECT_LE(test::maxAbsDiff(embeds.grad().cpu(), want.tensor("grad_inputs_embeds")), 1e-4);
}

TEST_F(Cuda, ReplacingAHookPointGivesWhatItGivesOnTheCpu) {
  const auto ids = expected("gpt2-tiny").tensor("input_ids");
  auto zeroHead = [](const at::Tensor& z, const HookPoint&) -> std::optional<at::Tensor> {
    auto out = z.clone();
    out.select(2, 1).zero_();  // [batch, pos, head, d_head]: head 1
    return out;
  };
  c10::InferenceMode guard;
  auto onGpu = load("gpt2-tiny", gpu);
  auto onCpu = load("gpt2-tiny", c10::Device(c10::kCPU));
  const auto clean = onGpu->forward(tokensInput(ids)).cpu();
  auto h1 = onGpu->hooks().add(HookPoint{HookKind::Z, 0}, zeroHead);
  auto h2 = onCpu->hooks().add(HookPoint{HookKind::Z, 0}, zeroHead);
  const auto gpuPatched = onGpu->forward(tokensInput(ids)).cpu();
  EXPECT_GT(test::maxAbsDiff(gpuPatched, clean), 1e-3) << "the replacement had no effect";
  EXPECT_LE(test::maxAbsDiff(gpuPatched, onCpu->forward(tokensInput(ids))), kLogitTol);
}

TEST_F(Cuda, PatchingSweepMatchesTheCpu) {
  models::ModelInput clean, corrupted;
  clean.tokens = torch::tensor({{5, 17, 3, 99, 42, 7, 5, 17}}, torch::kLong);
  corrupted.tokens = torch::tensor({{5, 17, 3, 64, 42, 7, 5, 30}}, torch::kLong);
  const analysis::PatchMetric metric{11, 12, -1};
  analysis::PatchingOptions options;
  options.hookPatterns = {"blocks.*.attn.hook_z", "blocks.*.hook_mlp_out"};
  options.perPosition = true;
  auto onGpu = load("gpt2-tiny", gpu);
  auto onCpu = load("gpt2-tiny", c10::Device(c10::kCPU));
  const auto g = analysis::patchActivations(*onGpu, clean, corrupted, metric, options);
  const auto c = analysis::patchActivations(*onCpu, clean, corrupted, metric, options);
  ASSERT_EQ(g.locations.size(), c.locations.size());
  ASSERT_FALSE(g.locations.empty());
  EXPECT_NEAR(g.cleanMetric, c.cleanMetric, kLogitTol);
  EXPECT_NEAR(g.corruptedMetric, c.corruptedMetric, kLogitTol);
  for (std::size_t i = 0; i < g.locations.size(); ++i) {
    EXPECT_EQ(g.locations[i].hook, c.locations[i].hook);
    EXPECT_NEAR(g.locations[i].metric, c.locations[i].metric, kLogitTol)
        << g.locations[i].hook << " head " << g.locations[i].head << " pos "
        << g.locations[i].position;
  }
}

TEST_F(Cuda, RecordingFromTheGpuEqualsTheCpuRecording) {
  const auto folder = test::dataPath("hf/gpt2-tiny");
  const auto identity = models::identifyModelFolder(folder);
  const data::InductionDataset dataset(10, 20, 128, 3);
  analysis::RecordOptions options;
  options.hookPatterns = {"blocks.*.hook_resid_post", "blocks.0.attn.hook_pattern"};
  options.batchSize = 4;
  test::TempDir dir;
  auto onGpu = load("gpt2-tiny", gpu);
  auto onCpu = load("gpt2-tiny", c10::Device(c10::kCPU));
  const auto g =
      analysis::recordActivations(*onGpu, dataset, identity, dir / "gpu.h5", options, noProgress());
  analysis::recordActivations(*onCpu, dataset, identity, dir / "cpu.h5", options, noProgress());
  EXPECT_TRUE(g.complete);
  const data::ActivationStoreReader gpuStore(dir / "gpu.h5"), cpuStore(dir / "cpu.h5");
  ASSERT_EQ(gpuStore.hooks(), cpuStore.hooks());
  for (const auto& hook : gpuStore.hooks()) {
    const auto a = gpuStore.readActivations(hook, 0, 10);
    EXPECT_FALSE(a.is_cuda());
    EXPECT_LE(test::maxAbsDiff(a, cpuStore.readActivations(hook, 0, 10)), kLogitTol) << hook;
  }
}

TEST_F(Cuda, LatencyReportsTheDeviceAndTheAllocatorPeak) {
  auto model = load("gpt2-tiny", gpu);
  const auto ids = expected("gpt2-tiny").tensor("input_ids");
  const auto r = analysis::measureLatency(*model, tokensInput(ids), {2, 5});
  EXPECT_EQ(r.device, "cuda:0");
  EXPECT_EQ(r.peakKind, "cuda_allocated");
  EXPECT_GT(r.peakBytes, 0);
  EXPECT_GT(r.medianMs, 0.0);
  EXPECT_EQ(r.runs, 5);
}

// Half precision is where GPUs are used in practice: the predicted distribution stays close.
TEST_F(Cuda, HalfPrecisionKeepsTheDistribution) {
  const auto want = expected("gpt2-tiny");
  for (const auto dtype : {at::kHalf, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto model = load("gpt2-tiny", gpu, dtype);
    c10::InferenceMode guard;
    const auto logits = model->forward(tokensInput(want.tensor("input_ids")));
    EXPECT_EQ(logits.scalar_type(), dtype);
    const auto probs = logits.to(at::kFloat).softmax(-1).cpu();
    EXPECT_LE(test::maxAbsDiff(probs, want.tensor("logits").softmax(-1)), 2e-2);
  }
}

}  // namespace
}  // namespace cs
