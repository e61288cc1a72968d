// Line by line: every problem names the file and the line, so a user fixes a hand-written file
// without guessing.
#include "analysis/conflict_examples.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizer.h"

namespace cs::analysis {

namespace {

class ConflictFileReader {
 public:
  ConflictFileReader(std::string path, std::int64_t vocabulary, const data::Tokenizer* tokenizer,
                     std::function<std::vector<std::int64_t>(const std::string&)> encodePrompt)
      : m_path(std::move(path)),
        m_vocabulary(vocabulary),
        m_tokenizer(tokenizer),
        m_encodePrompt(std::move(encodePrompt)) {}

  ConflictSplits read(double findFraction) {
    std::ifstream in(m_path);
    if (!in) {
      throw IoError("cannot open the conflict examples file " + m_path +
                    ": choose a .jsonl file with one example per line (docs/analyses.md)");
    }
    ConflictSplits splits;
    std::vector<ConflictExample> unsplit;
    for (std::string text; std::getline(in, text);) {
      ++m_line;
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const nlohmann::json::parse_error& e) {
        fail(std::string("not valid JSON (") + e.what() + ")");
      }
      if (!j.is_object()) fail("expected one JSON object per line");
      auto example = parse(j);
      const auto split = j.contains("split") ? string(j, "split") : std::string();
      if (split.empty()) {
        unsplit.push_back(std::move(example));
      } else if (split == "find") {
        splits.find.push_back(std::move(example));
      } else if (split == "validation") {
        splits.validation.push_back(std::move(example));
      } else if (split == "test") {
        splits.test.push_back(std::move(example));
      } else {
        fail("\"split\" must be find, validation or test; got \"" + split + "\"");
      }
    }
    // Examples without a split: the first part finds heads, the rest validates k.
    const auto nFind =
        static_cast<std::size_t>(std::llround(findFraction * static_cast<double>(unsplit.size())));
    for (std::size_t i = 0; i < unsplit.size(); ++i) {
      (i < nFind ? splits.find : splits.validation).push_back(std::move(unsplit[i]));
    }
    if (splits.find.empty() || splits.validation.empty()) {
      throw ConfigError(m_path + ": " + std::to_string(splits.find.size()) + " head-finding and " +
                        std::to_string(splits.validation.size()) +
                        " validation examples; both are needed (give more examples, a \"split\" "
                        "field, or another share of head-finding examples: --find-fraction)");
    }
    return splits;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ConfigError(m_path + " line " + std::to_string(m_line) + ": " + what);
  }

  std::string string(const nlohmann::json& j, const std::string& key) const {
    if (!j[key].is_string()) fail("\"" + key + "\" must be a string");
    return j[key].get<std::string>();
  }

  std::vector<std::int64_t> ids(const nlohmann::json& j, const std::string& key) const {
    const auto& v = j[key];
    if (!v.is_array()) fail("\"" + key + "\" must be an array of token ids");
    std::vector<std::int64_t> out;
    for (const auto& x : v) {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 0 ||
          x.get<std::int64_t>() >= m_vocabulary) {
        fail("\"" + key + "\" holds " + x.dump() + "; token ids are integers in [0, " +
             std::to_string(m_vocabulary) + ")");
      }
      out.push_back(x.get<std::int64_t>());
    }
    return out;
  }

  // o_m or o_c: an id, or the first token of a text continuing the prompt.
  std::int64_t answer(const nlohmann::json& j, const std::string& key) const {
    const auto idKey = key + "_id";
    if (j.contains(key) == j.contains(idKey)) {
      fail("give exactly one of \"" + key + "\" and \"" + idKey + "\"");
    }
    if (j.contains(idKey)) {
      const auto& v = j[idKey];
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
          v.get<std::int64_t>() >= m_vocabulary) {
        fail("\"" + idKey + "\" must be a token id in [0, " + std::to_string(m_vocabulary) + ")");
      }
      return v.get<std::int64_t>();
    }
    if (!m_tokenizer) fail("the model has no tokenizer; give \"" + idKey + "\"");
    const auto tokens = m_tokenizer->encodeContinuation(string(j, key));
    if (tokens.empty()) fail("\"" + key + "\" gives no tokens");
    return tokens.front();
  }

  ConflictExample parse(const nlohmann::json& j) const {
    static const std::vector<std::string> known{
        "question",          "question_ids",          "context",       "context_ids",
        "reference_context", "reference_context_ids", "memory_answer", "memory_answer_id",
        "context_answer",    "context_answer_id",     "split"};
    for (const auto& [key, value] : j.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fail("unknown field \"" + key +
             "\" (fields: question, context, reference_context, memory_answer, context_answer, "
             "each text or *_id(s), and split)");
      }
    }
    const bool textInputs =
        j.contains("question") || j.contains("context") || j.contains("reference_context");
    const bool idInputs = j.contains("question_ids") || j.contains("context_ids") ||
                          j.contains("reference_context_ids");
    if (textInputs && idInputs) {
      fail("give the question and contexts all as text or all as token ids, not mixed");
    }
    ConflictExample e;
    if (idInputs) {
      if (!j.contains("question_ids") || !j.contains("context_ids")) {
        fail("\"question_ids\" and \"context_ids\" are both required");
      }
      const auto question = ids(j, "question_ids");
      if (question.empty()) fail("\"question_ids\" is empty");
      e.conflict = ids(j, "context_ids");
      e.conflict.insert(e.conflict.end(), question.begin(), question.end());
      if (j.contains("reference_context_ids")) e.reference = ids(j, "reference_context_ids");
      e.reference.insert(e.reference.end(), question.begin(), question.end());
    } else {
      if (!j.contains("question") || !j.contains("context")) {
        fail("\"question\" and \"context\" are both required (or their *_ids)");
      }
      if (!m_tokenizer) fail("the model has no tokenizer; give question_ids and context_ids");
      const auto question = string(j, "question");
      if (question.empty()) fail("\"question\" is empty");
      const auto reference = j.contains("reference_context") ? string(j, "reference_context") : "";
      try {
        e.conflict = m_encodePrompt(string(j, "context") + question);
        e.reference = m_encodePrompt(reference + question);
      } catch (const Error& err) {
        fail(err.what());
      }
    }
    e.memoryAnswer = answer(j, "memory_answer");
    e.contextAnswer = answer(j, "context_answer");
    if (e.memoryAnswer == e.contextAnswer) {
      fail("the memory and context answers start with the same token; they cannot be told apart");
    }
    return e;
  }

  std::string m_path;
  std::int64_t m_vocabulary = 0;
  const data::Tokenizer* m_tokenizer = nullptr;
  std::function<std::vector<std::int64_t>(const std::string&)> m_encodePrompt;
  int m_line = 0;
};

}  // namespace

ConflictSplits readConflictExamples(
    const std::string& path, std::int64_t vocabulary, const data::Tokenizer* tokenizer,
    const std::function<std::vector<std::int64_t>(const std::string&)>& encodePrompt,
    double findFraction) {
  return ConflictFileReader(path, vocabulary, tokenizer, encodePrompt).read(findFraction);
}

}  // namespace cs::analysis
