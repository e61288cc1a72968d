// The protocol buffer reader on hand-made buffers: every scalar kind, nested messages, unknown
// fields skipped, and malformed input (truncated or overlong varints, lengths past the end, wrong
// wire types, groups, field number 0) refused with a FormatError naming the source and offset.
#include "data/protobuf_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

using ::testing::HasSubstr;

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (const int v : values) s += static_cast<char>(v);
  return s;
}

// Reads every field of `buffer` (what a message parser does).
std::vector<ProtobufField> readAll(const std::string& buffer) {
  ProtobufReader reader(buffer, "test.model");
  std::vector<ProtobufField> fields;
  ProtobufField f;
  while (reader.next(f)) fields.push_back(f);
  return fields;
}

TEST(ProtobufReader, ReadsEveryWireType) {
  float pi = 3.25f;
  std::uint32_t piBits = 0;
  std::memcpy(&piBits, &pi, 4);
  std::string buffer = bytes({0x08, 0x96, 0x01});  // field 1 varint 150
  buffer += bytes({0x12, 0x03}) + "abc";           // field 2 "abc"
  buffer += bytes({0x1D, static_cast<int>(piBits & 0xFF), static_cast<int>((piBits >> 8) & 0xFF),
                   static_cast<int>((piBits >> 16) & 0xFF), static_cast<int>(piBits >> 24)});
  buffer += bytes({0x21, 1, 2, 3, 4, 5, 6, 7, 8});  // field 4 fixed64
  // field 5 int32 -1: sign-extended to ten bytes.
  buffer += bytes({0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  ProtobufReader reader(buffer, "test.model");
  ProtobufField f;
  ASSERT_TRUE(reader.next(f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(reader.int32Of(f, "a"), 150);
  ASSERT_TRUE(reader.next(f));
  EXPECT_EQ(reader.bytesOf(f, "b"), "abc");
  ASSERT_TRUE(reader.next(f));
  EXPECT_EQ(reader.floatOf(f, "c"), 3.25f);
  ASSERT_TRUE(reader.next(f));
  EXPECT_EQ(f.type, WireType::Fixed64);
  EXPECT_EQ(f.value, 0x0807060504030201ull);
  ASSERT_TRUE(reader.next(f));
  EXPECT_EQ(reader.int32Of(f, "e"), -1);
  EXPECT_FALSE(reader.next(f));
}

TEST(ProtobufReader, NestedMessagesReportFileOffsets) {
  // field 1 { field 2: truncated varint }
  const std::string buffer = bytes({0x0A, 0x02, 0x10, 0x80});
  ProtobufReader reader(buffer, "test.model");
  ProtobufField f;
  ASSERT_TRUE(reader.next(f));
  auto inner = reader.nested(f, "pieces[0]");
  const auto message = test::messageOf<FormatError>([&] {
    ProtobufField g;
    while (inner.next(g)) {
    }
  });
  EXPECT_THAT(message, HasSubstr("test.model: pieces[0]"));
  EXPECT_THAT(message, HasSubstr("truncated varint"));
  EXPECT_THAT(message, HasSubstr("at byte 3"));
}

TEST(ProtobufReader, TruncatedVarintIsAFormatError) {
  const auto message = test::messageOf<FormatError>([] { readAll(bytes({0x08, 0x96})); });
  EXPECT_THAT(message, HasSubstr("test.model"));
  EXPECT_THAT(message, HasSubstr("truncated varint (field 1)"));
  EXPECT_THAT(message, HasSubstr("at byte 1"));
  EXPECT_THAT(test::messageOf<FormatError>([] { readAll(bytes({0x80})); }),
              HasSubstr("truncated varint (field tag) at byte 0"));
}

TEST(ProtobufReader, OverlongVarintIsAFormatError) {
  // Ten continuation bytes: an eleventh would be needed, more than 64 bits can hold.
  EXPECT_THAT(
      test::messageOf<FormatError>([] {
        readAll(bytes({0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
      }),
      HasSubstr("varint (field 1) longer than 10 bytes at byte 1"));
  // Ten bytes whose last one carries more than bit 63.
  EXPECT_THAT(test::messageOf<FormatError>([] {
                readAll(bytes({0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}));
              }),
              HasSubstr("overflows 64 bits"));
}

TEST(ProtobufReader, LengthPastTheEndIsAFormatError) {
  const auto message = test::messageOf<FormatError>([] { readAll(bytes({0x12, 0x05}) + "abc"); });
  EXPECT_THAT(message, HasSubstr("field 2: length 5 reaches past the end (3 bytes left)"));
  EXPECT_THAT(message, HasSubstr("at byte 1"));
  // A length near 2^64 must not wrap around.
  EXPECT_THAT(test::messageOf<FormatError>([] {
                readAll(bytes({0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
              }),
              HasSubstr("reaches past the end"));
  EXPECT_THAT(test::messageOf<FormatError>([] {
                readAll(bytes({0x1D, 1, 2}));
              }),
              HasSubstr("4-byte value past the end"));
}

TEST(ProtobufReader, WrongWireTypeForAKnownFieldIsAFormatError) {
  const std::string buffer = bytes({0x12, 0x01, 0x41});  // field 2 as bytes
  ProtobufReader reader(buffer, "test.model");
  ProtobufField f;
  ASSERT_TRUE(reader.next(f));
  const auto message = test::messageOf<FormatError>([&] { reader.floatOf(f, "score"); });
  EXPECT_THAT(message, HasSubstr("field 2 (score)"));
  EXPECT_THAT(message, HasSubstr("wire type length-delimited, expected 32-bit"));
  const std::string varint = bytes({0x08, 0x01});
  ProtobufReader r2(varint, "test.model");
  ASSERT_TRUE(r2.next(f));
  EXPECT_THAT(test::messageOf<FormatError>([&] { r2.nested(f, "trainer_spec"); }),
              HasSubstr("(trainer_spec) at byte 0 has wire type varint"));
}

TEST(ProtobufReader, GroupsUnknownWireTypesAndFieldZeroAreRefused) {
  EXPECT_THAT(test::messageOf<FormatError>([] { readAll(bytes({0x0B})); }), HasSubstr("groups"));
  EXPECT_THAT(test::messageOf<FormatError>([] { readAll(bytes({0x0E})); }),
              HasSubstr("unknown wire type 6"));
  EXPECT_THAT(test::messageOf<FormatError>([] {
                readAll(bytes({0x00, 0x00}));
              }),
              HasSubstr("invalid field number 0"));
}

}  // namespace
}  // namespace cs::data
