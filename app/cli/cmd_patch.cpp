// `patch MODEL_DIR --clean ... --corrupted ... [--hooks PATTERN...] [--heads LIST]
// [--positions LIST] [--neurons LIST] [--per-position] [--per-neuron] [--answer TOKEN]
// [--foil TOKEN] [--noising] [--save FILE]`: activation patching at any hooks, one row per
// patched location with the metric and its normalised score. `analyze patching` runs the
// standard sweeps (heads, resid, attn-out, mlp-out, neurons) with heatmap output.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/activation_patching.h"
#include "app/cli/commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/image.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {
struct PatchArgs {
  std::string folder;
  std::string clean, corrupted;            // prompts
  std::string cleanIds, corruptedIds;      // "1,2,3"
  std::string cleanImage, corruptedImage;  // image files
  std::vector<std::string> hooks{"blocks.*.attn.hook_z"};
  std::string heads, positions, neurons;
  bool perPosition = false;
  bool perNeuron = false;
  bool wholeHooks = false;
  std::string answer, foil;  // text (first token) or class label
  std::int64_t answerId = -1, foilId = -1;
  std::int64_t position = -1;
  bool noising = false;
  int batch = 16;
  std::string save;
  std::string run = "patch";
  bool json = false;
};

void saveResult(const analysis::PatchingResult& r, const nlohmann::json& options,
                const PatchArgs& args) {
  auto columns =
      data::namedColumns({"hook", "layer", "head", "position", "neuron", "metric", "score"});
  for (const auto& loc : r.locations) {
    columns[0].texts.push_back(loc.hook);
    columns[1].integers.push_back(loc.layer);
    columns[2].integers.push_back(loc.head);
    columns[3].integers.push_back(loc.position);
    columns[4].integers.push_back(loc.neuron);
    columns[5].reals.push_back(loc.metric);
    columns[6].reals.push_back(loc.score);
  }
  data::writeResultTable(args.save, "activation_patching", args.run, columns, options.dump());
}

void patchCommand(const PatchArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  const auto tokenizer = optionalTokenizer(args.folder);
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();
  const auto clean = exampleInput(args.clean, args.cleanIds, args.cleanImage, "clean", args.folder,
                                  config, tokenizer.get());
  const auto corrupted = exampleInput(args.corrupted, args.corruptedIds, args.corruptedImage,
                                      "corrupted", args.folder, config, tokenizer.get());
  analysis::PatchMetric metric;
  metric.position = args.position;
  metric.answer = metricToken(args.answer, args.answerId, config, tokenizer.get(), "--answer");
  metric.foil = metricToken(args.foil, args.foilId, config, tokenizer.get(), "--foil");
  // Defaults: the clean run's prediction against the corrupted run's.
  if (metric.answer < 0) metric.answer = topPrediction(*model, clean, args.position);
  if (metric.foil < 0 && args.foil.empty()) {
    const auto other = topPrediction(*model, corrupted, args.position);
    if (other != metric.answer) metric.foil = other;
  }
  analysis::PatchingOptions patching;
  patching.hookPatterns = args.hooks;
  patching.perHead = !args.wholeHooks;
  patching.perPosition = args.perPosition;
  patching.perNeuron = args.perNeuron;
  patching.neurons = parseIntList(args.neurons, "--neurons");
  patching.heads = parseIntList(args.heads, "--heads");
  patching.positions = parseIntList(args.positions, "--positions");
  patching.direction =
      args.noising ? analysis::PatchDirection::Noising : analysis::PatchDirection::Denoising;
  patching.locationsPerPass = args.batch;
  Progress progress;
  analysis::PatchingResult r;
  {
    ProgressLine line(progress, options);
    r = analysis::patchActivations(*model, clean, corrupted, metric, patching, progress);
  }
  const auto answer = tokenText(metric.answer, config, tokenizer.get());
  const auto foil = metric.foil >= 0 ? tokenText(metric.foil, config, tokenizer.get()) : "";
  nlohmann::json described{{"model", args.folder},
                           {"direction", r.direction},
                           {"metric", r.metric},
                           {"answer", answer},
                           {"foil", foil},
                           {"clean_metric", r.cleanMetric},
                           {"corrupted_metric", r.corruptedMetric},
                           {"hooks", args.hooks},
                           {"forward_passes", r.forwardPasses}};
  if (!args.save.empty()) saveResult(r, described, args);
  if (args.json) {
    auto j = described;
    j["locations"] = nlohmann::json::array();
    for (const auto& loc : r.locations) {
      j["locations"].push_back({{"hook", loc.hook},
                                {"layer", loc.layer},
                                {"head", loc.head},
                                {"position", loc.position},
                                {"neuron", loc.neuron},
                                {"metric", loc.metric},
                                {"score", loc.score}});
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("metric     %s  (answer %s%s%s)\n", r.metric.c_str(), answer.c_str(),
              foil.empty() ? "" : ", foil ", foil.c_str());
  std::printf("clean      %.6f\ncorrupted  %.6f\ndirection  %s (%s)\n", r.cleanMetric,
              r.corruptedMetric, r.direction.c_str(),
              args.noising ? "corrupted patched into clean" : "clean patched into corrupted");
  if (std::abs(r.cleanMetric - r.corruptedMetric) < 1e-8) {
    std::printf("note       clean and corrupted metrics are equal: every score is reported as 0\n");
  }
  std::printf("\n%-34s %5s %5s %6s %12s %8s\n", "hook", "head", "pos", "neuron", "metric", "score");
  auto text = [](int i) { return i < 0 ? std::string("all") : std::to_string(i); };
  for (const auto& loc : r.locations) {
    std::printf("%-34s %5s %5s %6s %12.6f %8.4f\n", loc.hook.c_str(), text(loc.head).c_str(),
                text(loc.position).c_str(), text(loc.neuron).c_str(), loc.metric, loc.score);
  }
  std::printf("\n%zu locations in %d forward passes\n", r.locations.size(), r.forwardPasses);
  if (!args.save.empty()) {
    std::printf("saved to %s:/results/activation_patching/%s\n", args.save.c_str(),
                args.run.c_str());
  }
}
}  // namespace

void addPatchCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand(
      "patch", "activation patching: splice clean activations into a corrupted run (or back)");
  auto args = std::make_shared<PatchArgs>();
  addModelFolderOption(cmd, args->folder, "model folder")->required();
  cmd->add_option("--clean", args->clean, "clean prompt text");
  cmd->add_option("--corrupted", args->corrupted, "corrupted prompt text (same token count)");
  cmd->add_option("--clean-ids", args->cleanIds, "clean token ids, e.g. 1,2,3");
  cmd->add_option("--corrupted-ids", args->corruptedIds, "corrupted token ids");
  cmd->add_option("--clean-image", args->cleanImage, "clean image (image models)");
  cmd->add_option("--corrupted-image", args->corruptedImage, "corrupted image");
  cmd->add_option("--hooks", args->hooks, "hook name patterns to patch")->capture_default_str();
  cmd->add_option("--heads", args->heads, "only these heads, e.g. 0,3");
  cmd->add_option("--positions", args->positions, "only these positions, e.g. 4,7");
  cmd->add_flag("--per-position", args->perPosition, "one location per position");
  cmd->add_option("--neurons", args->neurons, "only these MLP neurons, e.g. 10,200");
  cmd->add_flag("--per-neuron", args->perNeuron,
                "one location per neuron of mlp.hook_pre / mlp.hook_post");
  cmd->add_flag("--whole-hooks", args->wholeHooks, "patch all heads of a hook together");
  cmd->add_option("--answer", args->answer,
                  "answer token (text, first token) or class label; default: the clean "
                  "run's prediction");
  cmd->add_option("--answer-id", args->answerId, "answer token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--foil", args->foil,
                  "foil token or class; default: the corrupted run's prediction");
  cmd->add_option("--foil-id", args->foilId, "foil token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--position", args->position, "position the metric reads (default: last)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--noising", args->noising, "patch corrupted activations into the clean run");
  cmd->add_option("--batch", args->batch, "locations patched per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--save", args->save, "HDF5 file for /results/activation_patching/RUN");
  cmd->add_option("--run", args->run, "run name under /results/activation_patching")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { patchCommand(*args, options); });
}

}  // namespace cs::cli
