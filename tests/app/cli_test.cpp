// End-to-end tests of the built circuitscope-cli on the tiny fixture models: what `info`
// reports, what `run` saves, and that every user mistake ends as one "error:" line on stderr
// with a non-zero exit, never a crash or a stack trace. Each call uses one thread to stay light.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/safetensors.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

// PNG writing for the --image tests; static, so it cannot clash with another test binary's copy.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace cs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::CliResult;
using test::runCli;

std::string modelDir(const std::string& name) { return test::fixtureModelDir(name); }

// `info MODEL --json`, checked for success and parsed.
json infoJson(const std::string& folder) {
  return test::stdoutJson(runCli({"info", folder, "--json"}));
}

bool hasHookPoint(const json& info, const std::string& name) {
  if (!info.contains("hook_points")) return false;
  for (const auto& n : info["hook_points"]) {
    if (n == name) return true;
  }
  return false;
}

std::vector<int64_t> shapeOf(const data::SafetensorsFile& file, const std::string& name) {
  if (!file.contains(name)) return {};
  return file.entry(name).shape;
}

// A user mistake: non-zero exit, exactly one "error:" line, nothing that looks like a crash.
void expectCleanFailure(const CliResult& r, const std::string& mention) {
  EXPECT_NE(r.exitCode, 0);
  // 128 + N is a death by signal; "internal error" means main caught something that is not a
  // cs::Error or c10::Error, i.e. a mistake the library did not report as the user's.
  EXPECT_LT(r.exitCode, 128) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  int errorLines = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("error:") != std::string::npos) ++errorLines;
  }
  EXPECT_EQ(errorLines, 1) << "stderr:\n" << r.err;
  for (const char* crash :
       {"terminate called", "Exception raised from", "frame #", "Aborted", "Segmentation fault"}) {
    EXPECT_EQ(r.err.find(crash), std::string::npos) << "stderr:\n" << r.err;
  }
  EXPECT_NE(r.err.find(mention), std::string::npos)
      << "expected stderr to mention '" << mention << "':\n"
      << r.err;
}

TEST(CliInfo, Gpt2JsonDescribesTheModel) {
  const auto info = infoJson(modelDir("gpt2-tiny"));
  EXPECT_EQ(info.value("family", ""), "gpt2");
  EXPECT_EQ(info.value("n_layers", 0), 2);
  EXPECT_EQ(info.value("n_heads", json()), json::array({4, 4}));
  EXPECT_EQ(info.value("d_vocab", 0), 128);
  EXPECT_EQ(info.value("d_model", 0), 64);

  // Hugging Face's parameter count for GPT2LMHeadModel, lm_head tied to wte (counted once).
  const int64_t D = 64, V = 128, P = 64, M = 256, L = 2;
  const int64_t perLayer = 4 * D                  // ln_1 and ln_2, weight and bias
                           + (D * 3 * D + 3 * D)  // attn.c_attn
                           + (D * D + D)          // attn.c_proj
                           + (D * M + M)          // mlp.c_fc
                           + (M * D + D);         // mlp.c_proj
  const int64_t expected = V * D + P * D + L * perLayer + 2 * D;
  EXPECT_EQ(info.value("parameters", int64_t{0}), expected);

  EXPECT_TRUE(hasHookPoint(info, "blocks.1.attn.hook_pattern"));
  EXPECT_TRUE(hasHookPoint(info, "hook_pos_embed"));
  EXPECT_GT(info.value("gemm_gflops", 0.0), 0.0);
  EXPECT_GE(info.value("threads", 0), 1);
}

TEST(CliInfo, LlamaJsonHasGroupedHeadsAndNoLearnedPositions) {
  const auto info = infoJson(modelDir("llama-tiny"));
  EXPECT_EQ(info.value("family", ""), "llama");
  EXPECT_EQ(info.value("n_heads", json()), json::array({4, 4}));
  EXPECT_EQ(info.value("n_kv_heads", json()), json::array({2, 2}));
  // Rotary positions: there is no positional embedding to hook.
  EXPECT_FALSE(hasHookPoint(info, "hook_pos_embed"));
  EXPECT_TRUE(hasHookPoint(info, "blocks.0.attn.hook_k"));
}

TEST(CliInfo, VitJsonHasClasses) {
  const auto info = infoJson(modelDir("vit-tiny"));
  EXPECT_EQ(info.value("n_classes", 0), 10);
  EXPECT_EQ(info.value("image_size", 0), 32);
  EXPECT_FALSE(info.contains("d_vocab"));
}

TEST(CliInfo, TextReportsMatmulSpeed) {
  const auto r = runCli({"info", modelDir("gpt2-tiny")});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gpt2"), std::string::npos) << r.out;
}

TEST(CliRun, SavesLogitsAndMatchedHooks) {
  test::TempDir dir;
  const auto out = dir / "out.safetensors";
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,2,3;4,5,6", "--hooks",
                         "blocks.*.hook_resid_post", "--save", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto file = data::SafetensorsFile::open(out);
  EXPECT_EQ(shapeOf(file, "logits"), (std::vector<int64_t>{2, 3, 128}));
  EXPECT_EQ(shapeOf(file, "blocks.0.hook_resid_post"), (std::vector<int64_t>{2, 3, 64}));
  EXPECT_EQ(shapeOf(file, "blocks.1.hook_resid_post"), (std::vector<int64_t>{2, 3, 64}));
  EXPECT_FALSE(file.contains("blocks.0.hook_resid_pre"));
  // Equal rows need no mask.
  EXPECT_FALSE(file.contains("attention_mask"));
  ASSERT_TRUE(file.contains("input_ids"));
  EXPECT_TRUE(
      file.tensor("input_ids").equal(torch::tensor({1, 2, 3, 4, 5, 6}, torch::kLong).view({2, 3})));
}

TEST(CliRun, RaggedIdsSaveAttentionMask) {
  test::TempDir dir;
  const auto out = dir / "out.safetensors";
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,2,3;4,5", "--hooks",
                         "blocks.*.hook_resid_post", "--save", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto file = data::SafetensorsFile::open(out);
  EXPECT_EQ(shapeOf(file, "logits"), (std::vector<int64_t>{2, 3, 128}));
  ASSERT_TRUE(file.contains("attention_mask"));
  EXPECT_TRUE(file.tensor("attention_mask")
                  .to(torch::kLong)
                  .equal(torch::tensor({1, 1, 1, 1, 1, 0}, torch::kLong).view({2, 3})));
  EXPECT_EQ(shapeOf(file, "blocks.1.hook_resid_post"), (std::vector<int64_t>{2, 3, 64}));
}

TEST(CliRun, VitTakesPixelsFromAFile) {
  test::TempDir dir;
  const auto pixels = dir / "pixels.safetensors";
  data::writeSafetensors(pixels, {{"pixel_values", torch::rand({1, 3, 32, 32})}});
  const auto out = dir / "out.safetensors";
  const auto r = runCli({"run", modelDir("vit-tiny"), "--pixels", pixels.string(), "--hooks",
                         "blocks.0.hook_resid_post", "--save", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto file = data::SafetensorsFile::open(out);
  EXPECT_EQ(shapeOf(file, "logits"), (std::vector<int64_t>{1, 10}));
  // 16 patches of 8x8 plus the class token.
  EXPECT_EQ(shapeOf(file, "blocks.0.hook_resid_post"), (std::vector<int64_t>{1, 17, 64}));
}

TEST(CliMakeRandom, WritesACheckpointThatInfoReads) {
  test::TempDir dir;
  const auto folder = (dir / "llama-random").string();
  const auto r = runCli({"make-random", "--family", "llama", "--layers", "1", "--d-model", "32",
                         "--heads", "4", "--kv-heads", "2", "--vocab", "50", folder});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(fs::exists(fs::path(folder) / "config.json"));
  const auto info = infoJson(folder);
  EXPECT_EQ(info.value("family", ""), "llama");
  EXPECT_EQ(info.value("n_layers", 0), 1);
  EXPECT_EQ(info.value("d_model", 0), 32);
  EXPECT_EQ(info.value("d_head", 0), 8);
  EXPECT_EQ(info.value("n_heads", json()), json::array({4}));
  EXPECT_EQ(info.value("n_kv_heads", json()), json::array({2}));
  EXPECT_EQ(info.value("d_vocab", 0), 50);
}

TEST(CliEval, GeneratorDatasetReportsAccuracyAndLoss) {
  const auto r = runCli({"eval", modelDir("gpt2-tiny"), "--dataset",
                         "induction:rows=16,half=6,vocab=128,seed=2", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["rows"], 16);
  EXPECT_EQ(j["predictions"], 16 * 5);
  EXPECT_GE(j["accuracy"].get<double>(), 0.0);
  EXPECT_LE(j["accuracy"].get<double>(), 1.0);
  EXPECT_GT(j["mean_loss"].get<double>(), 0.0);
  EXPECT_FALSE(j.contains("mean_logit_diff"));
}

TEST(CliEval, LimitCapsTheRows) {
  const auto r = runCli(
      {"eval", modelDir("gpt2-tiny"), "--dataset", "modadd:p=11", "--limit", "30", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["rows"], 30);
}

// A folder with only GPT-2's tokenizer files, under the names Hugging Face gives them.
void copyGpt2Tokenizer(const fs::path& to) {
  fs::copy_file(test::dataPath("tokenizer/encoder.json"), to / "vocab.json");
  fs::copy_file(test::dataPath("tokenizer/vocab.bpe"), to / "merges.txt");
}

TEST(CliTokenize, JsonHasIdsAndDisplayTokens) {
  test::TempDir dir;
  copyGpt2Tokenizer(dir.path());
  const auto r = runCli({"tokenize", dir.path().string(), "Hello world", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["ids"], json::array({15496, 995}));
  EXPECT_EQ(j["tokens"], json::array({"Hello", "\xE2\x90\xA3world"}));
}

TEST(CliTokenize, TextListsOneTokenPerLine) {
  test::TempDir dir;
  copyGpt2Tokenizer(dir.path());
  const auto r = runCli({"tokenize", dir.path().string(), "Hello world"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("15496\tHello\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("995\t\xE2\x90\xA3world\n"), std::string::npos) << r.out;
}

TEST(CliErrors, TokenizeWithoutTokenizerFiles) {
  test::TempDir dir;
  expectCleanFailure(runCli({"tokenize", dir.path().string(), "Hello"}), "--ids");
}

TEST(CliErrors, TokenizeInvalidUtf8) {
  test::TempDir dir;
  copyGpt2Tokenizer(dir.path());
  expectCleanFailure(runCli({"tokenize", dir.path().string(), "ab\xff"}),
                     "not valid UTF-8 at byte 2");
}

TEST(CliErrors, UnknownDatasetSpec) {
  const auto r = runCli({"eval", modelDir("gpt2-tiny"), "--dataset", "nonsense:x=1"});
  expectCleanFailure(r, "not known");
}

TEST(CliRun, PromptsAreTokenizedAndTopTokensPrinted) {
  test::TempDir dir;
  const auto model = dir / "model";
  ASSERT_EQ(runCli({"make-random", "--family", "gpt2", "--layers", "1", "--d-model", "16",
                    "--heads", "2", "--vocab", "50257", "--n-ctx", "32", model.string()})
                .exitCode,
            0);
  copyGpt2Tokenizer(model);
  const auto out = dir / "out.safetensors";
  const auto r = runCli({"run", model.string(), "--prompt", "Hello world", "--prompt",
                         "The cat sat on the", "--save", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("row 0 next token after position 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("row 1 next token after position 4"), std::string::npos) << r.out;
  const auto file = data::SafetensorsFile::open(out);
  EXPECT_EQ(shapeOf(file, "input_ids"), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(file.contains("attention_mask"));
  // Without a tokenizer a prompt cannot be used.
  fs::remove(model / "vocab.json");
  fs::remove(model / "merges.txt");
  expectCleanFailure(runCli({"run", model.string(), "--prompt", "Hello", "--save", out.string()}),
                     "tokenizer");
}

TEST(CliErrors, MissingModelFolder) {
  test::TempDir dir;
  const auto missing = (dir / "no-such-model").string();
  expectCleanFailure(runCli({"info", missing}), "no-such-model");
}

TEST(CliErrors, TokenIdOutsideTheVocabulary) {
  test::TempDir dir;
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,999", "--save",
                         (dir / "out.safetensors").string()});
  expectCleanFailure(r, "vocabulary");
  EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out.safetensors"));
}

TEST(CliErrors, IdsThatAreNotNumbers) {
  test::TempDir dir;
  const auto r = runCli(
      {"run", modelDir("gpt2-tiny"), "--ids", "1,x", "--save", (dir / "out.safetensors").string()});
  expectCleanFailure(r, "'x'");
}

TEST(CliErrors, HookPatternMatchingNothing) {
  test::TempDir dir;
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,2", "--hooks",
                         "blocks.*.hook_nope", "--save", (dir / "out.safetensors").string()});
  expectCleanFailure(r, "blocks.*.hook_nope");
  EXPECT_FALSE(fs::exists(dir / "out.safetensors"));
}

TEST(CliErrors, BothIdsAndPixels) {
  test::TempDir dir;
  const auto pixels = dir / "pixels.safetensors";
  data::writeSafetensors(pixels, {{"pixel_values", torch::rand({1, 3, 32, 32})}});
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,2", "--pixels", pixels.string(),
                         "--save", (dir / "out.safetensors").string()});
  expectCleanFailure(r, "--pixels");
}

TEST(CliErrors, PixelsForALanguageModel) {
  test::TempDir dir;
  const auto pixels = dir / "pixels.safetensors";
  data::writeSafetensors(pixels, {{"pixel_values", torch::rand({1, 3, 32, 32})}});
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--pixels", pixels.string(), "--save",
                         (dir / "out.safetensors").string()});
  expectCleanFailure(r, "token ids");
}

TEST(CliErrors, IdsForAnImageModel) {
  // The user gave no pixel file at all, so the message must point at --pixels rather than
  // describe the contents of a file that does not exist.
  test::TempDir dir;
  const auto r = runCli(
      {"run", modelDir("vit-tiny"), "--ids", "1,2", "--save", (dir / "out.safetensors").string()});
  expectCleanFailure(r, "--pixels");
}

TEST(CliErrors, RunWithoutSave) {
  const auto r = runCli({"run", modelDir("gpt2-tiny"), "--ids", "1,2"});
  expectCleanFailure(r, "--save");
}

// A 40x30 colour gradient; vit-tiny has no preprocessor_config.json, so it is resized to 32x32.
fs::path writeTestPng(const fs::path& path) {
  std::vector<std::uint8_t> rgb(40 * 30 * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i * 7 % 256);
  EXPECT_NE(stbi_write_png(path.string().c_str(), 40, 30, 3, rgb.data(), 40 * 3), 0);
  return path;
}

TEST(CliRun, VitTakesImagesAndPrintsTopClasses) {
  test::TempDir dir;
  const auto png = writeTestPng(dir / "x.png");
  const auto out = dir / "out.safetensors";
  const auto r = runCli({"run", modelDir("vit-tiny"), "--image", png.string(), "--image",
                         png.string(), "--save", out.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto file = data::SafetensorsFile::open(out);
  EXPECT_EQ(shapeOf(file, "pixel_values"), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(shapeOf(file, "logits"), (std::vector<int64_t>{2, 10}));
  int classLines = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("LABEL_") != std::string::npos) ++classLines;
  }
  EXPECT_EQ(classLines, 10) << r.out;  // five per image
}

TEST(CliErrors, CorruptImage) {
  test::TempDir dir;
  const auto bad = dir / "bad.png";
  std::ofstream(bad) << "not an image at all";
  const auto r = runCli({"run", modelDir("vit-tiny"), "--image", bad.string(), "--save",
                         (dir / "out.safetensors").string()});
  expectCleanFailure(r, "bad.png");
}

TEST(CliErrors, ImageTogetherWithPixels) {
  test::TempDir dir;
  const auto png = writeTestPng(dir / "x.png");
  const auto r = runCli({"run", modelDir("vit-tiny"), "--image", png.string(), "--pixels",
                         png.string(), "--save", (dir / "out.safetensors").string()});
  expectCleanFailure(r, "--image");
}

}  // namespace
}  // namespace cs
