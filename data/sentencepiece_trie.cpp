// The piece trie: nodes are numbers, edges one hash map keyed by (node, byte).
#include "data/sentencepiece_trie.h"

#include <algorithm>

namespace cs::data {

PieceTrie::PieceTrie() : m_values(1, -1) {}

void PieceTrie::insert(std::string_view key, std::int32_t value) {
  if (key.empty()) return;
  std::int32_t node = 0;
  for (const char c : key) {
    const auto [it, added] = m_edges.try_emplace(edgeKey(node, static_cast<std::uint8_t>(c)),
                                                 static_cast<std::int32_t>(m_values.size()));
    if (added) m_values.push_back(-1);
    node = it->second;
  }
  if (m_values[node] < 0) {
    m_values[node] = value;
    ++m_size;
  }
}

std::size_t PieceTrie::longestPrefix(std::string_view text) const {
  std::size_t longest = 0;
  forEachPrefix(text, [&](std::size_t length, std::int32_t) { longest = length; });
  return longest;
}

std::size_t utf8CharLength(std::string_view text) {
  if (text.empty()) return 0;
  // SentencePiece's rule: the lead byte's high nibble decides (0xC/0xD: 2, 0xE: 3, 0xF: 4).
  static constexpr std::uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return std::min<std::size_t>(text.size(), kLength[static_cast<std::uint8_t>(text[0]) >> 4]);
}

}  // namespace cs::data
