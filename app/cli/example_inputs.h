// One example from the command line (a prompt, token ids or an image) and the tokens or classes
// a metric names: shared by `patch` and the `analyze` subcommands.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/transformer_config.h"

namespace CLI {
class App;
}
namespace cs::data {
class Tokenizer;
}

namespace cs::cli {

/// The tokenizer of a model folder, or null when it has none: ids and images work without one,
/// and prompts say so when they need it.
std::unique_ptr<data::Tokenizer> optionalTokenizer(const std::string& folder);

/// "0,3,5" -> {0, 3, 5}; "" -> {}. ConfigError naming `option` for anything else.
std::vector<int> parseIntList(const std::string& text, const std::string& option);

/// One example [1, ...] from exactly one of a prompt, ids ("1,2,3") or an image file; `which`
/// names the options in messages (--WHICH, --WHICH-ids, --WHICH-image).
models::ModelInput exampleInput(const std::string& prompt, const std::string& ids,
                                const std::string& image, const std::string& which,
                                const std::string& folder, const models::TransformerConfig& config,
                                const data::Tokenizer* tokenizer);

/// One dataset row (docs/datasets.md spec) as a single example, with what it scores (target,
/// foil, position; -1 where it names none). Padding is dropped and the position moved with it.
struct DatasetExample {
  models::ModelInput input;
  std::int64_t target = -1, foil = -1, position = -1;
};
DatasetExample datasetExample(const std::string& spec, std::int64_t row, const std::string& folder,
                              const models::TransformerConfig& config);

/// The input options of an analysis of one example: --prompt, --ids, --image, or --dataset with
/// --row, and the target (--target TEXT or --target-id ID).
struct ExampleOptions {
  std::string prompt, ids, image, dataset;
  std::int64_t row = -1;
  std::string target;
  std::int64_t targetId = -1;
};
void addExampleOptions(CLI::App* command, ExampleOptions& options);
/// The example the options name: a dataset row with what it scores, or the prompt, ids or image
/// (target, foil and position -1). ConfigError for more than one input, or --dataset without
/// --row.
DatasetExample resolveExample(const ExampleOptions& options, const std::string& folder,
                              const models::TransformerConfig& config,
                              const data::Tokenizer* tokenizer);

/// A metric token: `id` when given (>= 0), else the first token of `text` as a continuation, or
/// (classifiers) the class whose label is `text`; -1 when both are empty.
std::int64_t metricToken(const std::string& text, std::int64_t id,
                         const models::TransformerConfig& config, const data::Tokenizer* tokenizer,
                         const std::string& option);

/// The top prediction at `position` (-1: last; classifiers: the top class).
std::int64_t topPrediction(models::Model& model, const models::ModelInput& input,
                           std::int64_t position);

/// A token or class for people: 'text', a class label, or #id.
std::string tokenText(std::int64_t id, const models::TransformerConfig& config,
                      const data::Tokenizer* tokenizer);

}  // namespace cs::cli
