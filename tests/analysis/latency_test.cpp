// Latency: sane, ordered numbers on a tiny model (no timing assertions beyond that), runs and
// cancellation honoured, CUDA left alone on CPU; the FLOP count against hand-computed values.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include "analysis/latency.h"
#include "core/error.h"
#include "models/random_checkpoint.h"

namespace cs::analysis {
namespace {

// 2 layers, D 64, 4 heads of 16, F 256, V 128, learned positions up to 64.
models::TransformerConfig tinyGpt2() {
  models::ModelShape shape;
  shape.nLayers = 2;
  shape.dModel = 64;
  shape.nHeads = 4;
  shape.dVocab = 128;
  return models::configForShape(shape);
}

models::ModelInput randomTokens(const models::TransformerConfig& config, int64_t batch,
                                int64_t tokens) {
  torch::manual_seed(0);
  models::ModelInput input;
  input.tokens = torch::randint(config.dVocab, {batch, tokens}, torch::kLong);
  return input;
}

TEST(Latency, NumbersArePositiveAndOrdered) {
  const auto config = tinyGpt2();
  auto model = models::randomTransformer(config, 0);
  const auto r = measureLatency(*model, randomTokens(config, 2, 16), {2, 7});
  EXPECT_EQ(r.device, "cpu");
  EXPECT_EQ(r.batch, 2);
  EXPECT_EQ(r.tokens, 16);
  EXPECT_EQ(r.runs, 7);
  EXPECT_GT(r.p10Ms, 0.0);
  EXPECT_LE(r.p10Ms, r.medianMs);
  EXPECT_LE(r.medianMs, r.p90Ms);
  EXPECT_EQ(r.itemUnit, "tokens");
  // tokens/s = batch x tokens / median
  EXPECT_NEAR(r.itemsPerSecond, 2.0 * 16.0 / (r.medianMs / 1e3), 1e-9 * r.itemsPerSecond);
  EXPECT_GT(r.peakBytes, 0);
  EXPECT_TRUE(r.peakKind == "rss" || r.peakKind == "rss_sampled") << r.peakKind;
  EXPECT_EQ(r.parameters, model->weights().parameterCount());
  EXPECT_DOUBLE_EQ(r.flopsPerExample, forwardFlopsPerExample(config, 16));
}

TEST(Latency, RunsCountIsHonoured) {
  const auto config = tinyGpt2();
  auto model = models::randomTransformer(config, 0);
  int forwards = 0;
  auto handle =
      model->hooks().observe({hooks::HookKind::Logits, -1},
                             [&](const at::Tensor&, const hooks::HookPoint&) { ++forwards; });
  const auto r = measureLatency(*model, randomTokens(config, 1, 8), {3, 5});
  EXPECT_EQ(r.runs, 5);
  EXPECT_EQ(forwards, 3 + 5);  // warm-up and timed runs; attached hooks stay attached
}

TEST(Latency, ImageModelsCountImages) {
  models::ModelShape shape;
  shape.family = "vit";
  auto model = models::randomTransformer(models::configForShape(shape), 0);
  const auto& c = model->config();
  models::ModelInput input;
  input.pixels = torch::randn({3, c.nChannels, c.imageSize, c.imageSize});
  const auto r = measureLatency(*model, input, {1, 3});
  EXPECT_EQ(r.itemUnit, "images");
  EXPECT_EQ(r.batch, 3);
  EXPECT_EQ(r.tokens, c.nPatches() + 1);
  EXPECT_NEAR(r.itemsPerSecond, 3.0 / (r.medianMs / 1e3), 1e-9 * r.itemsPerSecond);
}

TEST(Latency, CancelStopsBetweenRuns) {
  const auto config = tinyGpt2();
  auto model = models::randomTransformer(config, 0);
  Progress progress;
  // Cancelled halfway through the timed runs: the next check throws.
  progress.setListener([&](const std::string& stage, double fraction) {
    if (stage == "latency: timing" && fraction >= 0.5) progress.cancel();
  });
  EXPECT_THROW(measureLatency(*model, randomTokens(config, 1, 8), {1, 10}, progress), Cancelled);

  Progress cancelled;
  cancelled.cancel();
  EXPECT_THROW(measureLatency(*model, randomTokens(config, 1, 8), {1, 10}, cancelled), Cancelled);
}

TEST(Latency, RejectsNoRuns) {
  const auto config = tinyGpt2();
  auto model = models::randomTransformer(config, 0);
  EXPECT_THROW(measureLatency(*model, randomTokens(config, 1, 8), {0, 0}), ConfigError);
}

// libtorch has no public "is CUDA initialised"; a primary context on device 0 is what any CUDA
// call would leave behind. Without CUDA in this libtorch (the usual CPU build) nothing can have
// touched it, and hasPrimaryContext would throw, so the check is then is_available() alone.
TEST(Latency, CpuRunLeavesCudaAlone) {
  const bool cuda = torch::cuda::is_available();  // counts devices; creates no context
  if (cuda && at::detail::getCUDAHooks().hasPrimaryContext(0)) {
    GTEST_SKIP() << "an earlier test in this process has initialised CUDA";
  }
  const auto config = tinyGpt2();
  auto model = models::randomTransformer(config, 0);
  const auto r = measureLatency(*model, randomTokens(config, 1, 8), {1, 2});
  EXPECT_EQ(r.device, "cpu");
  if (cuda) {
    EXPECT_FALSE(at::detail::getCUDAHooks().hasPrimaryContext(0));
  }
}

// --- FLOPs -------------------------------------------------------------------------------

// tinyGpt2, T = 16, multiply-adds per layer:
//   QKV  16 x 64 x (4 + 2 x 4) x 16 = 196608
//   scores and mix  2 x 4 x 16 x 16 x 16 = 32768
//   W_O  16 x 4 x 16 x 64 = 65536          -> attention 294912
//   MLP  2 x 16 x 64 x 256 = 524288
// two layers 2 x 819200 = 1638400, unembedding 16 x 64 x 128 = 131072: 1769472 MACs.
constexpr double kAttentionMacs = 294912, kMlpMacs = 524288, kUnembedMacs = 131072;

TEST(LatencyFlops, HandComputedTinyGpt2) {
  EXPECT_DOUBLE_EQ(forwardFlopsPerExample(tinyGpt2(), 16), 2.0 * 1769472);
  EXPECT_DOUBLE_EQ(2.0 * (2 * (kAttentionMacs + kMlpMacs) + kUnembedMacs), 2.0 * 1769472);
}

TEST(LatencyFlops, HalvingHeadsAndMlpWidthHalvesTheBlocks) {
  auto config = tinyGpt2();
  const double full = forwardFlopsPerExample(config, 16);
  config.setUniform(2, 2, 128);
  // Every term of a block is linear in H (and Hkv) or in F, the unembedding does not change.
  const double half = forwardFlopsPerExample(config, 16);
  EXPECT_DOUBLE_EQ(full - half, 2.0 * (kAttentionMacs + kMlpMacs));
  EXPECT_DOUBLE_EQ(half, 2.0 * (kAttentionMacs + kMlpMacs + kUnembedMacs));
}

TEST(LatencyFlops, SkippedSublayersRemoveExactlyTheirShare) {
  auto config = tinyGpt2();
  const double full = forwardFlopsPerExample(config, 16);
  config.attnSkipped = {true, false};
  EXPECT_DOUBLE_EQ(full - forwardFlopsPerExample(config, 16), 2.0 * kAttentionMacs);
  config.mlpSkipped = {false, true};
  EXPECT_DOUBLE_EQ(full - forwardFlopsPerExample(config, 16), 2.0 * (kAttentionMacs + kMlpMacs));
  config.attnSkipped = {true, true};
  config.mlpSkipped = {true, true};
  EXPECT_DOUBLE_EQ(forwardFlopsPerExample(config, 16), 2.0 * kUnembedMacs);
}

TEST(LatencyFlops, GroupedQueryAndGatedMlp) {
  auto config = tinyGpt2();
  config.setUniform(4, 2, 256);
  config.gatedMlp = true;
  // QKV 16 x 64 x (4 + 2 x 2) x 16 = 131072; scores, mix and W_O as before; MLP 3 x 262144.
  const double perLayer = 131072 + 32768 + 65536 + 3 * 262144;
  EXPECT_DOUBLE_EQ(forwardFlopsPerExample(config, 16), 2.0 * (2 * perLayer + kUnembedMacs));
}

// ViT default shape: 32 x 32 images of 3 channels, patches of 8 (N = 16, T = 17), D 64, 4
// heads of 16, F 256, 10 classes, 2 layers.
//   patches  16 x 64 x 3 x 8 x 8 = 196608
//   per layer  17 x 64 x 192 + 2 x 4 x 17 x 17 x 16 + 17 x 64 x 64 + 2 x 17 x 64 x 256
//            = 208896 + 36992 + 69632 + 557056 = 872576
//   classifier (class token only)  64 x 10 = 640
TEST(LatencyFlops, HandComputedTinyVit) {
  models::ModelShape shape;
  shape.family = "vit";
  const auto config = models::configForShape(shape);
  ASSERT_EQ(config.nPatches(), 16);
  ASSERT_EQ(config.dMlp[0], 256);
  EXPECT_DOUBLE_EQ(forwardFlopsPerExample(config, 17), 2.0 * (196608 + 2 * 872576 + 640));
}

}  // namespace
}  // namespace cs::analysis
