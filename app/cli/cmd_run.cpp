// `run MODEL_DIR --ids ... | --prompt TEXT... | --pixels FILE | --image FILE... --hooks PATTERN...
// --save OUT`: one batch through the model, saving the logits and every requested activation by
// hook name; classifiers print their top-5 classes, language models their top-5 next tokens per
// row.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <optional>

#include "app/cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "models/cache_run.h"
#include "models/numeric_health.h"

namespace cs::cli {

namespace {
struct RunArgs {
  std::string folder;
  std::string ids;
  std::string pixels;
  std::vector<std::string> images;
  std::vector<std::string> prompts;
  std::vector<std::string> hooks;
  std::string save;
};

// One line per class, best first: "  rank label probability".
void printTopClasses(const at::Tensor& logits, const models::TransformerConfig& config) {
  const auto probabilities = logits.to(at::kFloat).softmax(-1).cpu();  // [B, nClasses]
  const auto k = std::min<int64_t>(5, probabilities.size(-1));
  const auto [values, indices] = probabilities.topk(k, -1);
  for (int64_t b = 0; b < probabilities.size(0); ++b) {
    std::cout << "image " << b << " top " << k << ":\n";
    for (int64_t i = 0; i < k; ++i) {
      const auto index = indices[b][i].item<int64_t>();
      const auto label = index < static_cast<int64_t>(config.classLabels.size())
                             ? config.classLabels[static_cast<std::size_t>(index)]
                             : "class " + std::to_string(index);
      std::cout << "  " << i + 1 << " " << label << " " << std::fixed << std::setprecision(4)
                << values[b][i].item<float>() << "\n";
    }
  }
}

// For each row, the top-5 next tokens after its last real token, shown through the tokenizer
// when the folder has one.
void printTopTokens(const at::Tensor& logits, const models::ModelInput& input,
                    const data::Tokenizer* tokenizer) {
  const auto T = logits.size(1);
  const auto last = input.attentionMask.defined()
                        ? (input.attentionMask.sum(1) - 1).clamp_min(0).to(at::kLong).cpu()
                        : at::full({logits.size(0)}, T - 1, at::kLong);
  for (int64_t b = 0; b < logits.size(0); ++b) {
    const auto position = last[b].item<int64_t>();
    const auto probabilities = logits[b][position].to(at::kFloat).softmax(-1).cpu();
    const auto [values, indices] = probabilities.topk(std::min<int64_t>(5, probabilities.numel()));
    std::cout << "row " << b << " next token after position " << position << ":\n";
    for (int64_t i = 0; i < values.numel(); ++i) {
      const auto id = indices[i].item<int64_t>();
      std::cout << "  " << i + 1 << " " << id;
      if (tokenizer != nullptr && id < tokenizer->vocabSize()) {
        std::cout << " '" << tokenizer->displayToken(id) << "'";
      }
      std::cout << " " << std::fixed << std::setprecision(4) << values[i].item<float>() << "\n";
    }
  }
}

void runCommand(const RunArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  const int inputKinds = int(!args.ids.empty()) + int(!args.prompts.empty()) +
                         int(!args.pixels.empty()) + int(!args.images.empty());
  if (inputKinds != 1) {
    throw ConfigError(
        "give exactly one of --ids or --prompt (language models), --pixels or --image (image "
        "models)");
  }
  models::ModelInput input;
  std::vector<std::pair<std::string, at::Tensor>> saved;
  if (!args.ids.empty()) {
    const auto parsed = parseIds(args.ids);
    input.tokens = parsed.ids;
    input.attentionMask = parsed.mask;
    saved.emplace_back("input_ids", parsed.ids);
    if (parsed.mask.defined()) saved.emplace_back("attention_mask", parsed.mask);
  } else if (!args.pixels.empty()) {
    const auto file = data::SafetensorsFile::open(args.pixels);
    if (!file.contains("pixel_values")) {
      throw FormatError(args.pixels +
                        ": no tensor named 'pixel_values' [batch, channels, height, width]");
    }
    input.pixels = file.tensor("pixel_values").to(at::kFloat);
  }
  // Images are decoded before the model loads, so a bad file fails fast.
  std::vector<data::Image> images;
  for (const auto& path : args.images) images.push_back(data::decodeImage(path));
  // The tokenizer is required for --prompt and optional (for display) with --ids.
  std::unique_ptr<data::Tokenizer> tokenizer;
  if (!args.prompts.empty()) {
    tokenizer = data::loadTokenizer(args.folder);
    std::vector<std::vector<int64_t>> rows;
    for (const auto& prompt : args.prompts) rows.push_back(promptIds(*tokenizer, prompt));
    const auto parsed = padRows(rows);
    input.tokens = parsed.ids;
    input.attentionMask = parsed.mask;
    saved.emplace_back("input_ids", parsed.ids);
    if (parsed.mask.defined()) saved.emplace_back("attention_mask", parsed.mask);
  } else if (!args.ids.empty()) {
    try {
      tokenizer = data::loadTokenizer(args.folder);
    } catch (const Error&) {
      // Ids work without a tokenizer; the top tokens are then shown as ids only.
    }
  }
  auto model = loadModel(args.folder, options);
  const bool imageModel = model->config().input == models::InputKind::Patches;
  if (!images.empty() && imageModel) {
    input.pixels = preprocessImages(args.folder, model->config(), images, args.images);
    saved.emplace_back("pixel_values", input.pixels);
  }
  if (imageModel && !input.pixels.defined()) {
    throw ConfigError(args.folder +
                      " is an image model: give --image FILE or --pixels FILE.safetensors holding "
                      "pixel_values");
  }
  if (!imageModel && !input.tokens.defined()) {
    throw ConfigError(args.folder +
                      " is a language model: give token ids with --ids, e.g. --ids \"1,2,3\"");
  }
  if (imageModel && input.pixels.size(0) == 0)
    throw ShapeError(args.pixels + ": pixel_values holds no images");
  std::optional<models::NumericHealthGuard> health;
  if (options.checkNumerics) health.emplace(*model);
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
  if (model->config().head == models::HeadKind::Classifier) {
    printTopClasses(logits, model->config());
  } else {
    printTopTokens(logits, input, tokenizer.get());
  }
}
}  // namespace

void addRunCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("run", "run one batch and save logits and hook activations");
  auto args = std::make_shared<RunArgs>();
  addModelFolderOption(cmd, args->folder, "Hugging Face model folder")->required();
  cmd->add_option("--ids", args->ids, "token ids, rows separated by ';' (e.g. \"1,2,3;4,5\")");
  cmd->add_option("--prompt", args->prompts,
                  "text, repeatable; tokenized with the model folder's tokenizer (with its "
                  "beginning-of-sequence token first when the model expects one)");
  cmd->add_option("--pixels", args->pixels, "safetensors file with pixel_values [B, C, H, W]");
  cmd->add_option(
      "--image", args->images,
      "PNG, JPEG or binary PPM/PGM file, repeatable; preprocessed per preprocessor_config.json");
  cmd->add_option("--hooks", args->hooks,
                  "hook name patterns (glob), e.g. 'blocks.*.hook_resid_post'");
  cmd->add_option("--save", args->save, "output .safetensors file")->required();
  cmd->callback([&options, args] { runCommand(*args, options); });
}

}  // namespace cs::cli
