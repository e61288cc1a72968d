// Text <-> token ids for a model folder: the interface every tokenizer implements, and the one
// function that picks an implementation from the files a folder holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs::data {

/// Converts text to token ids and back. Implementations are immutable after loading, so one
/// tokenizer may be used from several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids for UTF-8 `text`; FormatError "text is not valid UTF-8 at byte N" otherwise.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;

  /// The text of `ids` concatenated; ConfigError naming the first id outside the vocabulary.
  virtual std::string decode(const std::vector<std::int64_t>& ids) const = 0;

  /// One token as a person should see it: the byte-level leading-space marker 'Ġ' shown as
  /// '␣' (U+2423). ConfigError for an id outside the vocabulary.
  virtual std::string displayToken(std::int64_t id) const = 0;

  /// One more than the largest id this tokenizer can produce or decode.
  virtual std::int64_t vocabSize() const = 0;

  /// Token ids for `text` continuing a prompt (a target or foil such as " Mary"). The same as
  /// encode() except where a tokenizer marks the start of a text: SentencePiece's dummy-prefix
  /// space is not added in front of a leading space, so " Mary" gives "▁Mary", not "▁▁Mary".
  virtual std::vector<std::int64_t> encodeContinuation(std::string_view text) const {
    return encode(text);
  }

  /// The id the model expects before a prompt (beginning of sequence), if any. encode() never
  /// adds it: callers that build model inputs from prompts prepend it (not to continuations such
  /// as targets and foils). Llama-style SentencePiece models give their BOS unless
  /// tokenizer_config.json sets add_bos_token to false; GPT-2 style BPE gives none.
  virtual std::optional<std::int64_t> prefixTokenId() const { return std::nullopt; }
};

/// Loads the tokenizer of a Hugging Face model folder, trying in order tokenizer.json,
/// vocab.json + merges.txt, tokenizer.model (SentencePiece BPE or unigram, read in process; its
/// BOS is prepended to prompts unless tokenizer_config.json has "add_bos_token": false).
/// FormatError naming the file for a malformed one; IoError when none is there (token ids still
/// work).
std::unique_ptr<Tokenizer> loadTokenizer(const std::filesystem::path& modelFolder);

/// FormatError "text is not valid UTF-8 at byte N" unless `text` is well-formed UTF-8
/// (no overlong forms, surrogates or code points above U+10FFFF).
void requireValidUtf8(std::string_view text);

/// The visible-space marker '␣' (U+2423) in UTF-8.
inline constexpr std::string_view kVisibleSpace = "\xE2\x90\xA3";

}  // namespace cs::data
