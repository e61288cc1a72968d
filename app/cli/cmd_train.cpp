// `train RECIPE --out DIR [--seed S] [--steps N] [--json]`: trains a built-in model (induction,
// modadd, digits-vit, digits-mlp) with its recipe, showing step, loss and accuracy on stderr,
// and writes a circuitscope checkpoint with manifest.json into DIR. Deterministic for a seed and
// thread count (--threads).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/train_recipes.h"
#include "app/cli/commands.h"
#include "core/error.h"
#include "core/threads.h"

namespace cs::cli {

namespace {
struct TrainArgs {
  std::string recipe;
  std::string out;
  std::uint64_t seed = 0;
  std::int64_t steps = 0;
  bool json = false;
};

// Checked before training, which can take an hour (modadd), not when the weights are written.
void checkOutputFolder(const std::filesystem::path& out) {
  std::error_code ec;
  auto existing = out;
  while (!existing.empty() && !std::filesystem::exists(existing, ec)) {
    existing = existing.parent_path();
  }
  if (existing.empty()) existing = ".";
  if (!std::filesystem::is_directory(existing, ec)) {
    throw ConfigError("--out " + out.string() + ": " + existing.string() +
                      " is a file, not a folder; give a folder for the trained model");
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    throw ConfigError("--out " + out.string() + ": cannot write in " + existing.string() +
                      "; give a folder you can write to");
  }
}

void trainCommand(const TrainArgs& args, const GlobalOptions& options) {
  if (options.device != "cpu" || options.dtype != "float32") {
    throw ConfigError(
        "train runs on the CPU in float32 (that is what makes it deterministic); drop --device "
        "and --dtype");
  }
  configureThreads(options.threads);
  auto recipe = analysis::trainRecipe(args.recipe, args.seed);
  checkOutputFolder(args.out);
  if (args.steps > 0) recipe.options.steps = args.steps;
  Progress progress;
  if (!options.quiet && !isatty(STDERR_FILENO)) {
    // No terminal (a log file): one line per evaluation instead of a progress line.
    // Progress copies the listener for each call: the last stage lives outside it.
    auto last = std::make_shared<std::string>();
    progress.setListener([last](const std::string& stage, double) {
      if (stage == *last) return;
      *last = stage;
      std::fprintf(stderr, "%s\n", stage.c_str());
    });
  }
  analysis::TrainRun run;
  {
    ProgressLine line(progress, options);
    run = analysis::runTrainRecipe(recipe, progress);
  }
  analysis::writeTrainedModel(*run.model, recipe, run.result, args.out);
  const auto& r = run.result;
  if (args.json) {
    nlohmann::json j{{"recipe", r.recipe},
                     {"out", args.out},
                     {"seed", r.seed},
                     {"steps", r.steps},
                     {"threads", r.threads},
                     {"seconds", r.seconds},
                     {"reached_target", r.reachedTarget},
                     {"target", r.target},
                     {"train_accuracy", r.trainAccuracy},
                     {"test_accuracy", r.testAccuracy},
                     {"train_loss", r.trainLoss},
                     {"test_loss", r.testLoss}};
    if (r.firstHalfAccuracy >= 0.0) j["first_half_accuracy"] = r.firstHalfAccuracy;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("recipe          %s (seed %llu, %d threads)\n", r.recipe.c_str(),
              static_cast<unsigned long long>(r.seed), r.threads);
  std::printf("steps           %lld of %lld in %.1f s", static_cast<long long>(r.steps),
              static_cast<long long>(r.maxSteps), r.seconds);
  if (r.target > 0.0) {
    std::printf(r.reachedTarget ? " (stopped at the target %.3f)" : " (target %.3f not reached)",
                r.target);
  }
  std::printf("\n");
  std::printf("train accuracy  %.4f  (loss %.4f, %s)\n", r.trainAccuracy, r.trainLoss,
              r.trainDataset.c_str());
  std::printf("test accuracy   %.4f  (loss %.4f, %s)\n", r.testAccuracy, r.testLoss,
              r.testDataset.c_str());
  if (r.firstHalfAccuracy >= 0.0) {
    std::printf("first half      %.4f  (unrepeated tokens: chance is 1 / %d)\n",
                r.firstHalfAccuracy, recipe.config.dVocab);
  }
  std::printf("wrote           %s (config.json, model.safetensors, manifest.json)\n",
              args.out.c_str());
}
}  // namespace

void addTrainCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("train", "train a built-in model from its recipe");
  auto args = std::make_shared<TrainArgs>();
  std::string recipes;
  for (const auto& n : analysis::trainRecipeNames()) recipes += (recipes.empty() ? "" : ", ") + n;
  cmd->add_option("RECIPE", args->recipe, recipes)->required();
  cmd->add_option("--out", args->out, "folder for config.json, model.safetensors, manifest.json")
      ->required();
  cmd->add_option("--seed", args->seed, "seed of the weights, the batches and the data split")
      ->capture_default_str();
  cmd->add_option("--steps", args->steps, "step budget (default: the recipe's)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { trainCommand(*args, options); });
}

}  // namespace cs::cli
