// safetensors reader and writer: bit-exact round trips for every dtype we store, metadata, the
// exact bytes of a tiny file, atomic writes, tensors that outlive their file, and a data area at
// an odd offset. Malformed files are covered in tests/models/malformed_checkpoint_test.cpp.
#include "data/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

#include "core/error.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// The raw bytes of a tensor in row-major order: equal bytes is what "bit-exact" means here,
// so NaN payloads and signed zeros count (torch::equal would not see them).
std::string bytesOf(const at::Tensor& t) {
  const auto c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

std::string littleEndian64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::set<std::string> filesIn(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.insert(e.path().filename().string());
  return names;
}

/// A 1-d tensor of `type` holding exactly these bytes. Copying raw bytes (rather than going
/// through torch::tensor, which picks its own dtype and converts) keeps every bit as written.
template <typename T>
at::Tensor fromBits(const std::vector<T>& values, c10::ScalarType type) {
  auto t = torch::empty({static_cast<std::int64_t>(values.size())}, torch::dtype(type));
  EXPECT_EQ(t.element_size(), sizeof(T));
  std::memcpy(t.data_ptr(), values.data(), values.size() * sizeof(T));
  return t;
}

// Special values (NaN with a payload, -0, subnormals, infinities, integer extremes) must come
// back exactly, so floating tensors are given as bit patterns.
Tensors everyDtype() {
  const std::vector<std::uint32_t> f32{0x00000000, 0x80000000, 0x3fc00000, 0x00000001,
                                       0x7f800000, 0xff800000, 0x7fc00123, 0x7f7fffff};
  const std::vector<std::uint64_t> f64{0x400921fb54442d18, 0x8000000000000000, 0x0000000000000001,
                                       0x7ff8000000000abc};
  const std::vector<std::uint16_t> f16{0x3800, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e01};
  const std::vector<std::uint16_t> bf16{0x3f80, 0xc060, 0x7f7f, 0x8000, 0x7fc1, 0x0001};
  const std::vector<std::int64_t> i64{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                      std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::int32_t> i32{std::numeric_limits<std::int32_t>::min(), 7,
                                      std::numeric_limits<std::int32_t>::max()};
  const std::vector<std::uint8_t> u8{0, 1, 127, 128, 255};
  const std::vector<std::uint8_t> flags{1, 0, 0, 1};
  return {
      {"f32", fromBits(f32, torch::kFloat).reshape({2, 4})},
      {"f64", fromBits(f64, torch::kDouble)},
      {"f16", fromBits(f16, torch::kHalf).reshape({3, 2})},
      {"bf16", fromBits(bf16, torch::kBFloat16).reshape({2, 3})},
      {"i64", fromBits(i64, torch::kLong).reshape({2, 2})},
      {"i32", fromBits(i32, torch::kInt)},
      {"u8", fromBits(u8, torch::kByte)},
      {"bool", fromBits(flags, torch::kBool)},
      {"scalar", torch::scalar_tensor(-2.5, torch::kDouble)},
      {"empty", torch::empty({0, 3}, torch::kFloat)},
      // A transposed view: the writer must store its logical (row-major) order, not its storage.
      {"transposed", torch::arange(12, torch::kFloat).reshape({3, 4}).t()},
  };
}

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  test::TempDir dir;
  const auto path = dir / "all.safetensors";
  const auto tensors = everyDtype();
  ASSERT_FALSE(tensors.back().second.is_contiguous());
  writeSafetensors(path, tensors);

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.entries().size(), tensors.size());
  EXPECT_TRUE(file.metadata().empty());
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.contains(name));
    EXPECT_EQ(file.entry(name).dtype, original.scalar_type());
    EXPECT_EQ(file.entry(name).shape, original.sizes().vec());
    const auto read = file.tensor(name);
    EXPECT_EQ(read.scalar_type(), original.scalar_type());
    EXPECT_EQ(read.sizes(), original.sizes());
    EXPECT_TRUE(read.device().is_cpu());
    EXPECT_EQ(bytesOf(read), bytesOf(original));
  }
  EXPECT_EQ(file.tensor("scalar").dim(), 0);
  EXPECT_EQ(file.tensor("scalar").item<double>(), -2.5);
  EXPECT_EQ(file.tensor("empty").numel(), 0);
  EXPECT_EQ(file.entry("empty").begin, file.entry("empty").end);
  EXPECT_TRUE(torch::equal(file.tensor("transposed"),
                           torch::arange(12, torch::kFloat).reshape({3, 4}).t()));
}

TEST(Safetensors, MetadataRoundTrips) {
  test::TempDir dir;
  const auto path = dir / "meta.safetensors";
  const std::map<std::string, std::string> metadata{
      {"format", "pt"},
      {"note", "quotes \" backslash \\ newline \n unicode \xc3\xbc"},
      {"empty", ""}};
  writeSafetensors(path, {{"w", torch::ones({2}, torch::kFloat)}}, metadata);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  EXPECT_FALSE(file.contains("__metadata__"));
  EXPECT_EQ(file.entries().size(), 1u);
}

TEST(Safetensors, WritesTheExpectedBytes) {
  test::TempDir dir;
  const auto path = dir / "tiny.safetensors";
  writeSafetensors(path, {{"a", torch::tensor(std::vector<float>{1.0f, -2.0f})},
                          {"b", torch::tensor(std::vector<std::uint8_t>{1, 2, 3})}});

  // 107 bytes of compact JSON, padded with 5 spaces so the data area starts 8-byte aligned.
  const std::string json = R"({"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},)"
                           R"("b":{"data_offsets":[8,11],"dtype":"U8","shape":[3]}})"
                           "     ";
  ASSERT_EQ(json.size(), 112u);
  const std::string data{'\x00', '\x00', '\x80', '\x3f',  // 1.0f, little-endian
                         '\x00', '\x00', '\x00', '\xc0',  // -2.0f
                         '\x01', '\x02', '\x03'};
  const std::string lengthPrefix{'\x70', '\0', '\0', '\0', '\0', '\0', '\0', '\0'};  // 112
  EXPECT_EQ(readBytes(path), lengthPrefix + json + data);
}

TEST(Safetensors, WriteLeavesNoTemporaryFile) {
  test::TempDir dir;
  writeSafetensors(dir / "model.safetensors", everyDtype());
  EXPECT_EQ(filesIn(dir.path()), std::set<std::string>{"model.safetensors"});
}

TEST(Safetensors, OverwriteReplacesTheWholeFile) {
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  writeSafetensors(path, {{"big", torch::ones({1000}, torch::kDouble)}});
  writeSafetensors(path, {{"small", torch::full({2}, 3.0f)}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_FALSE(file.contains("big"));
  EXPECT_TRUE(torch::equal(file.tensor("small"), torch::full({2}, 3.0f)));
  EXPECT_EQ(filesIn(dir.path()), std::set<std::string>{"model.safetensors"});
}

TEST(Safetensors, WritingIntoMissingFolderThrowsIoErrorAndLeavesNothing) {
  test::TempDir dir;
  const auto path = dir / "missing" / "model.safetensors";
  try {
    writeSafetensors(path, {{"w", torch::ones({2})}});
    FAIL() << "writing into a missing folder succeeded";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir.path() / "missing").string()));
  }
  EXPECT_FALSE(fs::exists(dir / "missing"));
  EXPECT_TRUE(filesIn(dir.path()).empty());
}

// The final rename fails when the target is a folder: the error names both paths, the
// temporary file is cleaned up, and whatever was at the target is untouched.
TEST(Safetensors, FailedRenameRemovesTheTemporaryFile) {
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  fs::create_directory(path);
  writeBytes(path / "keep.txt", "kept");
  try {
    writeSafetensors(path, {{"w", torch::ones({2})}});
    FAIL() << "renaming onto a folder succeeded";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("model.safetensors.tmp"));
  }
  EXPECT_EQ(filesIn(dir.path()), std::set<std::string>{"model.safetensors"});
  EXPECT_EQ(readBytes(path / "keep.txt"), "kept");
}

TEST(Safetensors, WriterRefusesReservedDuplicateAndUnstorableTensors) {
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  const auto w = torch::ones({2});
  EXPECT_THROW(writeSafetensors(path, {{"__metadata__", w}}), ConfigError);
  EXPECT_THROW(writeSafetensors(path, {{"w", w}, {"w", w}}), ConfigError);
  try {
    writeSafetensors(path, {{"c", torch::ones({2}, torch::kComplexFloat)}});
    FAIL() << "a complex tensor was written";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot be stored in safetensors"));
  }
  EXPECT_TRUE(filesIn(dir.path()).empty());
}

TEST(Safetensors, TensorsAreCopiesThatOutliveTheFile) {
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  const auto original = torch::randn({64, 32}, torch::kFloat);
  writeSafetensors(path, {{"w", original}});
  at::Tensor kept;
  {
    const auto file = SafetensorsFile::open(path);
    kept = file.tensor("w");
    // Copies, not views of the mapping: a file changed later cannot reach them
    // (tests/models/checkpoint_changes_test.cpp).
    EXPECT_NE(kept.data_ptr(), file.tensor("w").data_ptr());
  }
  fs::remove(path);
  EXPECT_EQ(bytesOf(kept), bytesOf(original));
  EXPECT_EQ(bytesOf(kept.clone()), bytesOf(original));
}

// A hand-built header of odd length puts the data area at an odd offset, so no tensor is
// aligned for its element type and the reader must copy instead of viewing.
TEST(Safetensors, ReadsDataAtAnOddOffset) {
  test::TempDir dir;
  const auto path = dir / "odd.safetensors";
  std::string json = R"({"f":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                     R"("d":{"dtype":"F64","shape":[1],"data_offsets":[12,20]},)"
                     R"("i":{"dtype":"I16","shape":[2],"data_offsets":[20,24]}})";
  if (json.size() % 2 == 0) json += ' ';
  ASSERT_EQ(json.size() % 2, 1u);

  const std::vector<float> f{1.5f, -2.25f, 1e30f};
  const double d = -0.1;
  const std::vector<std::int16_t> i{-32768, 12345};
  std::string data(24, '\0');
  std::memcpy(data.data(), f.data(), 12);
  std::memcpy(data.data() + 12, &d, 8);
  std::memcpy(data.data() + 20, i.data(), 4);
  writeBytes(path, littleEndian64(json.size()) + json + data);

  at::Tensor readF, readD, readI;
  {
    const auto file = SafetensorsFile::open(path);
    readF = file.tensor("f");
    readD = file.tensor("d");
    readI = file.tensor("i");
  }
  EXPECT_EQ(readF.scalar_type(), torch::kFloat);
  EXPECT_EQ(bytesOf(readF), bytesOf(fromBits(f, torch::kFloat)));
  EXPECT_EQ(readD.scalar_type(), torch::kDouble);
  EXPECT_EQ(readD.item<double>(), d);
  EXPECT_EQ(readI.scalar_type(), torch::kShort);
  EXPECT_EQ(bytesOf(readI), bytesOf(fromBits(i, torch::kShort)));
}

TEST(Safetensors, UnknownTensorNameIsAFormatErrorNamingIt) {
  test::TempDir dir;
  const auto path = dir / "model.safetensors";
  writeSafetensors(path, {{"w", torch::ones({2})}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_FALSE(file.contains("nope"));
  try {
    (void)file.tensor("nope");
    FAIL() << "tensor() returned for an absent name";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'nope'"));
    EXPECT_THAT(e.what(), HasSubstr("model.safetensors"));
  }
}

TEST(Safetensors, MissingFileIsAnIoErrorNamingIt) {
  test::TempDir dir;
  try {
    (void)SafetensorsFile::open(dir / "absent.safetensors");
    FAIL() << "opened a file that does not exist";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.safetensors"));
  }
}

}  // namespace
}  // namespace cs::data
