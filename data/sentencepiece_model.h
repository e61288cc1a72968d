// The parts of a SentencePiece ModelProto (sentencepiece_model.proto) that encoding and decoding
// need: the pieces with their scores and types, the trainer spec (model type, byte fallback,
// special ids) and the normalizer spec. Read with data/protobuf_reader.h, never libsentencepiece.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cs::data {

/// ModelProto.SentencePiece.Type, with the proto's numbers.
enum class SentencePieceType : std::int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

/// TrainerSpec.ModelType, with the proto's numbers.
enum class SentencePieceModelType : std::int32_t { Unigram = 1, Bpe = 2, Word = 3, Char = 4 };

struct SentencePiece {
  std::string piece;  ///< UTF-8, with U+2581 '▁' standing for a space
  float score = 0;
  SentencePieceType type = SentencePieceType::Normal;
};

/// TrainerSpec fields that matter after training; defaults are the proto's.
struct SentencePieceTrainerSpec {
  SentencePieceModelType modelType = SentencePieceModelType::Unigram;
  bool byteFallback = false;
  bool treatWhitespaceAsSuffix = false;
  bool splitDigits = false;
  std::int32_t unkId = 0;
  std::int32_t bosId = 1;
  std::int32_t eosId = 2;
  std::int32_t padId = -1;
  std::string unkPiece = "<unk>";
  std::string bosPiece = "<s>";
  std::string eosPiece = "</s>";
  std::string padPiece = "<pad>";
  std::string unkSurface = " \xE2\x81\x87 ";  ///< what decode writes for <unk>: " ⁇ "
};

/// NormalizerSpec; defaults are the proto's.
struct SentencePieceNormalizerSpec {
  std::string name;
  std::string precompiledCharsmap;  ///< empty: no character mapping (identity)
  bool addDummyPrefix = true;
  bool removeExtraWhitespaces = true;
  bool escapeWhitespaces = true;
};

struct SentencePieceModel {
  std::vector<SentencePiece> pieces;  ///< index = id
  SentencePieceTrainerSpec trainerSpec;
  SentencePieceNormalizerSpec normalizerSpec;
  bool hasDenormalizer = false;  ///< a denormalizer_spec with a charsmap (decode ignores it)
};

/// Parses a serialized ModelProto. `where` names the source in errors. FormatError for
/// malformed protocol buffers, wrong wire types of known fields, a model without pieces or
/// with an empty piece.
SentencePieceModel parseSentencePieceModel(std::string_view bytes, const std::string& where);

/// Reads and parses a tokenizer.model file; IoError if it cannot be read.
SentencePieceModel readSentencePieceModel(const std::filesystem::path& path);

}  // namespace cs::data
