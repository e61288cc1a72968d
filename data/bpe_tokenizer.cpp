// Byte-level BPE: PCRE2 pre-tokenization, GPT-2's bytes-to-unicode mapping and rank-ordered
// merges. Every file is untrusted: ids, merges and the regex are checked while loading so that
// encode and decode can only fail on their own input.
#define PCRE2_CODE_UNIT_WIDTH 8  // here, not on the target: all targets share one PCH's flags
#include "data/bpe_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <climits>
#include <fstream>

#include "core/error.h"
#include "data/json_document.h"

namespace cs::data {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxJsonBytes = std::size_t{512} << 20;  // large vocabularies reach ~30 MB

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode(): printable bytes stand for themselves, the others are moved to
// U+0100 and up, so that every token in the vocabulary is printable text.
struct ByteMap {
  std::array<std::string, 256> byteToChar;
  std::array<int, 324> charToByte{};  // code point -> byte, -1 if not a mapped character

  ByteMap() {
    charToByte.fill(-1);
    std::uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const std::uint32_t cp = printable ? static_cast<std::uint32_t>(b) : next++;
      byteToChar[b] = utf8(cp);
      charToByte[cp] = b;
    }
  }
};

const ByteMap& byteMap() {
  static const ByteMap map;
  return map;
}

// Appends the bytes a vocabulary token stands for. Characters outside the byte map (possible
// in hand-made vocabularies) are kept as their own UTF-8 rather than dropped.
void appendTokenBytes(const std::string& token, std::string& out) {
  const auto& map = byteMap();
  std::size_t i = 0;
  while (i < token.size()) {
    const auto c = static_cast<unsigned char>(token[i]);
    const std::size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    std::uint32_t cp = length == 1 ? c : c & (0x3F >> (length - 1));
    for (std::size_t k = 1; k < length && i + k < token.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(token[i + k]) & 0x3F);
    if (cp < map.charToByte.size() && map.charToByte[cp] >= 0) {
      out += static_cast<char>(map.charToByte[cp]);
    } else {
      out.append(token, i, length);
    }
    i += length;
  }
}

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

std::string mergeKey(const std::string& a, const std::string& b) { return a + " " + b; }

const json& requireField(const json& object, const char* key, json::value_t type,
                         const std::string& where) {
  if (!object.is_object() || !object.contains(key) || object[key].type() != type)
    throw FormatError(where + ": expected field \"" + key + "\" of type " + json(type).type_name() +
                      "; is this a Hugging Face tokenizer file?");
  return object[key];
}

std::string stringField(const json& object, const char* key, const std::string& fallback) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return fallback;
  return object[key].get<std::string>();
}

bool boolField(const json& object, const char* key, bool fallback) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_boolean()) return fallback;
  return object[key].get<bool>();
}

// The special token a TemplateProcessing post-processor puts before a single sequence, as in
// {"single": [{"SpecialToken": {"id": "<|begin_of_text|>"}}, {"Sequence": {"id": "A"}}],
//  "special_tokens": {"<|begin_of_text|>": {"ids": [128000]}}}; none for other processors
// (GPT-2's ByteLevel adds nothing).
std::optional<std::int64_t> templatePrefixId(const json& processor, const std::string& where) {
  const auto type = stringField(processor, "type", "");
  if (type == "Sequence" && processor.contains("processors") &&
      processor["processors"].is_array()) {
    for (const auto& step : processor["processors"]) {
      if (const auto id = templatePrefixId(step, where)) return id;
    }
    return std::nullopt;
  }
  if (type != "TemplateProcessing" || !processor.contains("single") ||
      !processor["single"].is_array() || processor["single"].empty())
    return std::nullopt;
  const auto& first = processor["single"][0];
  if (!first.is_object() || !first.contains("SpecialToken")) return std::nullopt;
  const auto name = stringField(first["SpecialToken"], "id", "");
  const auto specials =
      processor.contains("special_tokens") ? processor["special_tokens"] : json::object();
  if (!specials.is_object() || !specials.contains(name) || !specials[name].is_object() ||
      !specials[name].contains("ids") || !specials[name]["ids"].is_array() ||
      specials[name]["ids"].size() != 1 || !specials[name]["ids"][0].is_number_integer())
    throw FormatError(where + ": post_processor template starts with special token '" + name +
                      "', but special_tokens does not give it exactly one integer id");
  return specials[name]["ids"][0].get<std::int64_t>();
}

}  // namespace

struct BpeTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

BpeTokenizer::BpeTokenizer() = default;
BpeTokenizer::~BpeTokenizer() = default;

void BpeTokenizer::addToken(const std::string& token, std::int64_t id, const std::string& where) {
  if (id < 0 || id >= static_cast<std::int64_t>(m_idToToken.size()))
    throw FormatError(where + ": token '" + token + "' has id " + std::to_string(id) +
                      ", outside 0.." + std::to_string(m_idToToken.size() - 1));
  if (!m_idToToken[id].empty())
    throw FormatError(where + ": id " + std::to_string(id) + " is given to both '" +
                      m_idToToken[id] + "' and '" + token + "'");
  if (token.empty()) throw FormatError(where + ": empty token for id " + std::to_string(id));
  m_idToToken[id] = token;
  m_tokenToId.emplace(token, id);
}

void BpeTokenizer::addMerge(const std::string& a, const std::string& b, const std::string& where) {
  for (const auto* part : {&a, &b}) {
    if (!m_tokenToId.contains(*part))
      throw FormatError(where + ": merge '" + a + " " + b + "' uses '" + *part +
                        "', which is not in the vocabulary; the vocabulary and merges files "
                        "do not belong together");
  }
  // A repeated merge keeps its first (best) rank, as the reference implementations do.
  m_mergeRanks.emplace(mergeKey(a, b), static_cast<int>(m_mergeRanks.size()));
}

void BpeTokenizer::addSpecialToken(const std::string& content, std::int64_t id,
                                   const std::string& where) {
  if (content.empty())
    throw FormatError(where + ": added token " + std::to_string(id) + " is empty");
  if (id < 0 || id >= static_cast<std::int64_t>(m_idToToken.size()))
    throw FormatError(where + ": added token '" + content + "' has id " + std::to_string(id) +
                      ", outside 0.." + std::to_string(m_idToToken.size() - 1));
  if (!m_idToToken[id].empty() && m_idToToken[id] != content)
    throw FormatError(where + ": added token '" + content + "' reuses id " + std::to_string(id) +
                      " of '" + m_idToToken[id] + "'");
  // An added token that repeats its vocabulary entry keeps decoding through the byte map.
  if (m_idToToken[id].empty()) {
    m_idToToken[id] = content;
    m_isSpecial[id] = true;
  }
  m_specialTokens.emplace_back(content, id);
}

void BpeTokenizer::setPattern(const std::string& pattern, const std::string& where) {
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  auto regex = std::make_unique<Regex>();
  regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &errorCode, &errorOffset, nullptr);
  if (regex->code == nullptr) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(errorCode, message.data(), message.size());
    throw FormatError(where + ": pre-tokenizer regex does not compile at offset " +
                      std::to_string(errorOffset) + ": " +
                      reinterpret_cast<const char*>(message.data()));
  }
  // JIT is only a speed-up; pcre2_match falls back to the interpreter when it is unavailable.
  pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
  m_regex = std::move(regex);
}

void BpeTokenizer::finish(const std::string& where) {
  m_source = where;
  // Longest first, so that "<|im_start|>" wins over a hypothetical "<|im" at the same place.
  std::stable_sort(m_specialTokens.begin(), m_specialTokens.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::fromVocabAndMerges(const fs::path& vocabPath,
                                                               const fs::path& mergesPath) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  const auto vocabWhere = vocabPath.string();
  const auto vocab = readJsonFile(vocabWhere, kMaxJsonBytes);
  if (!vocab.is_object())
    throw FormatError(vocabWhere + ": expected an object of token -> id, got " +
                      describeJsonValue(vocab));
  t->m_idToToken.resize(vocab.size());
  t->m_isSpecial.assign(vocab.size(), false);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer())
      throw FormatError(vocabWhere + ": id of token '" + token + "' is " + describeJsonValue(id) +
                        ", not an integer");
    t->addToken(token, id.get<std::int64_t>(), vocabWhere);
  }

  std::ifstream in(mergesPath, std::ios::binary);
  if (!in) throw IoError("cannot open " + mergesPath.string() + " for reading");
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineNo == 1 && line.starts_with("#version"))) continue;
    const auto where = mergesPath.string() + " line " + std::to_string(lineNo);
    const auto space = line.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      throw FormatError(where + ": expected two tokens separated by one space, got '" + line + "'");
    t->addMerge(line.substr(0, space), line.substr(space + 1), where);
  }
  if (in.bad()) throw IoError("error while reading " + mergesPath.string());
  t->setPattern(kGpt2Pattern, vocabWhere);
  t->finish(vocabWhere);
  return t;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::fromTokenizerJson(const fs::path& path) {
  const auto where = path.string();
  const auto doc = readJsonFile(where, kMaxJsonBytes, 64);
  const auto& model = requireField(doc, "model", json::value_t::object, where);
  const auto type = stringField(model, "type", "BPE");
  if (type != "BPE")
    throw ConfigError(where + ": model type \"" + type +
                      "\" is not supported; only byte-level BPE is read from tokenizer.json");
  if (boolField(model, "byte_fallback", false) ||
      !stringField(model, "continuing_subword_prefix", "").empty() ||
      !stringField(model, "end_of_word_suffix", "").empty())
    throw ConfigError(where +
                      ": this BPE uses byte fallback or subword affixes, which are not "
                      "supported; only byte-level (GPT-2 style) BPE is");
  const auto normalizer = doc.contains("normalizer") ? doc["normalizer"] : json();
  // NFC leaves text that is already composed unchanged, so ignoring it only matters for
  // decomposed input; anything else would silently give different ids.
  if (!normalizer.is_null() && stringField(normalizer, "type", "") != "NFC")
    throw ConfigError(where + ": normalizer \"" + stringField(normalizer, "type", "?") +
                      "\" is not supported");

  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->m_ignoreMerges = boolField(model, "ignore_merges", false);

  // Pre-tokenizer: a ByteLevel step, alone or in a Sequence after a Split that holds the regex.
  const json preTokenizer = doc.contains("pre_tokenizer") ? doc["pre_tokenizer"] : json();
  std::vector<json> steps;
  if (stringField(preTokenizer, "type", "") == "Sequence") {
    const auto& list = requireField(preTokenizer, "pretokenizers", json::value_t::array, where);
    steps.assign(list.begin(), list.end());
  } else if (!preTokenizer.is_null()) {
    steps.push_back(preTokenizer);
  }
  bool byteLevel = false;
  bool useRegex = false;
  std::string splitPattern;
  for (const auto& step : steps) {
    const auto stepType = stringField(step, "type", "");
    if (stepType == "ByteLevel") {
      byteLevel = true;
      useRegex = boolField(step, "use_regex", true);
      t->m_addPrefixSpace = boolField(step, "add_prefix_space", false);
    } else if (stepType == "Split" && splitPattern.empty()) {
      const auto& pattern = requireField(step, "pattern", json::value_t::object, where);
      if (boolField(step, "invert", false) ||
          stringField(step, "behavior", "Isolated") != "Isolated")
        throw ConfigError(where +
                          ": only Split pre-tokenizers with behavior \"Isolated\" and no "
                          "invert are supported");
      if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
        splitPattern = pattern["Regex"].get<std::string>();
      } else if (pattern.contains("String") && pattern["String"].is_string()) {
        splitPattern = "\\Q" + pattern["String"].get<std::string>() + "\\E";
      } else {
        throw FormatError(where +
                          ": Split pre-tokenizer has neither pattern.Regex nor "
                          "pattern.String");
      }
      if (splitPattern.empty()) throw FormatError(where + ": Split pre-tokenizer pattern is empty");
    } else {
      throw ConfigError(where + ": pre-tokenizer \"" + stepType +
                        "\" is not supported; only Split and ByteLevel are");
    }
  }
  if (!byteLevel)
    throw ConfigError(where + ": no ByteLevel pre-tokenizer; only byte-level BPE is supported");
  if (!splitPattern.empty()) {
    t->setPattern(splitPattern, where);
  } else if (useRegex) {
    t->setPattern(kGpt2Pattern, where);
  }

  const auto& vocab = requireField(model, "vocab", json::value_t::object, where);
  const json added = doc.contains("added_tokens") ? doc["added_tokens"] : json::array();
  if (!added.is_array())
    throw FormatError(where + ": added_tokens is " + describeJsonValue(added) + ", not an array");
  // Added tokens may sit past the model's vocabulary (Llama 3: 128000 + 256 specials).
  t->m_idToToken.resize(vocab.size() + added.size());
  t->m_isSpecial.assign(t->m_idToToken.size(), false);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer())
      throw FormatError(where + ": id of token '" + token + "' is " + describeJsonValue(id) +
                        ", not an integer");
    t->addToken(token, id.get<std::int64_t>(), where);
  }
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string())
      throw FormatError(where + ": added token " + describeJsonValue(a) +
                        " lacks an integer id or a string content");
    t->addSpecialToken(a["content"].get<std::string>(), a["id"].get<std::int64_t>(), where);
  }
  // Trailing ids no token uses would make vocabSize() promise tokens that do not exist.
  while (!t->m_idToToken.empty() && t->m_idToToken.back().empty()) {
    t->m_idToToken.pop_back();
    t->m_isSpecial.pop_back();
  }

  const auto& merges = requireField(model, "merges", json::value_t::array, where);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto mergeWhere = where + " merge " + std::to_string(i);
    const auto& m = merges[i];
    if (m.is_string()) {
      const auto s = m.get<std::string>();
      const auto space = s.find(' ');
      if (space == 0 || space == std::string::npos || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos)
        throw FormatError(mergeWhere + ": expected \"a b\", got '" + s + "'");
      t->addMerge(s.substr(0, space), s.substr(space + 1), mergeWhere);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      t->addMerge(m[0].get<std::string>(), m[1].get<std::string>(), mergeWhere);
    } else {
      throw FormatError(mergeWhere + ": expected \"a b\" or [\"a\", \"b\"], got " +
                        describeJsonValue(m));
    }
  }
  if (doc.contains("post_processor")) {
    t->m_prefixTokenId = templatePrefixId(doc["post_processor"], where);
    if (t->m_prefixTokenId && (*t->m_prefixTokenId < 0 || *t->m_prefixTokenId >= t->vocabSize()))
      throw FormatError(where + ": post_processor prefix token id " +
                        std::to_string(*t->m_prefixTokenId) + " is outside the vocabulary");
  }
  t->finish(where);
  return t;
}

void BpeTokenizer::encodePiece(std::string_view piece, std::vector<std::int64_t>& ids) const {
  const auto& map = byteMap();
  std::vector<std::string> symbols;
  symbols.reserve(piece.size());
  for (char c : piece) symbols.push_back(map.byteToChar[static_cast<unsigned char>(c)]);
  if (m_ignoreMerges) {
    std::string whole;
    for (const auto& s : symbols) whole += s;
    if (const auto it = m_tokenToId.find(whole); it != m_tokenToId.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  while (symbols.size() > 1) {
    int bestRank = INT_MAX;
    std::size_t best = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = m_mergeRanks.find(mergeKey(symbols[i], symbols[i + 1]));
      if (it != m_mergeRanks.end() && it->second < bestRank) {
        bestRank = it->second;
        best = i;
      }
    }
    if (bestRank == INT_MAX) break;
    // Every occurrence of the best pair merges in this round, left to right, as in GPT-2.
    const std::string first = symbols[best];
    const std::string second = symbols[best + 1];
    std::vector<std::string> merged;
    merged.reserve(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
        merged.push_back(first + second);
        ++i;
      } else {
        merged.push_back(std::move(symbols[i]));
      }
    }
    symbols = std::move(merged);
  }
  for (const auto& s : symbols) {
    const auto it = m_tokenToId.find(s);
    if (it == m_tokenToId.end())
      throw FormatError(m_source + ": the vocabulary has no token '" + s +
                        "', which byte-level BPE needs for this text; the tokenizer files are "
                        "incomplete");
    ids.push_back(it->second);
  }
}

void BpeTokenizer::encodeOrdinary(std::string_view text, std::vector<std::int64_t>& ids) const {
  if (text.empty()) return;
  if (!m_regex) {
    encodePiece(text, ids);
    return;
  }
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(m_regex->code, nullptr), &pcre2_match_data_free);
  if (!match) throw std::bad_alloc();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    // The text was checked as UTF-8 once in encode(); PCRE2 need not check it per match.
    const int rc = pcre2_match(m_regex->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                               match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      encodePiece(text.substr(offset), ids);
      return;
    }
    if (rc < 0) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(rc, message.data(), message.size());
      throw FormatError(m_source + ": pre-tokenizer regex failed at byte " +
                        std::to_string(offset) + ": " +
                        reinterpret_cast<const char*>(message.data()));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    std::size_t start = ovector[0];
    std::size_t end = ovector[1];
    // Text between matches is a piece of its own (Hugging Face's "Isolated" behaviour).
    if (start > offset) encodePiece(text.substr(offset, start - offset), ids);
    if (end == start) {
      // An empty match would loop forever; the next character becomes a piece by itself.
      end = start + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    }
    encodePiece(text.substr(start, end - start), ids);
    offset = end;
  }
}

std::vector<std::int64_t> BpeTokenizer::encode(std::string_view text) const {
  requireValidUtf8(text);
  std::vector<std::int64_t> ids;
  std::string prefixed;
  if (m_addPrefixSpace && !text.empty() && text.front() != ' ') {
    // Appended piece by piece: GCC 12 warns (falsely) about `" " + std::string(...)`.
    prefixed += ' ';
    prefixed += text;
    text = prefixed;
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The earliest special token wins; at equal positions the longest (list is sorted so).
    std::size_t bestStart = std::string_view::npos;
    const std::pair<std::string, std::int64_t>* best = nullptr;
    for (const auto& special : m_specialTokens) {
      const auto at = text.find(special.first, pos);
      if (at != std::string_view::npos && (best == nullptr || at < bestStart)) {
        bestStart = at;
        best = &special;
      }
    }
    if (best == nullptr) {
      encodeOrdinary(text.substr(pos), ids);
      break;
    }
    encodeOrdinary(text.substr(pos, bestStart - pos), ids);
    ids.push_back(best->second);
    pos = bestStart + best->first.size();
  }
  return ids;
}

const std::string& BpeTokenizer::checkedToken(std::int64_t id) const {
  if (id < 0 || id >= vocabSize() || m_idToToken[id].empty())
    throw ConfigError("token id " + std::to_string(id) + " is not in the vocabulary of " +
                      m_source + " (" + std::to_string(vocabSize()) + " ids)");
  return m_idToToken[id];
}

std::string BpeTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string text;
  for (const auto id : ids) {
    const auto& token = checkedToken(id);
    if (m_isSpecial[id]) {
      text += token;
    } else {
      appendTokenBytes(token, text);
    }
  }
  return text;
}

std::string BpeTokenizer::displayToken(std::int64_t id) const {
  const auto& token = checkedToken(id);
  if (m_isSpecial[id]) return token;
  return replaceAll(token, byteMap().byteToChar[' '], kVisibleSpace);
}

std::int64_t BpeTokenizer::vocabSize() const {
  return static_cast<std::int64_t>(m_idToToken.size());
}

}  // namespace cs::data
