// Example inputs and metric tokens from command-line text.
#include "app/cli/example_inputs.h"

#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/cli/cli_common.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "data/image.h"
#include "data/tokenizer.h"

namespace cs::cli {

std::unique_ptr<data::Tokenizer> optionalTokenizer(const std::string& folder) {
  try {
    return data::loadTokenizer(folder);
  } catch (const Error&) {
    return nullptr;
  }
}

std::vector<int> parseIntList(const std::string& text, const std::string& option) {
  std::vector<int> out;
  if (text.empty()) return out;
  const auto ids = parseIds(text);
  if (ids.ids.size(0) != 1 || ids.mask.defined()) {
    throw ConfigError(option + " takes one comma-separated list, e.g. 0,3,5");
  }
  for (int64_t i = 0; i < ids.ids.size(1); ++i) out.push_back(ids.ids[0][i].item<int>());
  return out;
}

models::ModelInput exampleInput(const std::string& prompt, const std::string& ids,
                                const std::string& image, const std::string& which,
                                const std::string& folder, const models::TransformerConfig& config,
                                const data::Tokenizer* tokenizer) {
  const int given = !prompt.empty() + !ids.empty() + !image.empty();
  if (given != 1) {
    throw ConfigError("give the " + which + " input once: --" + which + " TEXT, --" + which +
                      "-ids IDS or --" + which + "-image FILE");
  }
  models::ModelInput input;
  if (!image.empty()) {
    if (config.input != models::InputKind::Patches) {
      throw ConfigError(folder + " is a language model; --" + which +
                        "-image is for image "
                        "models");
    }
    input.pixels = preprocessImages(folder, config, {data::decodeImage(image)}, {image});
    return input;
  }
  if (config.input == models::InputKind::Patches) {
    throw ConfigError(folder + " is an image model: give --" + which + "-image FILE");
  }
  if (!ids.empty()) {
    const auto parsed = parseIds(ids);
    if (parsed.ids.size(0) != 1) throw ConfigError("--" + which + "-ids takes one row of ids");
    input.tokens = parsed.ids;
  } else {
    if (!tokenizer) throw ConfigError(folder + " has no tokenizer; give --" + which + "-ids");
    input.tokens = at::tensor(promptIds(*tokenizer, prompt), at::kLong).unsqueeze(0);
  }
  return input;
}

std::int64_t metricToken(const std::string& text, std::int64_t id,
                         const models::TransformerConfig& config, const data::Tokenizer* tokenizer,
                         const std::string& option) {
  if (id >= 0 || text.empty()) return id;
  if (config.head == models::HeadKind::Classifier) {
    for (std::size_t i = 0; i < config.classLabels.size(); ++i) {
      if (config.classLabels[i] == text) return static_cast<std::int64_t>(i);
    }
    throw ConfigError(option + " \"" + text + "\" is not a class label of this model");
  }
  if (!tokenizer) throw ConfigError("this model folder has no tokenizer; use " + option + "-id");
  const auto ids = tokenizer->encodeContinuation(text);
  if (ids.empty()) throw ConfigError(option + " \"" + text + "\" gives no tokens");
  return ids.front();
}

std::int64_t topPrediction(models::Model& model, const models::ModelInput& input,
                           std::int64_t position) {
  c10::InferenceMode guard;
  auto logits = model.forward(input)[0];
  if (logits.dim() == 2) logits = logits[position < 0 ? logits.size(0) - 1 : position];
  return logits.argmax().item<std::int64_t>();
}

std::string tokenText(std::int64_t id, const models::TransformerConfig& config,
                      const data::Tokenizer* tokenizer) {
  if (config.head == models::HeadKind::Classifier && id >= 0 &&
      id < static_cast<std::int64_t>(config.classLabels.size())) {
    return config.classLabels[static_cast<std::size_t>(id)];
  }
  // No "literal" + std::string below: GCC 12 at -O3 warns falsely (-Wstringop-overflow) on it
  // here.
  if (tokenizer && id >= 0 && id < tokenizer->vocabSize()) {
    auto quoted = tokenizer->displayToken(id);
    quoted.insert(quoted.begin(), '\'');
    quoted.push_back('\'');
    return quoted;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%s%lld",
                config.head == models::HeadKind::Classifier ? "class " : "#",
                static_cast<long long>(id));
  return text;
}

DatasetExample datasetExample(const std::string& spec, std::int64_t row, const std::string& folder,
                              const models::TransformerConfig& config) {
  data::DatasetContext context;
  context.modelFolder = folder;
  context.contextLength = config.nCtx;
  if (config.imageSize > 0) context.imageSize = config.imageSize;
  context.classLabels = config.classLabels;
  const auto dataset = data::openDataset(spec, context);
  if (row < 0 || row >= dataset->size()) {
    throw ConfigError("--row " + std::to_string(row) + ": " + dataset->describe() +
                      " has rows 0 to " + std::to_string(dataset->size() - 1));
  }
  const auto b = dataset->batch(row, 1);
  DatasetExample e;
  e.input.pixels = b.pixels;
  e.input.tokens = b.tokens;
  if (b.targets.defined()) e.target = b.targets[0].item<std::int64_t>();
  if (b.foils.defined()) e.foil = b.foils[0].item<std::int64_t>();
  if (b.scorePositions.defined()) e.position = b.scorePositions[0].item<std::int64_t>();
  if (b.tokens.defined() && b.attentionMask.defined()) {
    // Padding is not part of the example: keep the real tokens, and the scored position among
    // them.
    const auto keep = b.attentionMask[0].nonzero().view({-1});
    if (e.position >= 0) {
      e.position = keep.lt(e.position).sum().item<std::int64_t>();
    }
    e.input.tokens = b.tokens.index_select(1, keep);
  }
  return e;
}

void addExampleOptions(CLI::App* command, ExampleOptions& o) {
  command->add_option("--prompt", o.prompt, "prompt text");
  command->add_option("--ids,--prompt-ids", o.ids, "prompt token ids, e.g. 1,2,3");
  command->add_option("--image,--prompt-image", o.image, "image file (image models)");
  command->add_option("--dataset", o.dataset,
                      "take the input from this dataset (with --row); its target is the default");
  command->add_option("--row", o.row, "the dataset row to analyse")->check(CLI::NonNegativeNumber);
  command->add_option("--target", o.target,
                      "target token (text, first token) or class label; default: the dataset "
                      "row's target, else the top prediction");
  command->add_option("--target-id", o.targetId, "target token id or class index")
      ->check(CLI::NonNegativeNumber);
}

DatasetExample resolveExample(const ExampleOptions& o, const std::string& folder,
                              const models::TransformerConfig& config,
                              const data::Tokenizer* tokenizer) {
  if (o.dataset.empty()) {
    return {exampleInput(o.prompt, o.ids, o.image, "prompt", folder, config, tokenizer)};
  }
  if (!o.prompt.empty() || !o.ids.empty() || !o.image.empty()) {
    throw ConfigError("give the input once: --prompt, --ids, --image or --dataset with --row");
  }
  if (o.row < 0) throw ConfigError("--dataset needs --row N (the example to analyse)");
  return datasetExample(o.dataset, o.row, folder, config);
}

}  // namespace cs::cli
