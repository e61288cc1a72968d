// Prompt sets: a prompt, the answer the model should give next, and optionally a foil (the
// wrong answer a logit difference is measured against). From JSON Lines files or the
// indirect-object (IOI) template generator; tokenized with the model folder's tokenizer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace cs::data {

class Tokenizer;

struct PromptRow {
  std::string prompt;
  std::string target;  ///< e.g. " Mary"; multi-token targets are scored by their first token
  std::string foil;    ///< empty: none
};

/// Reads {"prompt": "...", "target": "...", "foil": "..."} per line (foil optional; blank lines
/// skipped). Errors name the file and line.
std::vector<PromptRow> readPromptLines(const std::filesystem::path& file);

/// `rows` indirect-object prompts from name templates, e.g. "When Mary and John went to the
/// store, John gave a drink to" -> target " Mary", foil " John". Deterministic in the seed.
std::vector<PromptRow> indirectObjectPrompts(std::int64_t rows, std::uint64_t seed);

class PromptDataset final : public Dataset {
 public:
  /// Tokenizes every row now (errors name the row). Prompts are right-padded with id 0 and
  /// masked; the scored position is each prompt's last token.
  PromptDataset(const std::vector<PromptRow>& rows, const Tokenizer& tokenizer,
                std::string description);
  std::int64_t size() const override { return m_tokens.size(0); }
  EvalBatch batch(std::int64_t begin, std::int64_t count) const override;
  std::string describe() const override;

 private:
  at::Tensor m_tokens;   // [N, T]
  at::Tensor m_mask;     // [N, T]
  at::Tensor m_lengths;  // [N]
  at::Tensor m_targets;  // [N]
  at::Tensor m_foils;    // [N] or undefined when no row has a foil
  std::string m_description;
};

}  // namespace cs::data
