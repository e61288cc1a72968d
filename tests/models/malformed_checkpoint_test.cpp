// Malformed checkpoints are refused with the right error kind and a message that names the
// problem (file, tensor or field). Every input is built here in a temporary folder, by hand or
// by corrupting a copy of tests/data/hf/gpt2-tiny; one sharded case checks the happy path too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <typeinfo>

#include "core/error.h"
#include "data/safetensors.h"
#include "models/loaders/checkpoint_files.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

// ---- helpers ----------------------------------------------------------------------------

void writeBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string littleEndian64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// A safetensors file from a header text and a data area, exactly as given.
std::string safetensorsBytes(const std::string& header, const std::string& data) {
  return littleEndian64(header.size()) + header + data;
}

template <typename E>
std::string openError(const fs::path& path) {
  return test::messageOf<E>([&] { (void)data::SafetensorsFile::open(path); });
}

template <typename E>
std::string loadError(const fs::path& folder) {
  return test::messageOf<E>([&] { (void)loadHfModel(folder); });
}

/// Every tensor of gpt2-tiny, in file order (the tensors outlive the file object).
Tensors gpt2Tensors() {
  const auto file = data::SafetensorsFile::open(test::dataPath("hf/gpt2-tiny/model.safetensors"));
  Tensors out;
  for (const auto& e : file.entries()) out.emplace_back(e.name, file.tensor(e.name));
  return out;
}

/// A private copy of gpt2-tiny to corrupt.
fs::path gpt2Copy(const test::TempDir& dir) {
  const auto folder = dir / "gpt2";
  test::copyModelFolder(test::dataPath("hf/gpt2-tiny"), folder);
  return folder;
}

void rewriteCheckpoint(const fs::path& folder, const Tensors& tensors) {
  data::writeSafetensors(folder / "model.safetensors", tensors, {{"format", "pt"}});
}

nlohmann::json readJson(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void writeJson(const fs::path& path, const nlohmann::json& j) { writeBytes(path, j.dump(2)); }

at::Tensor logitsOf(Transformer& model) {
  c10::InferenceMode guard;
  ModelInput input;
  input.tokens = torch::tensor(std::vector<std::int64_t>{1, 2, 3}, torch::kLong).unsqueeze(0);
  return model.forward(input);
}

// ---- safetensors files --------------------------------------------------------------------

class MalformedSafetensors : public ::testing::Test {
 protected:
  /// Writes `bytes` to bad.safetensors (replacing what a previous call wrote); returns its path.
  fs::path file(const std::string& bytes) {
    const auto path = m_dir / "bad.safetensors";
    writeBytes(path, bytes);
    return path;
  }

  test::TempDir m_dir;
};

TEST_F(MalformedSafetensors, EmptyFile) {
  const auto msg = openError<FormatError>(file(""));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("0 bytes is too short"));
}

TEST_F(MalformedSafetensors, ShorterThanTheLengthPrefix) {
  const auto msg = openError<FormatError>(file(std::string("\x10\0\0\0\0", 5)));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("5 bytes is too short"));
}

TEST_F(MalformedSafetensors, HeaderLengthPastEndOfFile) {
  const auto msg = openError<FormatError>(file(littleEndian64(1000) + "{}"));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("header length 1000 runs past the end of the file (10 bytes)"));
}

TEST_F(MalformedSafetensors, HugeHeaderLengthDoesNotWrapAround) {
  const auto msg = openError<FormatError>(file(littleEndian64(~0ull) + "{}"));
  EXPECT_THAT(msg, HasSubstr("runs past the end of the file"));
}

TEST_F(MalformedSafetensors, HeaderNotJson) {
  const auto msg = openError<FormatError>(file(safetensorsBytes("{\"w\": not json", "")));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("header: not valid JSON"));
}

TEST_F(MalformedSafetensors, HeaderJsonNotAnObject) {
  const auto msg = openError<FormatError>(file(safetensorsBytes("[1, 2, 3]", "")));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("header JSON is not an object"));
}

TEST_F(MalformedSafetensors, EntryNotAnObject) {
  const auto msg = openError<FormatError>(file(safetensorsBytes(R"({"w": 5})", "")));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("not a JSON object"));
}

TEST_F(MalformedSafetensors, UnknownDtype) {
  const auto msg = openError<FormatError>(file(safetensorsBytes(
      R"({"layer.w": {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 2]}})", "xx")));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("tensor 'layer.w'"));
  EXPECT_THAT(msg, HasSubstr("unsupported dtype \"Q4_K\""));
}

TEST_F(MalformedSafetensors, MissingDtype) {
  const auto msg = openError<FormatError>(
      file(safetensorsBytes(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "abcd")));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("\"dtype\""));
}

TEST_F(MalformedSafetensors, NegativeShapeEntry) {
  const auto msg = openError<FormatError>(file(
      safetensorsBytes(R"({"neg": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}})",
                       std::string(8, '\0'))));
  EXPECT_THAT(msg, HasSubstr("tensor 'neg'"));
  EXPECT_THAT(msg, HasSubstr("[-1,2]"));
  EXPECT_THAT(msg, HasSubstr("non-integer or negative size"));
}

TEST_F(MalformedSafetensors, NonIntegerShapeEntries) {
  for (const std::string shape : {"[1.5]", "[\"2\"]", "[null]", "[[2]]"}) {
    SCOPED_TRACE(shape);
    const auto msg = openError<FormatError>(file(safetensorsBytes(
        R"({"frac": {"dtype": "U8", "shape": )" + shape + R"(, "data_offsets": [0, 2]}})", "xx")));
    EXPECT_THAT(msg, HasSubstr("tensor 'frac'"));
    EXPECT_THAT(msg, HasSubstr("non-integer or negative size"));
  }
}

TEST_F(MalformedSafetensors, ShapeNotAnArray) {
  const auto msg = openError<FormatError>(file(
      safetensorsBytes(R"({"w": {"dtype": "U8", "shape": 4, "data_offsets": [0, 4]}})", "abcd")));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("\"shape\" must be an array"));
}

TEST_F(MalformedSafetensors, ShapeProductOverflows) {
  const auto msg = openError<FormatError>(file(safetensorsBytes(
      R"({"huge": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})",
      "")));
  EXPECT_THAT(msg, HasSubstr("tensor 'huge'"));
  EXPECT_THAT(msg, HasSubstr("impossible number of bytes"));
}

TEST_F(MalformedSafetensors, DataOffsetsPastDataArea) {
  const auto msg = openError<FormatError>(file(safetensorsBytes(
      R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::string(8, '\0'))));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("data_offsets end 16 lies past the data area (8 bytes)"));
}

TEST_F(MalformedSafetensors, DataOffsetsMalformed) {
  for (const std::string offsets : {"[0]", "[0, 4, 8]", "[-4, 4]", "[0, 4.0]", "\"0-4\""}) {
    SCOPED_TRACE(offsets);
    const auto msg = openError<FormatError>(file(safetensorsBytes(
        R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": )" + offsets + "}}", "abcd")));
    EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
    EXPECT_THAT(msg, HasSubstr("\"data_offsets\" must be two non-negative integers"));
  }
}

TEST_F(MalformedSafetensors, ByteCountDoesNotMatchDtypeAndShape) {
  const auto msg = openError<FormatError>(
      file(safetensorsBytes(R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})",
                            std::string(16, '\0'))));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("12 bytes stored but F32 [2, 2] needs 16 bytes"));
}

TEST_F(MalformedSafetensors, OverlappingOffsets) {
  const auto msg = openError<FormatError>(file(
      safetensorsBytes(R"({"first": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                       R"( "second": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                       std::string(12, '\0'))));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("tensors 'first' and 'second' overlap"));
}

TEST_F(MalformedSafetensors, OverlapHiddenBehindAContainedTensor) {
  // "outer" covers both others, so the overlap shows between neighbours in offset order.
  const auto msg = openError<FormatError>(
      file(safetensorsBytes(R"({"outer": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]},)"
                            R"( "inner": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]},)"
                            R"( "late": {"dtype": "U8", "shape": [4], "data_offsets": [10, 14]}})",
                            std::string(16, '\0'))));
  EXPECT_THAT(msg, HasSubstr("overlap"));
  EXPECT_THAT(msg, HasSubstr("'outer'"));
}

TEST_F(MalformedSafetensors, EndBeforeBegin) {
  const auto msg = openError<FormatError>(file(safetensorsBytes(
      R"({"back": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})", std::string(8, '\0'))));
  EXPECT_THAT(msg, HasSubstr("tensor 'back'"));
  EXPECT_THAT(msg, HasSubstr("data_offsets [8, 4] run backwards"));
}

TEST_F(MalformedSafetensors, MetadataNotStrings) {
  const auto msg =
      openError<FormatError>(file(safetensorsBytes(R"({"__metadata__": {"format": 1}})", "")));
  EXPECT_THAT(msg, HasSubstr("__metadata__ value 'format' is not a string"));
  const auto notObject =
      openError<FormatError>(file(safetensorsBytes(R"({"__metadata__": "pt"})", "")));
  EXPECT_THAT(notObject, HasSubstr("__metadata__ is not an object"));
}

TEST_F(MalformedSafetensors, DeeplyNestedHeaderIsRefusedNotACrash) {
  // Deep enough to overflow the stack of any recursive parser or printer.
  const std::size_t depth = 200000;
  const std::string header = R"({"w": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const auto msg = openError<FormatError>(file(safetensorsBytes(header, "")));
  EXPECT_THAT(msg, HasSubstr("bad.safetensors"));
  EXPECT_THAT(msg, HasSubstr("nested more than 16 levels"));
}

TEST_F(MalformedSafetensors, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string name(100, '[');
  const auto path = file(safetensorsBytes(
      R"({")" + name + R"(": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", "ab"));
  const auto opened = data::SafetensorsFile::open(path);
  EXPECT_TRUE(opened.contains(name));
}

// ---- checkpoint folders: tensors ----------------------------------------------------------

TEST(MalformedCheckpoint, MissingTensor) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto tensors = gpt2Tensors();
  std::erase_if(tensors, [](const auto& t) { return t.first == "transformer.h.1.ln_2.bias"; });
  rewriteCheckpoint(folder, tensors);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("missing tensor 'transformer.h.1.ln_2.bias' (expected [64])"));
  EXPECT_THAT(msg, HasSubstr(folder.string()));
}

TEST(MalformedCheckpoint, WronglyShapedTensor) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto tensors = gpt2Tensors();
  for (auto& [name, t] : tensors) {
    if (name == "transformer.h.0.attn.c_proj.weight") t = t.narrow(1, 0, 32);
  }
  rewriteCheckpoint(folder, tensors);
  const auto msg = loadError<ShapeError>(folder);
  EXPECT_THAT(msg, HasSubstr("model.safetensors"));
  EXPECT_THAT(
      msg,
      HasSubstr("tensor 'transformer.h.0.attn.c_proj.weight': expected [64, 64], got [64, 32]"));
}

TEST(MalformedCheckpoint, UnexpectedExtraTensor) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto tensors = gpt2Tensors();
  tensors.emplace_back("transformer.h.2.ln_1.weight", torch::ones({64}));
  rewriteCheckpoint(folder, tensors);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("model.safetensors"));
  EXPECT_THAT(msg, HasSubstr("unexpected tensor 'transformer.h.2.ln_1.weight'"));
  EXPECT_THAT(msg, HasSubstr("2 layers"));
}

TEST(MalformedCheckpoint, IntegerWeightIsRefused) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto tensors = gpt2Tensors();
  for (auto& [name, t] : tensors) {
    if (name == "transformer.ln_f.weight") t = t.to(torch::kLong);
  }
  rewriteCheckpoint(folder, tensors);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("tensor 'transformer.ln_f.weight' has dtype Long"));
}

// Older GPT-2 files carry causal-mask buffers next to the weights; they are not errors.
TEST(MalformedCheckpoint, MaskBuffersAreIgnoredNotUnexpected) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto tensors = gpt2Tensors();
  tensors.emplace_back("transformer.h.0.attn.bias", torch::ones({1, 1, 64, 64}));
  tensors.emplace_back("transformer.h.1.attn.masked_bias", torch::scalar_tensor(-1e4));
  rewriteCheckpoint(folder, tensors);
  EXPECT_NO_THROW((void)loadHfModel(folder));
}

TEST(MalformedCheckpoint, CorruptSafetensorsInsideFolderNamesTheFile) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  // Cut into the data area: the header is intact, the last tensor is not.
  const auto path = folder / "model.safetensors";
  fs::resize_file(path, fs::file_size(path) - 4);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("model.safetensors"));
  EXPECT_THAT(msg, HasSubstr("lies past the data area"));
}

// ---- checkpoint folders: config.json ------------------------------------------------------

TEST(MalformedCheckpoint, ConfigNotJson) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  writeBytes(folder / "config.json", "{\"model_type\": \"gpt2\", ");
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("config.json: not valid JSON"));
}

TEST(MalformedCheckpoint, ConfigNotAnObject) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  writeBytes(folder / "config.json", "[\"gpt2\"]");
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("config.json: not a JSON object"));
}

TEST(MalformedCheckpoint, UnknownModelTypeListsSupportedTypes) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto config = readJson(folder / "config.json");
  config["model_type"] = "bert";
  writeJson(folder / "config.json", config);
  const auto msg = loadError<ConfigError>(folder);
  EXPECT_THAT(msg, HasSubstr("model_type \"bert\" is not supported"));
  EXPECT_THAT(msg, HasSubstr("gpt2"));
  EXPECT_THAT(msg, HasSubstr("llama"));
  EXPECT_THAT(msg, HasSubstr("vit"));
}

TEST(MalformedCheckpoint, MissingModelType) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto config = readJson(folder / "config.json");
  config.erase("model_type");
  writeJson(folder / "config.json", config);
  const auto msg = loadError<ConfigError>(folder);
  EXPECT_THAT(msg, HasSubstr("no \"model_type\""));
  EXPECT_THAT(msg, HasSubstr("gpt2"));
}

TEST(MalformedCheckpoint, MissingRequiredConfigField) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  auto config = readJson(folder / "config.json");
  config.erase("n_embd");
  writeJson(folder / "config.json", config);
  const auto msg = loadError<ConfigError>(folder);
  EXPECT_THAT(msg, HasSubstr("required field \"n_embd\" is missing"));
}

TEST(MalformedCheckpoint, ConfigFieldOutOfRangeOrWrongType) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  const auto original = readJson(folder / "config.json");
  const std::vector<std::pair<std::string, nlohmann::json>> cases{
      {"n_head", -4}, {"n_layer", 1.5}, {"n_embd", "64"}, {"vocab_size", 0}, {"n_head", 5}};
  for (const auto& [field, value] : cases) {
    SCOPED_TRACE(field + " = " + value.dump());
    auto config = original;
    config[field] = value;
    writeJson(folder / "config.json", config);
    const auto msg = loadError<ConfigError>(folder);
    EXPECT_THAT(msg, HasSubstr(field));
  }
}

TEST(MalformedCheckpoint, MissingConfig) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  fs::remove(folder / "config.json");
  const auto msg = loadError<IoError>(folder);
  EXPECT_THAT(msg, HasSubstr("config.json"));
}

TEST(MalformedCheckpoint, NotAFolder) {
  test::TempDir dir;
  const auto msg = loadError<IoError>(dir / "nowhere");
  EXPECT_THAT(msg, HasSubstr("nowhere is not a folder"));
}

// ---- checkpoint folders: which files ------------------------------------------------------

TEST(MalformedCheckpoint, PickleOnlyFolderIsRefused) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  fs::remove(folder / "model.safetensors");
  // Never opened, so its content does not matter; a real one would run code when unpickled.
  writeBytes(folder / "pytorch_model.bin", "PK\x03\x04 not really a zip");
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("pytorch_model.bin"));
  EXPECT_THAT(msg, HasSubstr("convert it to safetensors"));
}

TEST(MalformedCheckpoint, FolderWithoutCheckpoint) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  fs::remove(folder / "model.safetensors");
  const auto msg = loadError<IoError>(folder);
  EXPECT_THAT(msg, HasSubstr("no model.safetensors or model.safetensors.index.json"));
}

// ---- sharded checkpoints ------------------------------------------------------------------

class MalformedShardedCheckpoint : public ::testing::Test {
 protected:
  /// gpt2-tiny's config.json alone in a folder, ready for shards and an index.
  fs::path emptyModel() {
    const auto folder = m_dir / "sharded";
    fs::create_directories(folder);
    fs::copy_file(test::dataPath("hf/gpt2-tiny/config.json"), folder / "config.json");
    return folder;
  }

  /// Splits gpt2-tiny's tensors into two shards and writes the index naming them.
  fs::path shardedGpt2() {
    const auto folder = emptyModel();
    const auto tensors = gpt2Tensors();
    const auto half = static_cast<std::ptrdiff_t>(tensors.size() / 2);
    const std::vector<std::pair<std::string, Tensors>> shards{
        {"model-00001-of-00002.safetensors", Tensors(tensors.begin(), tensors.begin() + half)},
        {"model-00002-of-00002.safetensors", Tensors(tensors.begin() + half, tensors.end())}};
    nlohmann::json index{{"metadata", {{"total_size", 0}}},
                         {"weight_map", nlohmann::json::object()}};
    std::int64_t totalSize = 0;
    for (const auto& [shard, part] : shards) {
      data::writeSafetensors(folder / shard, part, {{"format", "pt"}});
      for (const auto& [name, t] : part) {
        index["weight_map"][name] = shard;
        totalSize += t.numel() * t.element_size();
      }
    }
    index["metadata"]["total_size"] = totalSize;
    writeJson(folder / "model.safetensors.index.json", index);
    return folder;
  }

  test::TempDir m_dir;
};

TEST_F(MalformedShardedCheckpoint, TwoShardsLoadLikeTheSingleFile) {
  const auto folder = shardedGpt2();
  EXPECT_EQ(CheckpointFiles::open(folder).fileCount(), 2u);
  auto sharded = loadHfModel(folder);
  auto single = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto a = logitsOf(*sharded);
  const auto b = logitsOf(*single);
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_TRUE(torch::equal(a, b)) << "max |diff| " << test::maxAbsDiff(a, b);
}

TEST_F(MalformedShardedCheckpoint, ShardNameEscapingTheFolderIsRefused) {
  const auto folder = emptyModel();
  // A valid file really is there, so only the name check can stop it.
  data::writeSafetensors(m_dir / "outside.safetensors", gpt2Tensors());
  const std::vector<std::string> shards{
      "../outside.safetensors", (m_dir / "outside.safetensors").string(), "..", "model.bin"};
  for (const auto& shard : shards) {
    SCOPED_TRACE(shard);
    writeJson(folder / "model.safetensors.index.json",
              {{"weight_map", {{"transformer.wte.weight", shard}}}});
    const auto msg = loadError<FormatError>(folder);
    EXPECT_THAT(msg, HasSubstr("model.safetensors.index.json"));
    EXPECT_THAT(msg, HasSubstr("shard name \"" + shard + "\""));
  }
}

TEST_F(MalformedShardedCheckpoint, IndexNotJson) {
  const auto folder = emptyModel();
  writeBytes(folder / "model.safetensors.index.json", "{\"weight_map\": {");
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("model.safetensors.index.json: not valid JSON"));
}

TEST_F(MalformedShardedCheckpoint, IndexWithoutWeightMap) {
  const auto folder = emptyModel();
  writeJson(folder / "model.safetensors.index.json", {{"metadata", {{"total_size", 0}}}});
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("no \"weight_map\" object"));
}

TEST_F(MalformedShardedCheckpoint, IndexNamesMissingShard) {
  const auto folder = shardedGpt2();
  fs::remove(folder / "model-00002-of-00002.safetensors");
  const auto msg = loadError<IoError>(folder);
  EXPECT_THAT(msg, HasSubstr("model-00002-of-00002.safetensors"));
}

TEST_F(MalformedShardedCheckpoint, IndexPointsAtTheWrongShard) {
  const auto folder = shardedGpt2();
  auto index = readJson(folder / "model.safetensors.index.json");
  index["weight_map"]["transformer.wte.weight"] = "model-00001-of-00002.safetensors";
  writeJson(folder / "model.safetensors.index.json", index);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("tensor 'transformer.wte.weight' is in model-00001-of-00002"));
  EXPECT_THAT(msg, HasSubstr("does not hold it"));
}

TEST_F(MalformedShardedCheckpoint, TensorStoredInTwoShards) {
  const auto folder = shardedGpt2();
  // Shard 1 gains a second copy of a tensor that shard 2 also holds.
  const auto shard1 = folder / "model-00001-of-00002.safetensors";
  Tensors tensors;
  {
    const auto file = data::SafetensorsFile::open(shard1);
    for (const auto& e : file.entries()) tensors.emplace_back(e.name, file.tensor(e.name));
  }
  tensors.emplace_back("transformer.wte.weight", torch::zeros({128, 64}));
  data::writeSafetensors(shard1, tensors);
  const auto msg = loadError<FormatError>(folder);
  EXPECT_THAT(msg, HasSubstr("tensor 'transformer.wte.weight' is stored in two shards"));
}

// ---- last, because a failure here is a crash ----------------------------------------------

// A config.json value nested far deeper than any real one: the loader must answer with an
// error, not overflow the stack (the parser copes; printing the value into a message must too).
// Kept in its own suite at the end of the file so that, run in one process, a crash here does
// not hide the results of the tests above.
TEST(MalformedConfigDepth, DeeplyNestedConfigValueIsRefusedNotACrash) {
  test::TempDir dir;
  const auto folder = gpt2Copy(dir);
  const std::size_t depth = 200000;
  writeBytes(folder / "config.json", R"({"model_type": "gpt2", "n_layer": )" +
                                         std::string(depth, '[') + std::string(depth, ']') + "}");
  // ConfigError (naming n_layer) or FormatError (nested too deeply) are both fair answers.
  const auto msg = test::messageOf<Error>([&] { (void)loadHfModel(folder); });
  EXPECT_THAT(msg, HasSubstr("config.json"));
  EXPECT_LT(msg.size(), 4096u) << "the message should not quote the whole value";
}

}  // namespace
}  // namespace cs::models
