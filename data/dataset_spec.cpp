// Parsing of "name:key=value,key=value" dataset specifications.
#include "data/dataset_spec.h"

#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "data/digits_dataset.h"
#include "data/image_folder_dataset.h"
#include "data/prompt_dataset.h"
#include "data/synthetic_datasets.h"
#include "data/text_corpus.h"
#include "data/tokenizer.h"

namespace cs::data {

namespace {

struct Spec {
  std::string name;
  std::map<std::string, std::int64_t> values;
};

Spec parseSpec(const std::string& text) {
  Spec spec;
  const auto colon = text.find(':');
  spec.name = text.substr(0, colon);
  if (colon == std::string::npos) return spec;
  std::stringstream stream(text.substr(colon + 1));
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError("dataset '" + text + "': '" + item + "' is not key=value");
    }
    const auto key = item.substr(0, eq);
    const auto value = item.substr(eq + 1);
    std::size_t used = 0;
    long long number = 0;
    try {
      number = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size() || number < 0) {
      throw ConfigError("dataset '" + text + "': " + key + "='" + value +
                        "' is not a non-negative integer");
    }
    spec.values[key] = number;
  }
  return spec;
}

// Reads the spec's values with defaults; unknown keys are an error listing the known ones.
class Values {
 public:
  Values(const Spec& spec, const std::string& text, std::map<std::string, std::int64_t> defaults)
      : m_values(std::move(defaults)) {
    for (const auto& [key, value] : spec.values) {
      if (!m_values.count(key)) {
        std::string known;
        for (const auto& [k, v] : m_values) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError("dataset '" + text + "': unknown key '" + key + "' (known: " + known +
                          ")");
      }
      m_values[key] = value;
    }
  }
  std::int64_t operator[](const std::string& key) const { return m_values.at(key); }

 private:
  std::map<std::string, std::int64_t> m_values;
};

// The model folder a text or image dataset needs; ConfigError saying what for when absent.
const std::filesystem::path& requireModelFolder(const DatasetContext& context,
                                                const std::string& text, const char* what) {
  if (context.modelFolder.empty()) {
    throw ConfigError("dataset " + text + " needs the model folder's " + what);
  }
  return context.modelFolder;
}

}  // namespace

std::unique_ptr<Dataset> openDataset(const std::string& text, const DatasetContext& context) {
  if (std::filesystem::is_directory(text)) {
    const auto& folder = requireModelFolder(context, text, "image preprocessing");
    return std::make_unique<ImageFolderDataset>(
        text, loadImagePreprocessor(folder, context.imageSize), context.classLabels);
  }
  const auto extension = std::filesystem::path(text).extension();
  if (extension == ".jsonl" || extension == ".txt") {
    const auto tokenizer = loadTokenizer(requireModelFolder(context, text, "tokenizer"));
    if (extension == ".txt") return openTextCorpus(text, *tokenizer, context.contextLength);
    return std::make_unique<PromptDataset>(readPromptLines(text), *tokenizer,
                                           std::filesystem::path(text).filename().string());
  }
  const auto spec = parseSpec(text);
  if (spec.name == "ioi") {
    const Values v(spec, text, {{"rows", 100}, {"seed", 0}});
    const auto tokenizer = loadTokenizer(requireModelFolder(context, text, "tokenizer"));
    return std::make_unique<PromptDataset>(
        indirectObjectPrompts(v["rows"], static_cast<std::uint64_t>(v["seed"])), *tokenizer,
        "indirect-object prompts");
  }
  if (spec.name == "induction") {
    const Values v(spec, text,
                   {{"rows", 256}, {"half", 20}, {"vocab", 128}, {"seed", 0}, {"first", 0}});
    return std::make_unique<InductionDataset>(v["rows"], v["half"], v["vocab"],
                                              static_cast<std::uint64_t>(v["seed"]), v["first"]);
  }
  if (spec.name == "modadd") {
    const Values v(spec, text, {{"p", 113}, {"rows", 0}, {"seed", 0}});
    return std::make_unique<ModularAdditionDataset>(v["p"], v["rows"],
                                                    static_cast<std::uint64_t>(v["seed"]));
  }
  if (spec.name == "modadd-train" || spec.name == "modadd-test") {
    const Values v(spec, text, {{"p", 113}, {"percent", 30}, {"seed", 0}});
    const auto split = spec.name == "modadd-train" ? ModularSplit::Train : ModularSplit::Test;
    return std::make_unique<ModularAdditionDataset>(v["p"], split, v["percent"],
                                                    static_cast<std::uint64_t>(v["seed"]));
  }
  if (spec.name == "digits-test" || spec.name == "digits-train" || spec.name == "digits") {
    const Values noKeys(spec, text, {});
    const auto split = spec.name == "digits-test"    ? DigitsSplit::Test
                       : spec.name == "digits-train" ? DigitsSplit::Train
                                                     : DigitsSplit::All;
    return std::make_unique<DigitsDataset>(split);
  }
  throw ConfigError(
      "dataset '" + text +
      "' is not known; generators: induction:rows=,half=,vocab=,seed=,first=, "
      "modadd:p=,rows=,seed=, modadd-train:p=,percent=,seed=, modadd-test:p=,percent=,seed=, "
      "ioi:rows=,seed=; shipped: digits-test, digits-train, digits; "
      "files: prompts.jsonl, corpus.txt, an image folder (see docs/datasets.md)");
}

}  // namespace cs::data
