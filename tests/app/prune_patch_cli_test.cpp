// End-to-end tests of `prune` and `patch` on the tiny GPT-2 fixture: the three-way table as
// JSON, the exported compacted model loading back with the masked model's outputs, a mask made
// for another model refused, and patching results on stdout and in HDF5.
#include <gtest/gtest.h>
#include <hdf5.h>
#include "core/torch_api.h"

#include <nlohmann/json.hpp>

#include "hooks/mask_set.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "models/mask_file.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs {
namespace {

using hooks::MaskComponent;
using nlohmann::json;
using test::runCli;

std::string modelDir(const std::string& name) { return test::fixtureModelDir(name); }

hooks::MaskSet someZeroMask() {
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1});
  masks.set({MaskComponent::Head, 1, 3});
  for (int i = 0; i < 100; i += 3) masks.set({MaskComponent::Neuron, 1, i});
  masks.set({MaskComponent::MlpSublayer, 0});
  return masks;
}

TEST(PruneCli, ComparesFullMaskedCompactedAndExportsAModelThatLoadsBack) {
  test::TempDir dir;
  const auto folder = modelDir("gpt2-tiny");
  const auto masks = someZeroMask();
  models::saveMaskFile(dir / "mask.json", masks, models::fingerprintOfFolder(folder));
  const auto j =
      test::stdoutJson(runCli({"prune", folder, "--mask", (dir / "mask.json").string(), "--dataset",
                               "induction:rows=24,half=6,vocab=100,seed=2", "--runs", "2",
                               "--warmup", "1", "--json", "--export", (dir / "pruned").string()}));
  ASSERT_EQ(j["variants"].size(), 3u) << j.dump(2);
  const auto& full = j["variants"][0];
  const auto& masked = j["variants"][1];
  const auto& compacted = j["variants"][2];
  EXPECT_EQ(full["name"], "full");
  EXPECT_EQ(compacted["present"], true);
  EXPECT_NEAR(masked["accuracy"].get<double>(), compacted["accuracy"].get<double>(), 1e-9);
  EXPECT_NEAR(masked["mean_loss"].get<double>(), compacted["mean_loss"].get<double>(), 1e-5);
  EXPECT_LT(compacted["parameters"].get<int64_t>(), full["parameters"].get<int64_t>());
  EXPECT_LT(compacted["flops_per_example"].get<double>(), full["flops_per_example"].get<double>());
  EXPECT_LE(j["compacted_vs_masked_max_diff"].get<double>(), 1e-4);
  for (const auto& v : j["variants"]) EXPECT_GT(v["latency_median_ms"].get<double>(), 0.0);

  // The export loads back and computes what the masked model computes.
  auto original = models::loadHfModel(folder);
  auto pruned = models::loadHfModel(dir / "pruned");
  EXPECT_EQ(pruned->weights().parameterCount(), compacted["parameters"].get<int64_t>());
  models::ModelInput input;
  input.tokens = torch::tensor({{3, 1, 4, 1, 5, 9, 2, 6}}, torch::kLong);
  c10::InferenceMode guard;
  at::Tensor expected;
  {
    models::AppliedMasks applied(*original, masks);
    expected = original->forward(input);
  }
  EXPECT_LE(test::maxAbsDiff(pruned->forward(input), expected), 1e-5);
}

TEST(PruneCli, MeanAblationHasNoCompactedRowAndExportIsRefused) {
  test::TempDir dir;
  const auto folder = modelDir("gpt2-tiny");
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 0, hooks::AblationMode::Mean});
  models::saveMaskFile(dir / "mask.json", masks, models::fingerprintOfFolder(folder));
  const std::vector<std::string> base{"prune",     folder,
                                      "--mask",    (dir / "mask.json").string(),
                                      "--dataset", "induction:rows=8,half=4,vocab=100",
                                      "--runs",    "1"};
  auto args = base;
  args.push_back("--json");
  const auto j = test::stdoutJson(runCli(args));
  EXPECT_EQ(j["variants"][2]["present"], false);
  EXPECT_NE(j["variants"][2]["reason"].get<std::string>().find("zero ablations"),
            std::string::npos);

  args = base;
  args.insert(args.end(), {"--export", (dir / "out").string()});
  const auto r = runCli(args);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("cannot be removed"), std::string::npos) << r.err;
}

TEST(PruneCli, MaskForAnotherModelIsRefused) {
  test::TempDir dir;
  hooks::MaskSet masks;
  masks.set({MaskComponent::Head, 0, 0});
  models::saveMaskFile(dir / "mask.json", masks,
                       models::fingerprintOfFolder(modelDir("llama-tiny")));
  const auto r = runCli({"prune", modelDir("gpt2-tiny"), "--mask", (dir / "mask.json").string(),
                         "--dataset", "induction:rows=8,half=4,vocab=100"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("llama"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(PatchCli, ResidPreAtLayerZeroRecoversTheCleanMetricAndSavesToHdf5) {
  test::TempDir dir;
  const auto file = dir / "patch.h5";
  const auto j = test::stdoutJson(
      runCli({"patch", modelDir("gpt2-tiny"), "--clean-ids", "5,17,3,99,42,7", "--corrupted-ids",
              "5,17,3,64,42,7", "--hooks", "blocks.0.hook_resid_pre", "blocks.1.attn.hook_z",
              "--answer-id", "11", "--foil-id", "12", "--json", "--save", file.string()}));
  ASSERT_EQ(j["locations"].size(), 5u) << j.dump(2);
  EXPECT_EQ(j["locations"][0]["hook"], "blocks.0.hook_resid_pre");
  EXPECT_NEAR(j["locations"][0]["score"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(j["locations"][1]["head"], 0);
  EXPECT_EQ(j["direction"], "denoising");

  // The same scores in /results/activation_patching/patch.
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t set = H5Dopen2(f, "/results/activation_patching/patch/score", H5P_DEFAULT);
  ASSERT_GE(set, 0);
  std::vector<double> scores(5);
  ASSERT_GE(H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, scores.data()), 0);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(scores[i], j["locations"][i]["score"].get<double>()) << i;
  }
  H5Dclose(set);
  H5Fclose(f);

  // A second run of the same name is refused rather than overwritten.
  const auto again = runCli({"patch", modelDir("gpt2-tiny"), "--clean-ids", "5,17,3",
                             "--corrupted-ids", "5,17,4", "--save", file.string()});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_NE(again.err.find("already holds"), std::string::npos) << again.err;
}

TEST(PatchCli, WrongInputsEndInOneErrorLine) {
  const auto folder = modelDir("gpt2-tiny");
  auto r = runCli({"patch", folder, "--clean-ids", "1,2,3", "--corrupted-ids", "1,2"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("same length"), std::string::npos) << r.err;
  r = runCli({"patch", folder, "--clean-ids", "1,2,3"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("corrupted input"), std::string::npos) << r.err;
  r = runCli({"patch", folder, "--clean-ids", "1,2,3", "--corrupted-ids", "1,2,4", "--heads", "7"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("head 7"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cs
