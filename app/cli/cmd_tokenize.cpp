// `tokenize MODEL_DIR TEXT [--json]`: the token ids of a text and how each token reads. Needs
// only the folder's tokenizer files, not its config.json or weights.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "data/tokenizer.h"

namespace cs::cli {

void addTokenizeCommand(CLI::App& app, const GlobalOptions& /*options*/) {
  auto* cmd = app.add_subcommand("tokenize", "show the token ids and tokens of a text");
  auto folder = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  addModelFolderOption(cmd, *folder,
                       "folder with tokenizer.json, vocab.json + merges.txt or tokenizer.model")
      ->required();
  cmd->add_option("TEXT", *text, "UTF-8 text to tokenize")->required();
  cmd->add_flag("--json", *json,
                "print {\"ids\": [...], \"tokens\": [...], \"prefix_id\": ID or null}");
  cmd->callback([folder, text, json] {
    const auto tokenizer = data::loadTokenizer(*folder);
    const auto ids = tokenizer->encode(*text);
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const auto id : ids) tokens.push_back(tokenizer->displayToken(id));
    // The beginning-of-sequence id that `run --prompt` and prompt sets put first, if any.
    const auto prefix = tokenizer->prefixTokenId();
    if (*json) {
      nlohmann::json out{{"ids", ids}, {"tokens", tokens}, {"prefix_id", nullptr}};
      if (prefix) out["prefix_id"] = *prefix;
      std::cout << out.dump() << "\n";
      return;
    }
    std::cout << ids.size() << " tokens\n";
    if (prefix) {
      std::cout << "(prompts start with " << *prefix << " '" << tokenizer->displayToken(*prefix)
                << "', not counted)\n";
    }
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << ids[i] << "\t" << tokens[i] << "\n";
  });
}

}  // namespace cs::cli
