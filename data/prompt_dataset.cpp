// Prompt sets: JSON Lines reading, the IOI generator and tokenization into padded batches.
#include "data/prompt_dataset.h"

#include "core/torch_api.h"

#include <array>
#include <fstream>
#include <random>

#include "core/error.h"
#include "data/json_document.h"
#include "data/synthetic_datasets.h"
#include "data/tokenizer.h"

namespace cs::data {

namespace {
constexpr std::size_t kMaxLineBytes = 1 << 20;

std::string requiredString(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw FormatError(where + ": \"" + key + "\" must be a non-empty string");
  }
  return it->get<std::string>();
}
}  // namespace

std::vector<PromptRow> readPromptLines(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot open " + file.string());
  std::vector<PromptRow> rows;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    const std::string where = file.string() + ":" + std::to_string(number);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line.size() > kMaxLineBytes) throw FormatError(where + ": line longer than 1 MiB");
    const auto j = parseJsonDocument(line, where, 4);
    if (!j.is_object()) throw FormatError(where + ": not a JSON object");
    PromptRow row{requiredString(j, "prompt", where), requiredString(j, "target", where), ""};
    if (j.contains("foil") && !j["foil"].is_null()) row.foil = requiredString(j, "foil", where);
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw FormatError(file.string() + ": no prompts");
  return rows;
}

std::vector<PromptRow> indirectObjectPrompts(std::int64_t rows, std::uint64_t seed) {
  static constexpr std::array kNames{"Mary", "John",  "Alice", "Bob", "Sarah", "James",
                                     "Emma", "David", "Laura", "Tom", "Anna",  "Mark",
                                     "Kate", "Paul",  "Lisa",  "Mike"};
  static constexpr std::array kPlaces{"store", "park", "school", "office", "garden", "station"};
  static constexpr std::array kObjects{"drink", "book", "ring", "letter", "ball", "key"};
  static constexpr std::array kTemplates{
      "When {A} and {B} went to the {P}, {B} gave a {O} to",
      "Then, {A} and {B} had a long day at the {P}. {B} gave a {O} to",
      "After {A} and {B} arrived at the {P}, {B} handed a {O} to",
  };
  if (rows <= 0) throw ConfigError("indirect-object prompts: rows must be positive");
  std::mt19937_64 random(seed);
  auto pick = [&](const auto& list) { return std::string(list[random() % list.size()]); };
  std::vector<PromptRow> out;
  for (std::int64_t i = 0; i < rows; ++i) {
    const auto a = pick(kNames);
    auto b = pick(kNames);
    while (b == a) b = pick(kNames);
    std::string text = pick(kTemplates);
    const std::array<std::pair<std::string, std::string>, 4> fills{
        {{"{A}", a}, {"{B}", b}, {"{P}", pick(kPlaces)}, {"{O}", pick(kObjects)}}};
    for (const auto& [key, value] : fills) {
      for (auto at = text.find(key); at != std::string::npos; at = text.find(key)) {
        text.replace(at, key.size(), value);
      }
    }
    out.push_back({text, " " + a, " " + b});
  }
  return out;
}

PromptDataset::PromptDataset(const std::vector<PromptRow>& rows, const Tokenizer& tokenizer,
                             std::string description)
    : m_description(std::move(description)) {
  if (rows.empty()) throw ConfigError(m_description + ": no prompts");
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<std::int64_t> targets, foils;
  bool anyFoil = false;
  // A beginning-of-sequence token goes before each prompt only; targets and foils continue the
  // prompt, so they are encoded as continuations (no SentencePiece dummy prefix).
  const auto prefix = tokenizer.prefixTokenId();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string where = m_description + ", row " + std::to_string(i + 1);
    auto prompt = tokenizer.encode(rows[i].prompt);
    const auto target = tokenizer.encodeContinuation(rows[i].target);
    if (prompt.empty() || target.empty()) {
      throw FormatError(where + ": the prompt and the target must each give at least one token");
    }
    if (prefix) prompt.insert(prompt.begin(), *prefix);
    ids.push_back(std::move(prompt));
    targets.push_back(target.front());
    if (!rows[i].foil.empty()) {
      const auto foil = tokenizer.encodeContinuation(rows[i].foil);
      if (foil.empty()) throw FormatError(where + ": the foil gives no token");
      foils.push_back(foil.front());
      anyFoil = true;
    } else {
      foils.push_back(-1);
    }
  }
  if (anyFoil && std::count(foils.begin(), foils.end(), -1) > 0) {
    throw FormatError(m_description + ": either every row has a foil or none does");
  }
  std::size_t width = 0;
  for (const auto& row : ids) width = std::max(width, row.size());
  const auto n = static_cast<std::int64_t>(ids.size());
  m_tokens = at::zeros({n, static_cast<std::int64_t>(width)}, at::kLong);
  m_mask = at::zeros_like(m_tokens);
  m_lengths = at::empty({n}, at::kLong);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto len = static_cast<std::int64_t>(ids[r].size());
    m_tokens[r].narrow(0, 0, len).copy_(at::tensor(ids[r], at::kLong));
    m_mask[r].narrow(0, 0, len).fill_(1);
    m_lengths[r] = len;
  }
  m_targets = at::tensor(targets, at::kLong);
  if (anyFoil) m_foils = at::tensor(foils, at::kLong);
}

EvalBatch PromptDataset::batch(std::int64_t begin, std::int64_t count) const {
  count = clipRange(size(), begin, count);
  EvalBatch b;
  b.tokens = m_tokens.narrow(0, begin, count);
  b.attentionMask = m_mask.narrow(0, begin, count);
  b.targets = m_targets.narrow(0, begin, count);
  if (m_foils.defined()) b.foils = m_foils.narrow(0, begin, count);
  b.scorePositions = m_lengths.narrow(0, begin, count) - 1;
  return b;
}

std::string PromptDataset::describe() const {
  return m_description + ": " + std::to_string(size()) + " prompts";
}

}  // namespace cs::data
