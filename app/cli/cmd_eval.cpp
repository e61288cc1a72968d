// `eval MODEL_DIR --dataset SPEC [--limit N] [--batch-size N] [--json]`: accuracy, mean loss and
// logit difference over a dataset, with a progress line on stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "analysis/evaluation.h"
#include "app/cli/commands.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/numeric_health.h"

namespace cs::cli {

namespace {
struct EvalArgs {
  std::string folder;
  std::string dataset;
  std::int64_t limit = 0;
  std::int64_t batchSize = 32;
  bool json = false;
};

void evalCommand(const EvalArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  auto model = loadModel(args.folder, options);
  std::optional<models::NumericHealthGuard> health;
  if (options.checkNumerics) health.emplace(*model);
  const auto& config = model->config();
  const auto dataset = data::openDataset(
      args.dataset, {args.folder, config.nCtx, config.imageSize, config.classLabels});
  Progress progress;
  analysis::EvalResult r;
  {
    ProgressLine line(progress, options);
    r = analysis::evaluate(*model, *dataset, {args.batchSize, args.limit}, progress);
  }
  if (args.json) {
    nlohmann::json j{{"dataset", r.dataset},         {"rows", r.rows},
                     {"predictions", r.predictions}, {"accuracy", r.accuracy},
                     {"mean_loss", r.meanLoss},      {"seconds", r.seconds}};
    if (r.hasLogitDiff) j["mean_logit_diff"] = r.meanLogitDiff;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("dataset      %s\n", r.dataset.c_str());
  std::printf("rows         %lld (%lld predictions)\n", static_cast<long long>(r.rows),
              static_cast<long long>(r.predictions));
  std::printf("accuracy     %.4f\n", r.accuracy);
  std::printf("mean loss    %.4f nats\n", r.meanLoss);
  if (r.hasLogitDiff) std::printf("logit diff   %.4f\n", r.meanLogitDiff);
  std::printf("time         %.2f s\n", r.seconds);
}
}  // namespace

void addEvalCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("eval", "accuracy, loss and logit difference over a dataset");
  auto args = std::make_shared<EvalArgs>();
  addModelFolderOption(cmd, args->folder, "Hugging Face model folder")->required();
  cmd->add_option("--dataset", args->dataset,
                  "dataset spec, e.g. induction:rows=256,half=20,vocab=128 or modadd:p=113")
      ->required();
  cmd->add_option("--limit", args->limit, "evaluate at most N rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", args->batchSize)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { evalCommand(*args, options); });
}

}  // namespace cs::cli
