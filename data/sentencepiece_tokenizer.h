// SentencePiece tokenizer.model, read and run in process without libsentencepiece (whose bundled
// protobuf cannot share a process with libtorch). Encodes as SentencePiece 0.1.97 does: BPE
// (Llama 2, Mistral, TinyLlama) and unigram models, user-defined symbols, byte fallback, the
// precompiled normalizer and whitespace rules.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/sentencepiece_model.h"
#include "data/sentencepiece_trie.h"
#include "data/tokenizer.h"

namespace cs::data {

class SentencePieceNormalizer;

class SentencePieceTokenizer : public Tokenizer {
 public:
  /// Reads a tokenizer.model. `addBos`: whether prefixTokenId() gives the BOS id (Hugging Face's
  /// LlamaTokenizer default). FormatError naming the file for a malformed model; ConfigError for
  /// WORD and CHAR models, which are not supported.
  static std::unique_ptr<SentencePieceTokenizer> fromModelFile(const std::filesystem::path& path,
                                                               bool addBos = true);

  /// As fromModelFile, from a parsed model; `where` names it in errors.
  static std::unique_ptr<SentencePieceTokenizer> fromModel(SentencePieceModel model,
                                                           std::string where, bool addBos);

  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  /// The pieces' ids only, never BOS or EOS (as spm_encode --output_format=id).
  std::vector<std::int64_t> encode(std::string_view text) const override;
  /// As encode, but a text that starts with a space gets no dummy prefix in front of it (when
  /// the model keeps extra whitespace; otherwise that space is removed and the prefix stands for
  /// it), so " Mary" gives the single piece "▁Mary" as it would inside a sentence.
  std::vector<std::int64_t> encodeContinuation(std::string_view text) const override;
  /// '▁' becomes a space, the leading '▁' (the dummy prefix) of the first piece after any
  /// control pieces is dropped (every leading '▁' when extra whitespace is removed), runs of
  /// byte pieces are reassembled into UTF-8 (U+FFFD for invalid bytes), control pieces give no
  /// text and <unk> gives " ⁇ ".
  std::string decode(const std::vector<std::int64_t>& ids) const override;
  /// The piece with '▁' shown as '␣'; byte and control pieces as stored ("<0x0A>", "<s>").
  std::string displayToken(std::int64_t id) const override;
  std::int64_t vocabSize() const override;
  /// The BOS piece's id when the model has one (a CONTROL piece named trainer_spec.bos_piece)
  /// and `addBos` was set.
  std::optional<std::int64_t> prefixTokenId() const override;

  /// The BOS id of the model, or -1 when it has none (whether or not it is prepended).
  std::int64_t bosId() const { return m_bosId; }

 private:
  using Segment = std::pair<std::string_view, std::int32_t>;  // piece text, id

  SentencePieceTokenizer();
  void init(std::string where, bool addBos);
  std::int32_t pieceToId(std::string_view piece) const;
  bool isType(std::int32_t id, SentencePieceType type) const {
    return m_model.pieces[static_cast<std::size_t>(id)].type == type;
  }
  std::vector<std::int64_t> encodeNormalized(const std::string& normalized) const;
  std::vector<Segment> encodeBpe(std::string_view normalized) const;
  std::vector<Segment> encodeUnigram(std::string_view normalized) const;
  const SentencePiece& checkedPiece(std::int64_t id) const;

  SentencePieceModel m_model;
  std::string m_source;                                              // the file read, for messages
  std::unordered_map<std::string_view, std::int32_t> m_normalIds;    // NORMAL, USER_DEFINED, UNUSED
  std::unordered_map<std::string_view, std::int32_t> m_reservedIds;  // UNKNOWN, CONTROL, BYTE
  PieceTrie m_userDefined;  // USER_DEFINED pieces, matched before anything else
  PieceTrie m_allPieces;    // m_normalIds as a trie, for the unigram lattice
  std::unique_ptr<SentencePieceNormalizer> m_normalizer;  // refers to m_userDefined
  std::vector<std::int32_t> m_byteIds;                    // byte -> <0xXX> id (byte fallback)
  std::vector<std::int16_t> m_byteOfId;                   // id -> byte, -1 if not a BYTE piece
  std::int32_t m_unkId = -1;
  std::int64_t m_bosId = -1;
  bool m_addBos = true;
  float m_minScore = 0;  // over NORMAL pieces, as the unigram model computes them
  float m_maxScore = 0;
};

}  // namespace cs::data
