// Text <-> token ids for a model folder: the interface every tokenizer implements, and the one
// function that picks an implementation from the files a folder holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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
};

/// Loads the tokenizer of a Hugging Face model folder, trying in order tokenizer.json,
/// vocab.json + merges.txt, tokenizer.model. A SentencePiece tokenizer.model is recognised but
/// not supported (ConfigError); IoError when none is there (token ids still work).
std::unique_ptr<Tokenizer> loadTokenizer(const std::filesystem::path& modelFolder);

/// FormatError "text is not valid UTF-8 at byte N" unless `text` is well-formed UTF-8
/// (no overlong forms, surrogates or code points above U+10FFFF).
void requireValidUtf8(std::string_view text);

/// The visible-space marker '␣' (U+2423) in UTF-8.
inline constexpr std::string_view kVisibleSpace = "\xE2\x90\xA3";

}  // namespace cs::data
