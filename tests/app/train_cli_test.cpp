// End-to-end: `train` writes a folder the other commands read, with a manifest that says what
// was measured; built-in models answer to builtin:NAME in info and eval; unknown recipes and
// unknown built-in names end in one clear error line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/json_document.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using test::runCli;

TEST(CliTrain, WritesACheckpointWithAManifestThatEvalAgreesWith) {
  test::TempDir dir;
  const auto out = (dir / "mlp").string();
  const auto trained = test::stdoutJson(
      runCli({"train", "digits-mlp", "--out", out, "--steps", "30", "--seed", "5", "--json"}));
  EXPECT_EQ(trained["recipe"], "digits-mlp");
  EXPECT_EQ(trained["steps"], 30);
  EXPECT_EQ(trained["threads"], 1);
  for (const auto* name : {"config.json", "model.safetensors", "manifest.json"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(out) / name)) << name;
  }
  const auto manifest = data::readJsonFile(out + "/manifest.json", 1 << 22);
  EXPECT_EQ(manifest["seed"], 5);
  EXPECT_EQ(manifest["test_dataset"], "digits-test");
  EXPECT_EQ(manifest["test_accuracy"], trained["test_accuracy"]);

  const auto eval = test::stdoutJson(runCli({"eval", out, "--dataset", "digits-test", "--json"}));
  EXPECT_NEAR(eval["accuracy"].get<double>(), manifest["test_accuracy"].get<double>(), 1e-9);
  const auto info = test::stdoutJson(runCli({"info", out, "--json"}));
  EXPECT_EQ(info["training"]["recipe"], "digits-mlp");
  EXPECT_EQ(info["norm"], "none");
}

TEST(CliTrain, UnknownRecipeListsTheRecipes) {
  test::TempDir dir;
  const auto r = runCli({"train", "gpt5", "--out", (dir / "x").string()});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("recipes: induction, modadd, digits-vit, digits-mlp"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST(CliTrain, OutputThatIsAFileFailsBeforeTraining) {
  test::TempDir dir;
  const auto file = dir / "taken";
  std::ofstream(file) << "not a folder";
  const auto r =
      runCli({"train", "digits-mlp", "--out", (file / "model").string(), "--steps", "3"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("is a file, not a folder"), std::string::npos) << r.err;
  // stderr is no terminal here, so each training stage would be a line of its own.
  EXPECT_EQ(r.err.find("training digits-mlp"), std::string::npos) << r.err;
}

TEST(CliBuiltin, InfoAndEvalAcceptBuiltinNames) {
  const auto info = runCli({"info", "builtin:induction"});
  ASSERT_EQ(info.exitCode, 0) << info.err;
  EXPECT_NE(info.out.find("trained      recipe induction"), std::string::npos) << info.out;

  const auto folder = test::stdoutJson(runCli({"info", "builtin:modadd", "--json"}))["folder"];
  const auto manifest = data::readJsonFile(folder.get<std::string>() + "/manifest.json", 1 << 22);
  const auto eval =
      test::stdoutJson(runCli({"eval", "builtin:modadd", "--dataset",
                               manifest["test_dataset"].get<std::string>(), "--json"}));
  EXPECT_NEAR(eval["accuracy"].get<double>(), manifest["test_accuracy"].get<double>(), 0.002);
}

TEST(CliBuiltin, UnknownNameListsTheAvailableModels) {
  const auto r = runCli({"eval", "builtin:gpt5", "--dataset", "digits-test"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("no built-in model 'gpt5'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("induction"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cs
