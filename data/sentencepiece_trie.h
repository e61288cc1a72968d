// A byte trie over SentencePiece pieces: the prefix search behind user-defined symbols (matched
// longest first) and the unigram lattice (every piece that starts at a position).
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cs::data {

class PieceTrie {
 public:
  PieceTrie();

  /// Adds `key` (non-empty) with `value`; a repeated key keeps its first value.
  void insert(std::string_view key, std::int32_t value);

  bool empty() const { return m_size == 0; }

  /// Calls f(length, value) for every key that is a prefix of `text`, shortest first.
  template <typename F>
  void forEachPrefix(std::string_view text, F&& f) const {
    std::int32_t node = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto it = m_edges.find(edgeKey(node, static_cast<std::uint8_t>(text[i])));
      if (it == m_edges.end()) return;
      node = it->second;
      if (m_values[node] >= 0) f(i + 1, m_values[node]);
    }
  }

  /// Length of the longest key that is a prefix of `text`, 0 if none.
  std::size_t longestPrefix(std::string_view text) const;

 private:
  static std::uint64_t edgeKey(std::int32_t node, std::uint8_t byte) {
    return (static_cast<std::uint64_t>(node) << 8) | byte;
  }

  std::unordered_map<std::uint64_t, std::int32_t> m_edges;  // (node, byte) -> child node
  std::vector<std::int32_t> m_values;                       // per node; -1: no key ends here
  std::size_t m_size = 0;
};

/// Bytes of the UTF-8 character that starts `text` (1 for a stray byte), at most text.size().
std::size_t utf8CharLength(std::string_view text);

}  // namespace cs::data
