// Byte-level BPE (GPT-2 style): text is split by a regex, each piece's bytes are mapped to
// printable characters and merged by rank. Reads vocab.json + merges.txt or a Hugging Face
// tokenizer.json whose model is BPE behind a ByteLevel pre-tokenizer.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer.h"

namespace cs::data {

class BpeTokenizer : public Tokenizer {
 public:
  /// GPT-2's pre-tokenizer pattern, used when a file does not name another.
  static constexpr const char* kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  /// vocab.json (token -> id) and merges.txt ("a b" per line, optional "#version" first line);
  /// GPT-2's encoder.json and vocab.bpe are the same formats. FormatError naming the file (and
  /// line) for bad ids or merges of unknown tokens; IoError if a file cannot be read.
  static std::unique_ptr<BpeTokenizer> fromVocabAndMerges(const std::filesystem::path& vocabPath,
                                                          const std::filesystem::path& mergesPath);

  /// A Hugging Face tokenizer.json with model.type "BPE" and a ByteLevel pre-tokenizer; the
  /// split regex comes from a "Split" pre-tokenizer, else GPT-2's. added_tokens are matched in
  /// the text before BPE. A TemplateProcessing post-processor (alone or in a Sequence) whose
  /// "single" template starts with a special token makes that token prefixTokenId() (Llama 3's
  /// <|begin_of_text|>). ConfigError for other tokenizer kinds.
  static std::unique_ptr<BpeTokenizer> fromTokenizerJson(const std::filesystem::path& path);

  ~BpeTokenizer() override;
  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;

  std::vector<std::int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<std::int64_t>& ids) const override;
  std::string displayToken(std::int64_t id) const override;
  std::int64_t vocabSize() const override;
  std::optional<std::int64_t> prefixTokenId() const override { return m_prefixTokenId; }

 private:
  struct Regex;  // compiled PCRE2 pattern; kept out of this header

  BpeTokenizer();
  void addToken(const std::string& token, std::int64_t id, const std::string& where);
  void addMerge(const std::string& a, const std::string& b, const std::string& where);
  void addSpecialToken(const std::string& content, std::int64_t id, const std::string& where);
  void setPattern(const std::string& pattern, const std::string& where);
  void finish(const std::string& where);
  void encodePiece(std::string_view piece, std::vector<std::int64_t>& ids) const;
  void encodeOrdinary(std::string_view text, std::vector<std::int64_t>& ids) const;
  const std::string& checkedToken(std::int64_t id) const;

  std::string m_source;  // the file read, for messages
  std::unordered_map<std::string, std::int64_t> m_tokenToId;
  std::vector<std::string> m_idToToken;  // mapped-character form; empty for unused ids
  std::vector<bool> m_isSpecial;         // special tokens decode to their content as is
  std::unordered_map<std::string, int> m_mergeRanks;  // "a b" -> rank, lower merges first
  std::vector<std::pair<std::string, std::int64_t>> m_specialTokens;
  std::unique_ptr<Regex> m_regex;
  bool m_addPrefixSpace = false;
  bool m_ignoreMerges = false;  // a piece that is itself in the vocabulary is one token
  std::optional<std::int64_t> m_prefixTokenId;  // from the post-processor's template
};

}  // namespace cs::data
