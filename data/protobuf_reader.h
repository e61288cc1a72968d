// A minimal reader of the protocol buffer wire format (varints, fixed 32/64-bit values,
// length-delimited fields), enough to read a SentencePiece tokenizer.model without libprotobuf.
// The buffer is untrusted: every length and offset is checked, and each error names the source,
// the byte offset and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cs::data {

/// The wire types of the protocol buffer encoding. Groups (3, 4) are deprecated and refused.
enum class WireType : std::uint8_t {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
};

/// One field as read from the wire; which member holds the value depends on `type`.
struct ProtobufField {
  std::uint32_t number = 0;
  WireType type = WireType::Varint;
  std::uint64_t value = 0;  ///< Varint, Fixed64 and Fixed32 (zero-extended)
  std::string_view bytes;   ///< LengthDelimited: the payload, a view into the reader's buffer
  std::size_t offset = 0;   ///< where the field's tag starts, from the start of the file
};

/// Reads the fields of one message in order. Unknown fields are simply returned; a caller skips
/// them by not looking at them.
class ProtobufReader {
 public:
  /// `where` names the source in messages (e.g. "tokenizer.model: trainer_spec"); `baseOffset`
  /// is where `buffer` starts in the file, so that nested messages report file offsets.
  ProtobufReader(std::string_view buffer, std::string where, std::size_t baseOffset = 0);

  /// The next field, or false at the end of the buffer. FormatError for a truncated or
  /// overlong varint, a length past the end, field number 0, a group or an unknown wire type.
  bool next(ProtobufField& field);

  /// A reader for the payload of a length-delimited field (a nested message), with `what`
  /// appended to the source name. FormatError if the field is not length-delimited.
  ProtobufReader nested(const ProtobufField& field, const std::string& what) const;

  /// Field values as a given scalar type; FormatError naming `name` when the wire type does not
  /// fit (e.g. a string sent as a varint).
  std::string_view bytesOf(const ProtobufField& field, const char* name) const;
  float floatOf(const ProtobufField& field, const char* name) const;
  std::int32_t int32Of(const ProtobufField& field, const char* name) const;
  bool boolOf(const ProtobufField& field, const char* name) const;

  const std::string& where() const { return m_where; }

 private:
  std::uint64_t readVarint(const char* what);
  [[noreturn]] void fail(std::size_t offset, const std::string& what) const;
  void requireType(const ProtobufField& field, WireType type, const char* name) const;

  std::string_view m_buffer;
  std::string m_where;
  std::size_t m_base = 0;
  std::size_t m_pos = 0;
};

}  // namespace cs::data
