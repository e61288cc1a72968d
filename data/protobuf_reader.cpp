// Protocol buffer wire format, read defensively: a varint is at most 10 bytes and fits 64 bits,
// a length never reaches past the buffer, and a wire type must match the field's declared type.
#include "data/protobuf_reader.h"

#include <cstring>

#include "core/error.h"

namespace cs::data {

namespace {

const char* wireTypeName(WireType type) {
  switch (type) {
    case WireType::Varint:
      return "varint";
    case WireType::Fixed64:
      return "64-bit";
    case WireType::LengthDelimited:
      return "length-delimited";
    case WireType::StartGroup:
      return "start-group";
    case WireType::EndGroup:
      return "end-group";
    case WireType::Fixed32:
      return "32-bit";
  }
  return "unknown";
}

}  // namespace

ProtobufReader::ProtobufReader(std::string_view buffer, std::string where, std::size_t baseOffset)
    : m_buffer(buffer), m_where(std::move(where)), m_base(baseOffset) {}

void ProtobufReader::fail(std::size_t offset, const std::string& what) const {
  throw FormatError(m_where + ": " + what + " at byte " + std::to_string(m_base + offset) +
                    "; the file is truncated or not a protocol buffer");
}

std::uint64_t ProtobufReader::readVarint(const char* what) {
  const std::size_t start = m_pos;
  std::uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (m_pos >= m_buffer.size()) fail(start, std::string("truncated varint (") + what + ")");
    const auto byte = static_cast<std::uint8_t>(m_buffer[m_pos++]);
    // The tenth byte holds bit 63 only: it must end the varint and be 0 or 1.
    if (shift == 63 && (byte & 0x80) != 0)
      fail(start, std::string("varint (") + what + ") longer than 10 bytes");
    if (shift == 63 && byte > 1)
      fail(start, std::string("varint (") + what + ") overflows 64 bits");
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return value;  // not reached: the tenth byte always ends the loop above
}

bool ProtobufReader::next(ProtobufField& field) {
  if (m_pos >= m_buffer.size()) return false;
  field = ProtobufField{};
  field.offset = m_base + m_pos;
  const std::size_t start = m_pos;
  const std::uint64_t tag = readVarint("field tag");
  const auto number = tag >> 3;
  const auto type = static_cast<unsigned>(tag & 7);
  if (number == 0 || number > (std::uint64_t{1} << 29) - 1)
    fail(start, "invalid field number " + std::to_string(number));
  field.number = static_cast<std::uint32_t>(number);
  field.type = static_cast<WireType>(type);
  const std::string name = "field " + std::to_string(number);
  switch (field.type) {
    case WireType::Varint:
      field.value = readVarint(name.c_str());
      return true;
    case WireType::Fixed64:
    case WireType::Fixed32: {
      const std::size_t width = field.type == WireType::Fixed64 ? 8 : 4;
      if (m_buffer.size() - m_pos < width)
        fail(m_pos, name + ": " + std::to_string(width) + "-byte value past the end");
      std::uint64_t value = 0;
      // Little-endian on the wire, whatever the host.
      for (std::size_t i = 0; i < width; ++i)
        value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(m_buffer[m_pos + i]))
                 << (8 * i);
      field.value = value;
      m_pos += width;
      return true;
    }
    case WireType::LengthDelimited: {
      const std::size_t lengthAt = m_pos;
      const std::uint64_t length = readVarint(name.c_str());
      if (length > m_buffer.size() - m_pos)
        fail(lengthAt, name + ": length " + std::to_string(length) + " reaches past the end (" +
                           std::to_string(m_buffer.size() - m_pos) + " bytes left)");
      field.bytes = m_buffer.substr(m_pos, static_cast<std::size_t>(length));
      m_pos += static_cast<std::size_t>(length);
      return true;
    }
    case WireType::StartGroup:
    case WireType::EndGroup:
      fail(start, name + ": groups (wire type " + std::to_string(type) + ") are not supported");
  }
  fail(start, name + ": unknown wire type " + std::to_string(type));
}

ProtobufReader ProtobufReader::nested(const ProtobufField& field, const std::string& what) const {
  requireType(field, WireType::LengthDelimited, what.c_str());
  const auto offset = static_cast<std::size_t>(field.bytes.data() - m_buffer.data());
  return ProtobufReader(field.bytes, m_where + ": " + what, m_base + offset);
}

void ProtobufReader::requireType(const ProtobufField& field, WireType type,
                                 const char* name) const {
  if (field.type != type)
    throw FormatError(m_where + ": field " + std::to_string(field.number) + " (" + name +
                      ") at byte " + std::to_string(field.offset) + " has wire type " +
                      wireTypeName(field.type) + ", expected " + wireTypeName(type) +
                      "; the file is not the expected kind of protocol buffer");
}

std::string_view ProtobufReader::bytesOf(const ProtobufField& field, const char* name) const {
  requireType(field, WireType::LengthDelimited, name);
  return field.bytes;
}

float ProtobufReader::floatOf(const ProtobufField& field, const char* name) const {
  requireType(field, WireType::Fixed32, name);
  const auto bits = static_cast<std::uint32_t>(field.value);
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::int32_t ProtobufReader::int32Of(const ProtobufField& field, const char* name) const {
  requireType(field, WireType::Varint, name);
  // int32 is sign-extended to 64 bits on the wire; the low 32 bits are the value.
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(field.value));
}

bool ProtobufReader::boolOf(const ProtobufField& field, const char* name) const {
  requireType(field, WireType::Varint, name);
  return field.value != 0;
}

}  // namespace cs::data
