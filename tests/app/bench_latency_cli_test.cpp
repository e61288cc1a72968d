// End-to-end tests of `bench-latency` on the tiny fixtures: the JSON fields and how they relate
// (no timing assertions beyond sanity), image models counted in images, the three rows with a
// zero-ablation mask, the compacted row left out (and why) for a mask it cannot remove, and user
// mistakes ending as one clean error line.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "hooks/mask_set.h"
#include "models/mask_file.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs {
namespace {

using hooks::MaskComponent;
using nlohmann::json;
using test::runCli;

std::string modelDir(const std::string& name) { return test::fixtureModelDir(name); }

// One row's numbers: positive, ordered, the rate consistent with the median.
void expectSaneRow(const json& row, const std::string& rateKey, double itemsPerRun) {
  SCOPED_TRACE(row.dump());
  const double median = row.value("median_ms", 0.0);
  EXPECT_GT(row.value("p10_ms", 0.0), 0.0);
  EXPECT_LE(row.value("p10_ms", 0.0), median);
  EXPECT_LE(median, row.value("p90_ms", 0.0));
  ASSERT_TRUE(row.contains(rateKey));
  EXPECT_NEAR(row[rateKey].get<double>(), itemsPerRun / (median / 1e3),
              1e-6 * row[rateKey].get<double>());
  EXPECT_GT(row.value("peak_bytes", std::int64_t{0}), 0);
  EXPECT_NEAR(row.value("peak_mib", 0.0), row.value("peak_bytes", 0.0) / (1024.0 * 1024.0), 1e-6);
  EXPECT_GT(row.value("parameters", std::int64_t{0}), 0);
  EXPECT_GT(row.value("gflops_per_example", 0.0), 0.0);
}

// A user mistake: non-zero exit, one "error:" line naming `mention`, nothing like a crash.
void expectCleanFailure(const test::CliResult& r, const std::string& mention) {
  EXPECT_NE(r.exitCode, 0);
  EXPECT_LT(r.exitCode, 128) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  int errorLines = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("error:") != std::string::npos) ++errorLines;
  }
  EXPECT_EQ(errorLines, 1) << r.err;
  EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
}

TEST(BenchLatencyCli, JsonOnGpt2Tiny) {
  const auto j = test::stdoutJson(runCli({"bench-latency", modelDir("gpt2-tiny"), "--runs", "3",
                                          "--batch", "2", "--tokens", "16", "--json"}));
  EXPECT_EQ(j.value("device", ""), "cpu");
  EXPECT_EQ(j.value("batch", 0), 2);
  EXPECT_EQ(j.value("tokens", 0), 16);
  EXPECT_EQ(j.value("runs", 0), 3);
  EXPECT_EQ(j.value("item_unit", ""), "tokens");
  EXPECT_EQ(j.value("threads", 0), 1);
  ASSERT_TRUE(j.contains("rows"));
  ASSERT_EQ(j["rows"].size(), 1u) << j.dump(2);
  const auto& full = j["rows"][0];
  EXPECT_EQ(full.value("variant", ""), "full");
  expectSaneRow(full, "tokens_per_s", 2.0 * 16.0);
  // GPT-2 tiny: 2 layers, D 64, 4 heads of 16, F 256, V 128 (tests/analysis/latency_test.cpp
  // works the same count out by hand): 2 x 1769472 FLOPs per 16-token example.
  EXPECT_NEAR(full.value("gflops_per_example", 0.0), 2.0 * 1769472 / 1e9, 1e-12);
  const auto info = test::stdoutJson(runCli({"info", modelDir("gpt2-tiny"), "--json"}));
  EXPECT_EQ(full.value("parameters", std::int64_t{0}), info.value("parameters", std::int64_t{-1}));
}

TEST(BenchLatencyCli, DefaultTokensStayWithinTheContext) {
  // gpt2-tiny knows 64 positions; the default of 128 is capped there.
  const auto j = test::stdoutJson(
      runCli({"bench-latency", modelDir("gpt2-tiny"), "--runs", "1", "--warmup", "0", "--json"}));
  EXPECT_EQ(j.value("tokens", 0), 64);
  EXPECT_EQ(j.value("batch", 0), 1);
}

TEST(BenchLatencyCli, TextTable) {
  const auto r = runCli({"bench-latency", modelDir("gpt2-tiny"), "--runs", "2", "--warmup", "1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* expected : {"variant", "median ms", "p10 ms", "p90 ms", "tokens/s", "peak MiB",
                               "parameters", "GFLOPs/ex", "\nfull "}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in:\n" << r.out;
  }
}

TEST(BenchLatencyCli, ImageModelCountsImages) {
  const auto j = test::stdoutJson(
      runCli({"bench-latency", modelDir("vit-tiny"), "--runs", "2", "--batch", "3", "--json"}));
  EXPECT_EQ(j.value("item_unit", ""), "images");
  ASSERT_EQ(j["rows"].size(), 1u) << j.dump(2);
  expectSaneRow(j["rows"][0], "images_per_s", 3.0);
  expectCleanFailure(runCli({"bench-latency", modelDir("vit-tiny"), "--tokens", "8"}), "--tokens");
}

TEST(BenchLatencyCli, ABatchTooLargeForTheMachineIsRefusedBeforeAllocating) {
  // A million rows of gpt2-tiny's context need far more memory than a test machine has.
  const auto r = runCli({"bench-latency", modelDir("gpt2-tiny"), "--batch", "1000000", "--runs",
                         "1", "--warmup", "0"});
  expectCleanFailure(r, "--batch");
  EXPECT_NE(r.err.find("a forward pass over 1000000 rows"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("of memory, but only"), std::string::npos) << r.err;
}

TEST(BenchLatencyCli, ZeroMaskGivesFullMaskedAndCompactedRows) {
  test::TempDir dir;
  const auto folder = modelDir("gpt2-tiny");
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1});
  masks.set({MaskComponent::Head, 1, 3});
  for (int i = 0; i < 128; i += 2) masks.set({MaskComponent::Neuron, 1, i});
  models::saveMaskFile(dir / "mask.json", masks, models::fingerprintOfFolder(folder));
  const auto j =
      test::stdoutJson(runCli({"bench-latency", folder, "--mask", (dir / "mask.json").string(),
                               "--runs", "3", "--tokens", "16", "--json"}));
  ASSERT_EQ(j["rows"].size(), 3u) << j.dump(2);
  EXPECT_EQ(j["rows"][0].value("variant", ""), "full");
  EXPECT_EQ(j["rows"][1].value("variant", ""), "masked");
  EXPECT_EQ(j["rows"][2].value("variant", ""), "compacted");
  for (const auto& row : j["rows"]) expectSaneRow(row, "tokens_per_s", 16.0);
  EXPECT_FALSE(j.contains("compacted_missing"));
  // The masked model is the full one with hooks: same size and FLOPs; the compacted one is
  // smaller in both.
  const auto params = [&](int i) { return j["rows"][i].value("parameters", std::int64_t{0}); };
  const auto gflops = [&](int i) { return j["rows"][i].value("gflops_per_example", 0.0); };
  EXPECT_EQ(params(1), params(0));
  EXPECT_DOUBLE_EQ(gflops(1), gflops(0));
  EXPECT_LT(params(2), params(0));
  EXPECT_LT(gflops(2), gflops(0));
}

TEST(BenchLatencyCli, ScaleMaskHasNoCompactedRowAndSaysWhy) {
  test::TempDir dir;
  const auto folder = modelDir("gpt2-tiny");
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, hooks::AblationMode::Scale, 2.0});
  models::saveMaskFile(dir / "mask.json", masks, models::fingerprintOfFolder(folder));
  const auto args = std::vector<std::string>{
      "bench-latency", folder, "--mask", (dir / "mask.json").string(), "--runs", "2"};
  auto jsonArgs = args;
  jsonArgs.push_back("--json");
  const auto j = test::stdoutJson(runCli(jsonArgs));
  ASSERT_EQ(j["rows"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["rows"][1].value("variant", ""), "masked");
  EXPECT_NE(j.value("compacted_missing", "").find("zero"), std::string::npos) << j.dump(2);
  const auto text = runCli(args);
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_NE(text.out.find("no compacted row"), std::string::npos) << text.out;
}

TEST(BenchLatencyCli, MistakesAreCleanErrors) {
  if (!torch::cuda::is_available()) {
    expectCleanFailure(runCli({"bench-latency", modelDir("gpt2-tiny"), "--device", "cuda"}),
                       "CUDA");
  }
  expectCleanFailure(runCli({"bench-latency", modelDir("gpt2-tiny"), "--tokens", "65"}), "65");
  expectCleanFailure(runCli({"bench-latency", modelDir("gpt2-tiny"), "--runs", "0"}), "--runs");
  expectCleanFailure(
      runCli({"bench-latency", modelDir("gpt2-tiny"), "--mask", "/nonexistent/mask.json"}),
      "mask.json");
  // Mask files hold no means, and bench-latency has no dataset to compute them from.
  test::TempDir dir;
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, hooks::AblationMode::Mean});
  models::saveMaskFile(dir / "mean.json", masks,
                       models::fingerprintOfFolder(modelDir("gpt2-tiny")));
  expectCleanFailure(
      runCli({"bench-latency", modelDir("gpt2-tiny"), "--mask", (dir / "mean.json").string()}),
      "mean");
}

}  // namespace
}  // namespace cs
