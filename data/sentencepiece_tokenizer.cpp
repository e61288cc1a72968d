// SentencePiece encoding and decoding from the public algorithm descriptions: the normalizer,
// then BPE (highest-scoring adjacent pair merged first, leftmost on ties; UNUSED pieces split
// back) or unigram Viterbi (best sum of piece scores; user-defined pieces get a bonus, unknown
// characters a penalty), then unknown pieces become byte pieces (byte fallback) or one <unk> per
// run. Loading checks what SentencePiece checks, so a model it refuses is refused here too.
#include "data/sentencepiece_tokenizer.h"

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <queue>
#include <utility>

#include "core/error.h"
#include "data/sentencepiece_normalizer.h"

namespace cs::data {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 '▁'
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";
constexpr float kUnkPenalty = 10.0f;  // unigram: an unknown character scores min - 10

std::string bytePiece(int byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("<0x") + kHex[byte >> 4] + kHex[byte & 15] + ">";
}

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Length of the well-formed UTF-8 character at the start of `bytes`, 0 if it is not one.
std::size_t validUtf8Length(std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  if (n == 0) return 0;
  if (s[0] < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t cp = 0;
  if ((s[0] & 0xE0) == 0xC0) {
    length = 2;
    cp = s[0] & 0x1F;
  } else if ((s[0] & 0xF0) == 0xE0) {
    length = 3;
    cp = s[0] & 0x0F;
  } else if ((s[0] & 0xF8) == 0xF0) {
    length = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (length > n) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  static constexpr std::uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

// Bytes from byte pieces as text: each well-formed character as is, each other byte as U+FFFD.
void appendBytesAsText(std::string_view bytes, std::string& out) {
  while (!bytes.empty()) {
    const auto length = validUtf8Length(bytes);
    if (length == 0) {
      out += kReplacementChar;
      bytes.remove_prefix(1);
    } else {
      out += bytes.substr(0, length);
      bytes.remove_prefix(length);
    }
  }
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::fromModelFile(const fs::path& path,
                                                                              bool addBos) {
  return fromModel(readSentencePieceModel(path), path.string(), addBos);
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::fromModel(SentencePieceModel model,
                                                                          std::string where,
                                                                          bool addBos) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  t->m_model = std::move(model);
  t->init(std::move(where), addBos);
  return t;
}

void SentencePieceTokenizer::init(std::string where, bool addBos) {
  m_source = std::move(where);
  m_addBos = addBos;
  const auto& spec = m_model.trainerSpec;
  if (spec.modelType == SentencePieceModelType::Word ||
      spec.modelType == SentencePieceModelType::Char)
    throw ConfigError(m_source + ": SentencePiece " +
                      (spec.modelType == SentencePieceModelType::Word ? "WORD" : "CHAR") +
                      " models are not supported; only BPE and unigram models are");
  if (m_model.pieces.size() > static_cast<std::size_t>(INT32_MAX))
    throw FormatError(m_source + ": too many pieces");

  m_byteIds.assign(256, -1);
  m_byteOfId.assign(m_model.pieces.size(), -1);
  m_minScore = FLT_MAX;
  m_maxScore = FLT_MIN;  // sic: SentencePiece starts from the smallest positive float
  for (std::size_t i = 0; i < m_model.pieces.size(); ++i) {
    const auto id = static_cast<std::int32_t>(i);
    const auto& p = m_model.pieces[i];
    const bool normal = p.type == SentencePieceType::Normal ||
                        p.type == SentencePieceType::UserDefined ||
                        p.type == SentencePieceType::Unused;
    auto& ids = normal ? m_normalIds : m_reservedIds;
    if (const auto [it, added] = ids.emplace(p.piece, id); !added)
      throw FormatError(m_source + ": piece '" + p.piece + "' is defined twice (ids " +
                        std::to_string(it->second) + " and " + std::to_string(id) + ")");
    if (normal) m_allPieces.insert(p.piece, id);
    if (p.type == SentencePieceType::UserDefined) m_userDefined.insert(p.piece, id);
    if (p.type == SentencePieceType::Normal) {
      m_minScore = std::min(m_minScore, p.score);
      m_maxScore = std::max(m_maxScore, p.score);
    }
    if (p.type == SentencePieceType::Unknown) {
      if (m_unkId >= 0)
        throw FormatError(m_source + ": two unknown pieces (ids " + std::to_string(m_unkId) +
                          " and " + std::to_string(id) + ")");
      m_unkId = id;
    }
    if (p.type == SentencePieceType::Byte) {
      if (!spec.byteFallback)
        throw FormatError(m_source + ": byte piece '" + p.piece +
                          "' although trainer_spec.byte_fallback is false");
      int byte = -1;
      for (int b = 0; b < 256 && byte < 0; ++b)
        if (p.piece == bytePiece(b)) byte = b;
      if (byte < 0)
        throw FormatError(m_source + ": byte piece '" + p.piece + "' (id " + std::to_string(id) +
                          ") is not of the form <0xXX>");
      m_byteIds[byte] = id;
      m_byteOfId[i] = static_cast<std::int16_t>(byte);
    }
  }
  if (m_minScore == FLT_MAX) m_minScore = 0;
  if (m_maxScore == FLT_MIN) m_maxScore = 0;
  if (m_unkId < 0) throw FormatError(m_source + ": no unknown piece (<unk>) is defined");
  if (spec.byteFallback) {
    for (int b = 0; b < 256; ++b)
      if (m_byteIds[b] < 0)
        throw FormatError(m_source + ": byte_fallback is set but byte piece " + bytePiece(b) +
                          " is missing");
  }
  if (const auto it = m_reservedIds.find(spec.bosPiece);
      it != m_reservedIds.end() && isType(it->second, SentencePieceType::Control))
    m_bosId = it->second;
  m_normalizer = std::make_unique<SentencePieceNormalizer>(
      m_model.normalizerSpec, spec.treatWhitespaceAsSuffix, m_userDefined, m_source);
}

std::int32_t SentencePieceTokenizer::pieceToId(std::string_view piece) const {
  if (const auto it = m_reservedIds.find(piece); it != m_reservedIds.end()) return it->second;
  if (const auto it = m_normalIds.find(piece); it != m_normalIds.end()) return it->second;
  return m_unkId;
}

std::vector<SentencePieceTokenizer::Segment> SentencePieceTokenizer::encodeBpe(
    std::string_view normalized) const {
  struct Symbol {
    std::size_t begin = 0;
    std::size_t size = 0;  // 0: merged into its left neighbour
    int prev = -1;
    int next = -1;
    bool frozen = false;  // a user-defined piece: never merged
  };
  struct Pair {
    float score;
    int left;
    int right;
    std::size_t size;
  };
  // The best pair first: highest score, then leftmost.
  const auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unmerge;
  std::vector<Symbol> symbols;

  const auto text = [&](const Symbol& s) { return normalized.substr(s.begin, s.size); };
  const auto maybeAddPair = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    const auto merged =
        normalized.substr(symbols[left].begin, symbols[left].size + symbols[right].size);
    const auto it = m_normalIds.find(merged);
    if (it == m_normalIds.end()) return;
    agenda.push({m_model.pieces[it->second].score, left, right, merged.size()});
    // An UNUSED piece may be formed on the way but is split again at the end.
    if (isType(it->second, SentencePieceType::Unused))
      unmerge[merged] = {text(symbols[left]), text(symbols[right])};
  };

  // One symbol per character, or per user-defined piece.
  for (std::size_t pos = 0; pos < normalized.size();) {
    Symbol s;
    const auto rest = normalized.substr(pos);
    const auto userLength = m_userDefined.longestPrefix(rest);
    s.frozen = userLength > 0;
    s.begin = pos;
    s.size = userLength > 0 ? userLength : utf8CharLength(rest);
    const int index = static_cast<int>(symbols.size());
    s.prev = index - 1;
    pos += s.size;
    s.next = pos < normalized.size() ? index + 1 : -1;
    symbols.push_back(s);
  }
  if (symbols.empty()) return {};
  for (std::size_t i = 1; i < symbols.size(); ++i)
    maybeAddPair(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    auto& left = symbols[top.left];
    auto& right = symbols[top.right];
    // Stale: one side was merged elsewhere since this pair was queued.
    if (left.size == 0 || right.size == 0 || left.size + right.size != top.size) continue;
    left.size += right.size;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.size = 0;
    maybeAddPair(left.prev, top.left);
    maybeAddPair(top.left, left.next);
  }

  std::vector<Segment> out;
  const auto resegment = [&](auto&& self, std::string_view piece) -> void {
    const auto id = pieceToId(piece);
    const auto it = isType(id, SentencePieceType::Unused) ? unmerge.find(piece) : unmerge.end();
    if (it == unmerge.end()) {
      out.emplace_back(piece, id);
      return;
    }
    self(self, it->second.first);
    self(self, it->second.second);
  };
  for (int i = 0; i != -1; i = symbols[i].next) resegment(resegment, text(symbols[i]));
  return out;
}

std::vector<SentencePieceTokenizer::Segment> SentencePieceTokenizer::encodeUnigram(
    std::string_view normalized) const {
  // Viterbi over byte positions; the arithmetic keeps SentencePiece's float and double mix so
  // that near ties resolve the same way.
  struct Node {
    std::int32_t id = -1;
    float score = 0;
    std::int64_t start = -1;  // -1: no path ends here yet
  };
  const std::size_t size = normalized.size();
  const float unkScore = m_minScore - kUnkPenalty;
  std::vector<Node> best(size + 1);
  for (std::size_t start = 0; start < size;) {
    const float scoreHere = best[start].score;
    const auto charLength = utf8CharLength(normalized.substr(start));
    bool hasSingleCharacter = false;
    m_allPieces.forEachPrefix(normalized.substr(start), [&](std::size_t length, std::int32_t id) {
      if (isType(id, SentencePieceType::Unused)) return;
      auto& node = best[start + length];
      const double score = isType(id, SentencePieceType::UserDefined)
                               ? static_cast<double>(static_cast<float>(length) * m_maxScore) - 0.1
                               : static_cast<double>(m_model.pieces[id].score);
      const double candidate = score + static_cast<double>(scoreHere);
      if (node.start == -1 || candidate > static_cast<double>(node.score)) {
        node.score = static_cast<float>(candidate);
        node.start = static_cast<std::int64_t>(start);
        node.id = id;
      }
      if (length == charLength) hasSingleCharacter = true;
    });
    if (!hasSingleCharacter) {
      auto& node = best[start + charLength];
      const float candidate = unkScore + scoreHere;
      if (node.start == -1 || candidate > node.score) {
        node.score = candidate;
        node.start = static_cast<std::int64_t>(start);
        node.id = m_unkId;
      }
    }
    start += charLength;
  }
  std::vector<Segment> out;
  for (std::size_t end = size; end > 0;) {
    const auto& node = best[end];
    const auto start = static_cast<std::size_t>(node.start);
    out.emplace_back(normalized.substr(start, end - start), node.id);
    end = start;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(std::string_view text) const {
  requireValidUtf8(text);
  return encodeNormalized(m_normalizer->normalize(text));
}

std::vector<std::int64_t> SentencePieceTokenizer::encodeContinuation(std::string_view text) const {
  requireValidUtf8(text);
  const bool ownSpace = !text.empty() && text.front() == ' ' &&
                        !m_normalizer->removesExtraWhitespaces() &&
                        !m_model.trainerSpec.treatWhitespaceAsSuffix;
  return encodeNormalized(m_normalizer->normalize(text, !ownSpace));
}

std::vector<std::int64_t> SentencePieceTokenizer::encodeNormalized(
    const std::string& normalized) const {
  const auto segments = m_model.trainerSpec.modelType == SentencePieceModelType::Bpe
                            ? encodeBpe(normalized)
                            : encodeUnigram(normalized);
  std::vector<std::int64_t> ids;
  ids.reserve(segments.size());
  bool previousUnknown = false;
  for (const auto& [piece, id] : segments) {
    const bool unknown = isType(id, SentencePieceType::Unknown);
    if (unknown && m_model.trainerSpec.byteFallback) {
      for (const char c : piece) ids.push_back(m_byteIds[static_cast<std::uint8_t>(c)]);
    } else if (!(unknown && previousUnknown)) {
      // A run of unknown pieces is one <unk>, as SentencePiece merges them.
      ids.push_back(id);
    }
    previousUnknown = unknown;
  }
  return ids;
}

const SentencePiece& SentencePieceTokenizer::checkedPiece(std::int64_t id) const {
  if (id < 0 || id >= vocabSize())
    throw ConfigError("token id " + std::to_string(id) + " is not in the vocabulary of " +
                      m_source + " (" + std::to_string(vocabSize()) + " ids)");
  return m_model.pieces[static_cast<std::size_t>(id)];
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  const auto& normalizer = m_model.normalizerSpec;
  const bool stripDummy = normalizer.addDummyPrefix || normalizer.removeExtraWhitespaces;
  std::string text;
  std::string bytes;  // a run of byte pieces, turned into text when the run ends
  // At the start, a piece's leading '▁' is the dummy prefix and is dropped. The start lasts
  // through control pieces and, when extra whitespace is removed, through every '▁' piece (the
  // encoder would have removed those spaces); otherwise only the first '▁' is dropped.
  bool atStart = true;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& piece = checkedPiece(ids[i]);
    const auto id = static_cast<std::int32_t>(ids[i]);
    if (piece.type == SentencePieceType::Control) continue;
    if (m_byteOfId[id] >= 0) {
      bytes += static_cast<char>(m_byteOfId[id]);
      atStart = false;
      continue;
    }
    appendBytesAsText(bytes, text);
    bytes.clear();
    if (piece.type == SentencePieceType::Unknown) {
      text += m_model.trainerSpec.unkSurface;
      if (!m_model.trainerSpec.unkSurface.empty()) atStart = false;
      continue;
    }
    std::string_view surface = piece.piece;
    bool droppedOnce = false;
    if (stripDummy && atStart && surface.starts_with(kSpaceSymbol)) {
      surface.remove_prefix(kSpaceSymbol.size());
      droppedOnce = !normalizer.removeExtraWhitespaces;
    }
    if (!surface.empty() || droppedOnce) atStart = false;
    for (auto at = surface.find(kSpaceSymbol); at != std::string_view::npos;
         at = surface.find(kSpaceSymbol)) {
      text += surface.substr(0, at);
      text += ' ';
      surface.remove_prefix(at + kSpaceSymbol.size());
    }
    text += surface;
  }
  appendBytesAsText(bytes, text);
  return text;
}

std::string SentencePieceTokenizer::displayToken(std::int64_t id) const {
  return replaceAll(checkedPiece(id).piece, kSpaceSymbol, kVisibleSpace);
}

std::int64_t SentencePieceTokenizer::vocabSize() const {
  return static_cast<std::int64_t>(m_model.pieces.size());
}

std::optional<std::int64_t> SentencePieceTokenizer::prefixTokenId() const {
  if (m_addBos && m_bosId >= 0) return m_bosId;
  return std::nullopt;
}

}  // namespace cs::data
