// SentencePiece's normalizer: an optional precompiled character map (the darts-clone double-array
// trie and string blob that nmt_nfkc and other rules compile to), whitespace clean-up, the dummy
// prefix and the escaping of spaces as U+2581 '▁'. User-defined symbols are never normalized.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "data/sentencepiece_model.h"
#include "data/sentencepiece_trie.h"

namespace cs::data {

class SentencePieceNormalizer {
 public:
  /// `userDefined` holds the user-defined pieces (matched before the character map); `where`
  /// names the model file in errors. FormatError for a precompiled_charsmap whose header or
  /// sizes do not fit.
  SentencePieceNormalizer(const SentencePieceNormalizerSpec& spec, bool treatWhitespaceAsSuffix,
                          const PieceTrie& userDefined, std::string where);

  /// The normalized form of valid UTF-8 `text`, as SentencePiece's Normalizer::Normalize gives
  /// it; `dummyPrefix` false leaves out the spec's dummy prefix. FormatError (naming the model
  /// file) if the character map points outside its data.
  std::string normalize(std::string_view text, bool dummyPrefix = true) const;

  bool addsDummyPrefix() const { return m_spec.addDummyPrefix; }
  bool removesExtraWhitespaces() const { return m_spec.removeExtraWhitespaces; }

 private:
  // The normalized text of the longest rule (or user-defined symbol, or one character) at the
  // start of `input`, and how many input bytes it consumes.
  std::pair<std::string_view, std::size_t> normalizePrefix(std::string_view input) const;
  // Longest match in the character map: (input length, offset into m_normalized), or length 0.
  std::pair<std::size_t, std::uint32_t> longestRule(std::string_view input) const;
  std::uint32_t unit(std::uint64_t index) const;

  SentencePieceNormalizerSpec m_spec;
  bool m_treatWhitespaceAsSuffix = false;
  const PieceTrie& m_userDefined;
  std::string m_where;
  std::string_view m_units;       // the double array, 4 bytes per unit, in m_spec's charsmap
  std::string_view m_normalized;  // NUL-terminated replacement strings, in m_spec's charsmap
};

}  // namespace cs::data
