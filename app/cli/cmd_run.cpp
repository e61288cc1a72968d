// `run MODEL_DIR --ids ... | --pixels FILE --hooks PATTERN... --save OUT.safetensors`:
// one batch through the model, saving the logits and every requested activation by hook name.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/safetensors.h"
#include "models/cache_run.h"

namespace cs::cli {

namespace {
struct RunArgs {
  std::string folder;
  std::string ids;
  std::string pixels;
  std::vector<std::string> hooks;
  std::string save;
};

void runCommand(const RunArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  if (args.ids.empty() == args.pixels.empty()) {
    throw ConfigError("give exactly one of --ids (language models) or --pixels (image models)");
  }
  models::ModelInput input;
  std::vector<std::pair<std::string, at::Tensor>> saved;
  if (!args.ids.empty()) {
    const auto parsed = parseIds(args.ids);
    input.tokens = parsed.ids;
    input.attentionMask = parsed.mask;
    saved.emplace_back("input_ids", parsed.ids);
    if (parsed.mask.defined()) saved.emplace_back("attention_mask", parsed.mask);
  } else {
    const auto file = data::SafetensorsFile::open(args.pixels);
    if (!file.contains("pixel_values")) {
      throw FormatError(args.pixels +
                        ": no tensor named 'pixel_values' [batch, channels, height, width]");
    }
    input.pixels = file.tensor("pixel_values").to(at::kFloat);
  }
  auto model = loadModel(args.folder, options);
  const bool imageModel = model->config().input == models::InputKind::Patches;
  if (imageModel && !input.pixels.defined()) {
    throw ConfigError(args.folder +
                      " is an image model: give --pixels FILE.safetensors holding pixel_values");
  }
  if (!imageModel && !input.tokens.defined()) {
    throw ConfigError(args.folder +
                      " is a language model: give token ids with --ids, e.g. --ids \"1,2,3\"");
  }
  if (imageModel && input.pixels.size(0) == 0)
    throw ShapeError(args.pixels + ": pixel_values holds no images");
  c10::InferenceMode guard;
  hooks::ActivationCache cache;
  const auto logits = args.hooks.empty() ? model->forward(input)
                                         : models::runWithCache(*model, input, args.hooks, cache);
  saved.emplace_back("logits", logits);
  for (const auto& name : cache.names()) saved.emplace_back(name, cache.at(name));
  data::writeSafetensors(args.save, saved, {{"producer", "circuitscope-cli run"}});
  for (const auto& [name, t] : saved) {
    std::cout << name << " " << t.sizes() << "\n";
  }
  std::cout << "saved " << saved.size() << " tensors to " << args.save << "\n";
}
}  // namespace

void addRunCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("run", "run one batch and save logits and hook activations");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("MODEL_DIR", args->folder, "Hugging Face model folder")->required();
  cmd->add_option("--ids", args->ids, "token ids, rows separated by ';' (e.g. \"1,2,3;4,5\")");
  cmd->add_option("--pixels", args->pixels, "safetensors file with pixel_values [B, C, H, W]");
  cmd->add_option("--hooks", args->hooks,
                  "hook name patterns (glob), e.g. 'blocks.*.hook_resid_post'");
  cmd->add_option("--save", args->save, "output .safetensors file")->required();
  cmd->callback([&options, args] { runCommand(*args, options); });
}

}  // namespace cs::cli
