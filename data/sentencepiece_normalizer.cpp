// The precompiled charsmap is "uint32 trie size (little-endian), double-array units, replacement
// strings". Lookups follow darts-clone's commonPrefixSearch with every index bounds-checked, since
// the map comes from an untrusted file.
#include "data/sentencepiece_normalizer.h"

#include <cstring>

#include "core/error.h"

namespace cs::data {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 '▁'

std::uint32_t readLe32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

// darts-clone's DoubleArrayUnit accessors.
bool unitHasLeaf(std::uint32_t u) { return ((u >> 8) & 1) == 1; }
std::uint32_t unitValue(std::uint32_t u) { return u & ((1U << 31) - 1); }
std::uint32_t unitLabel(std::uint32_t u) { return u & ((1U << 31) | 0xFF); }
std::uint32_t unitOffset(std::uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

}  // namespace

SentencePieceNormalizer::SentencePieceNormalizer(const SentencePieceNormalizerSpec& spec,
                                                 bool treatWhitespaceAsSuffix,
                                                 const PieceTrie& userDefined, std::string where)
    : m_spec(spec),
      m_treatWhitespaceAsSuffix(treatWhitespaceAsSuffix),
      m_userDefined(userDefined),
      m_where(std::move(where)) {
  const std::string_view blob = m_spec.precompiledCharsmap;
  if (blob.empty()) return;
  if (blob.size() <= 4)
    throw FormatError(m_where + ": normalizer_spec.precompiled_charsmap of " +
                      std::to_string(blob.size()) + " bytes is too short");
  const std::uint32_t trieSize = readLe32(blob.data());
  if (trieSize >= blob.size() - 4 + 1 || trieSize % 4 != 0 || trieSize == 0)
    throw FormatError(m_where + ": normalizer_spec.precompiled_charsmap declares a trie of " +
                      std::to_string(trieSize) + " bytes in a map of " +
                      std::to_string(blob.size()) + " bytes");
  m_units = blob.substr(4, trieSize);
  m_normalized = blob.substr(4 + trieSize);
}

std::uint32_t SentencePieceNormalizer::unit(std::uint64_t index) const {
  if (index >= m_units.size() / 4)
    throw FormatError(m_where + ": normalizer_spec.precompiled_charsmap: trie index " +
                      std::to_string(index) + " is outside its " +
                      std::to_string(m_units.size() / 4) + " units; the model is corrupt");
  return readLe32(m_units.data() + index * 4);
}

std::pair<std::size_t, std::uint32_t> SentencePieceNormalizer::longestRule(
    std::string_view input) const {
  std::pair<std::size_t, std::uint32_t> best{0, 0};
  std::uint64_t id = unitOffset(unit(0));
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto label = static_cast<std::uint8_t>(input[i]);
    id ^= label;
    const auto u = unit(id);
    if (unitLabel(u) != label) break;
    id ^= unitOffset(u);
    if (unitHasLeaf(u)) best = {i + 1, unitValue(unit(id))};
  }
  return best;
}

std::pair<std::string_view, std::size_t> SentencePieceNormalizer::normalizePrefix(
    std::string_view input) const {
  if (const auto length = m_userDefined.longestPrefix(input); length > 0)
    return {input.substr(0, length), length};
  if (!m_units.empty()) {
    const auto [length, offset] = longestRule(input);
    if (length > 0) {
      if (offset >= m_normalized.size())
        throw FormatError(m_where + ": normalizer_spec.precompiled_charsmap: replacement offset " +
                          std::to_string(offset) + " is outside its " +
                          std::to_string(m_normalized.size()) + " bytes; the model is corrupt");
      const auto rest = m_normalized.substr(offset);
      const auto end = rest.find('\0');
      if (end == std::string_view::npos)
        throw FormatError(m_where +
                          ": normalizer_spec.precompiled_charsmap: unterminated replacement at "
                          "offset " +
                          std::to_string(offset) + "; the model is corrupt");
      return {rest.substr(0, end), length};
    }
  }
  const auto length = utf8CharLength(input);
  return {input.substr(0, length), length};
}

std::string SentencePieceNormalizer::normalize(std::string_view input, bool dummyPrefix) const {
  std::string out;
  const bool removeExtra = m_spec.removeExtraWhitespaces;
  const bool escape = m_spec.escapeWhitespaces;
  // Leading whitespace: whatever normalizes to exactly one space.
  if (removeExtra) {
    while (!input.empty()) {
      const auto [text, consumed] = normalizePrefix(input);
      if (text != " ") break;
      input.remove_prefix(consumed);
    }
  }
  if (input.empty()) return out;
  out.reserve(input.size() * 3);
  const auto addSpace = [&] { out += escape ? kSpaceSymbol : std::string_view(" "); };
  const bool addDummy = dummyPrefix && m_spec.addDummyPrefix;
  if (!m_treatWhitespaceAsSuffix && addDummy) addSpace();
  bool previousIsSpace = removeExtra;
  while (!input.empty()) {
    auto [text, consumed] = normalizePrefix(input);
    // A run of spaces collapses into one when extra whitespace is removed.
    while (previousIsSpace && !text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (!text.empty()) {
      for (const char c : text) {
        if (escape && c == ' ') {
          out += kSpaceSymbol;
        } else {
          out += c;
        }
      }
      previousIsSpace = text.back() == ' ';
    }
    input.remove_prefix(consumed);
    if (!removeExtra) previousIsSpace = false;
  }
  if (removeExtra) {
    const std::string_view space = escape ? kSpaceSymbol : std::string_view(" ");
    std::string_view kept = out;
    while (kept.ends_with(space)) kept.remove_suffix(space.size());
    out.erase(kept.size());
  }
  if (m_treatWhitespaceAsSuffix && addDummy) addSpace();
  return out;
}

}  // namespace cs::data
