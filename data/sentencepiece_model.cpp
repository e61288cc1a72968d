// ModelProto parsing: the known fields of pieces, trainer_spec and normalizer_spec are read with
// their declared wire types; every other field is skipped, so newer files still load.
#include "data/sentencepiece_model.h"

#include <fstream>

#include "core/error.h"
#include "data/protobuf_reader.h"

namespace cs::data {

namespace {

// Field numbers of sentencepiece_model.proto.
namespace ModelField {
constexpr std::uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3, kDenormalizerSpec = 5;
}
namespace PieceField {
constexpr std::uint32_t kPiece = 1, kScore = 2, kType = 3;
}
namespace TrainerField {
constexpr std::uint32_t kModelType = 3, kSplitDigits = 25, kTreatWhitespaceAsSuffix = 24,
                        kByteFallback = 35, kUnkId = 40, kBosId = 41, kEosId = 42, kPadId = 43,
                        kUnkSurface = 44, kUnkPiece = 45, kBosPiece = 46, kEosPiece = 47,
                        kPadPiece = 48;
}
namespace NormalizerField {
constexpr std::uint32_t kName = 1, kPrecompiledCharsmap = 2, kAddDummyPrefix = 3,
                        kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;
}

constexpr std::size_t kMaxModelBytes = std::size_t{1} << 30;

SentencePiece parsePiece(ProtobufReader reader) {
  SentencePiece piece;
  ProtobufField f;
  while (reader.next(f)) {
    switch (f.number) {
      case PieceField::kPiece:
        piece.piece = reader.bytesOf(f, "piece");
        break;
      case PieceField::kScore:
        piece.score = reader.floatOf(f, "score");
        break;
      case PieceField::kType: {
        const auto type = reader.int32Of(f, "type");
        if (type < 1 || type > 6)
          throw FormatError(reader.where() + ": piece type " + std::to_string(type) +
                            " is not one of NORMAL(1) .. BYTE(6)");
        piece.type = static_cast<SentencePieceType>(type);
        break;
      }
      default:
        break;
    }
  }
  return piece;
}

void parseTrainerSpec(ProtobufReader reader, SentencePieceTrainerSpec& spec) {
  ProtobufField f;
  while (reader.next(f)) {
    switch (f.number) {
      case TrainerField::kModelType: {
        const auto type = reader.int32Of(f, "model_type");
        if (type < 1 || type > 4)
          throw FormatError(reader.where() + ": model_type " + std::to_string(type) +
                            " is not one of UNIGRAM(1), BPE(2), WORD(3), CHAR(4)");
        spec.modelType = static_cast<SentencePieceModelType>(type);
        break;
      }
      case TrainerField::kSplitDigits:
        spec.splitDigits = reader.boolOf(f, "split_digits");
        break;
      case TrainerField::kTreatWhitespaceAsSuffix:
        spec.treatWhitespaceAsSuffix = reader.boolOf(f, "treat_whitespace_as_suffix");
        break;
      case TrainerField::kByteFallback:
        spec.byteFallback = reader.boolOf(f, "byte_fallback");
        break;
      case TrainerField::kUnkId:
        spec.unkId = reader.int32Of(f, "unk_id");
        break;
      case TrainerField::kBosId:
        spec.bosId = reader.int32Of(f, "bos_id");
        break;
      case TrainerField::kEosId:
        spec.eosId = reader.int32Of(f, "eos_id");
        break;
      case TrainerField::kPadId:
        spec.padId = reader.int32Of(f, "pad_id");
        break;
      case TrainerField::kUnkSurface:
        spec.unkSurface = reader.bytesOf(f, "unk_surface");
        break;
      case TrainerField::kUnkPiece:
        spec.unkPiece = reader.bytesOf(f, "unk_piece");
        break;
      case TrainerField::kBosPiece:
        spec.bosPiece = reader.bytesOf(f, "bos_piece");
        break;
      case TrainerField::kEosPiece:
        spec.eosPiece = reader.bytesOf(f, "eos_piece");
        break;
      case TrainerField::kPadPiece:
        spec.padPiece = reader.bytesOf(f, "pad_piece");
        break;
      default:
        break;
    }
  }
}

void parseNormalizerSpec(ProtobufReader reader, SentencePieceNormalizerSpec& spec) {
  ProtobufField f;
  while (reader.next(f)) {
    switch (f.number) {
      case NormalizerField::kName:
        spec.name = reader.bytesOf(f, "name");
        break;
      case NormalizerField::kPrecompiledCharsmap:
        spec.precompiledCharsmap = reader.bytesOf(f, "precompiled_charsmap");
        break;
      case NormalizerField::kAddDummyPrefix:
        spec.addDummyPrefix = reader.boolOf(f, "add_dummy_prefix");
        break;
      case NormalizerField::kRemoveExtraWhitespaces:
        spec.removeExtraWhitespaces = reader.boolOf(f, "remove_extra_whitespaces");
        break;
      case NormalizerField::kEscapeWhitespaces:
        spec.escapeWhitespaces = reader.boolOf(f, "escape_whitespaces");
        break;
      default:
        break;
    }
  }
}

}  // namespace

SentencePieceModel parseSentencePieceModel(std::string_view bytes, const std::string& where) {
  SentencePieceModel model;
  ProtobufReader reader(bytes, where);
  ProtobufField f;
  while (reader.next(f)) {
    switch (f.number) {
      case ModelField::kPieces: {
        const auto what = "pieces[" + std::to_string(model.pieces.size()) + "]";
        model.pieces.push_back(parsePiece(reader.nested(f, what)));
        if (model.pieces.back().piece.empty())
          throw FormatError(where + ": " + what + " is an empty piece");
        break;
      }
      case ModelField::kTrainerSpec:
        parseTrainerSpec(reader.nested(f, "trainer_spec"), model.trainerSpec);
        break;
      case ModelField::kNormalizerSpec:
        parseNormalizerSpec(reader.nested(f, "normalizer_spec"), model.normalizerSpec);
        break;
      case ModelField::kDenormalizerSpec: {
        SentencePieceNormalizerSpec denormalizer;
        parseNormalizerSpec(reader.nested(f, "denormalizer_spec"), denormalizer);
        model.hasDenormalizer = !denormalizer.precompiledCharsmap.empty();
        break;
      }
      default:
        break;
    }
  }
  if (model.pieces.empty())
    throw FormatError(where +
                      ": no pieces; this is not a SentencePiece model (or it is truncated)");
  return model;
}

SentencePieceModel readSentencePieceModel(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path.string() + " for reading");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0 || static_cast<std::uint64_t>(size) > kMaxModelBytes)
    throw FormatError(path.string() + ": " + std::to_string(size) +
                      " bytes is not a plausible SentencePiece model (at most 1 GiB)");
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), size)) throw IoError("error while reading " + path.string());
  return parseSentencePieceModel(bytes, path.string());
}

}  // namespace cs::data
