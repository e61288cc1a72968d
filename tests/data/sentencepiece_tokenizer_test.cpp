// SentencePiece tokenizer.model read without libsentencepiece: the reference cases of
// tests/data/tokenizer/sentencepiece (a Llama-like BPE with byte fallback and a unigram with
// nmt_nfkc, computed by libsentencepiece 0.1.97) id for id, a differential test against
// libsentencepiece itself on random text (run out of process by tests/tools/sp_reference), model
// checks on hand-made protos, loadTokenizer and the BOS rule.
#include "data/sentencepiece_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "data/json_document.h"
#include "data/prompt_dataset.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path fixture(const std::string& name) {
  return test::dataPath("tokenizer/sentencepiece/" + name);
}

const SentencePieceTokenizer& model(const std::string& name) {
  static const auto bpe = SentencePieceTokenizer::fromModelFile(fixture("bpe.model"));
  static const auto unigram = SentencePieceTokenizer::fromModelFile(fixture("unigram.model"));
  return name == "bpe" ? *bpe : *unigram;
}

void writeBytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  return out;
}

std::string quoted(const std::string& text) { return nlohmann::json(text).dump(); }

class SentencePieceReference : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceReference, CasesMatchIdsAndDecode) {
  const auto& t = model(GetParam());
  const auto cases = readJsonFile(fixture(GetParam() + "_cases.json").string(), 1 << 20)["cases"];
  ASSERT_GT(cases.size(), 20u);
  for (const auto& c : cases) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<std::vector<std::int64_t>>();
    EXPECT_EQ(t.encode(text), expected) << "text: " << quoted(text);
    EXPECT_EQ(t.decode(expected), c["decoded"].get<std::string>()) << "text: " << quoted(text);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SentencePieceReference, ::testing::Values("bpe", "unigram"));

TEST(SentencePieceTokenizer, BpeFixtureIsReadLikeLlama) {
  const auto m = readSentencePieceModel(fixture("bpe.model"));
  EXPECT_EQ(m.trainerSpec.modelType, SentencePieceModelType::Bpe);
  EXPECT_TRUE(m.trainerSpec.byteFallback);
  EXPECT_TRUE(m.trainerSpec.splitDigits);
  EXPECT_EQ(m.normalizerSpec.name, "identity");
  EXPECT_TRUE(m.normalizerSpec.precompiledCharsmap.empty());
  EXPECT_TRUE(m.normalizerSpec.addDummyPrefix);
  EXPECT_FALSE(m.normalizerSpec.removeExtraWhitespaces);
  EXPECT_EQ(m.pieces.at(0).type, SentencePieceType::Unknown);
  EXPECT_EQ(m.pieces.at(1).piece, "<s>");
  EXPECT_EQ(m.pieces.at(1).type, SentencePieceType::Control);
  const auto& t = model("bpe");
  EXPECT_EQ(t.vocabSize(), 512);
  EXPECT_EQ(t.bosId(), 1);
  EXPECT_EQ(t.prefixTokenId(), std::optional<std::int64_t>(1));
  // Byte fallback: a character outside the vocabulary becomes its UTF-8 bytes.
  const auto ids = t.encode("\xE4\xB8\xAD");  // 中
  ASSERT_EQ(ids.size(), 4u);                  // '▁' and three byte pieces
  EXPECT_EQ(t.displayToken(ids[1]), "<0xE4>");
  EXPECT_EQ(t.decode(ids), "\xE4\xB8\xAD");
}

TEST(SentencePieceTokenizer, UnigramFixtureNormalizesWithNmtNfkc) {
  const auto m = readSentencePieceModel(fixture("unigram.model"));
  EXPECT_EQ(m.trainerSpec.modelType, SentencePieceModelType::Unigram);
  EXPECT_EQ(m.normalizerSpec.name, "nmt_nfkc");
  EXPECT_FALSE(m.normalizerSpec.precompiledCharsmap.empty());
  const auto& t = model("unigram");
  // Full-width letters fold to ASCII; runs of spaces and tabs collapse; ends are trimmed.
  EXPECT_EQ(t.encode("\xEF\xBD\x86\xEF\xBD\x95\xEF\xBD\x8C\xEF\xBD\x8C"), t.encode("full"));
  EXPECT_EQ(t.encode("  the \t model  "), t.encode("the model"));
  // Unknown characters without byte fallback: one <unk> per run.
  EXPECT_EQ(t.encode("\xE4\xB8\xAD\xE6\x96\x87"), (std::vector<std::int64_t>{5, 0}));
  EXPECT_EQ(t.decode({5, 0}), " \xE2\x81\x87 ");
}

TEST(SentencePieceTokenizer, DisplayTokensShowTheSpaceMarker) {
  const auto& t = model("bpe");
  const auto ids = t.encode("the model");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(t.displayToken(ids[0]).rfind("\xE2\x90\xA3", 0), 0u) << t.displayToken(ids[0]);
  EXPECT_EQ(t.displayToken(1), "<s>");
  EXPECT_EQ(t.displayToken(4), "<sep>");
}

TEST(SentencePieceTokenizer, DecodeSkipsControlPiecesAndRepairsBytes) {
  const auto& t = model("bpe");
  auto ids = t.encode("Hello world");
  ids.insert(ids.begin(), 1);
  ids.push_back(2);
  EXPECT_EQ(t.decode(ids), "Hello world");
  const auto byte = [&](int b) { return static_cast<std::int64_t>(5 + b); };  // <0x00> is id 5
  EXPECT_EQ(t.displayToken(byte(0x0A)), "<0x0A>");
  EXPECT_EQ(t.decode({byte(0xC3), byte(0xA9)}), "\xC3\xA9");
  EXPECT_EQ(t.decode({byte(0xC3)}), "\xEF\xBF\xBD");  // a lone lead byte is U+FFFD
  EXPECT_EQ(t.decode({}), "");
  // The dummy prefix: one leading '▁' is dropped, after any control pieces; when the model
  // removes extra whitespace (the unigram fixture), every leading '▁' is.
  EXPECT_EQ(t.decode({464, 464}), " ");
  EXPECT_EQ(t.decode({1, 464, 464}), " ");
  EXPECT_EQ(model("unigram").decode({5, 5, 391}), "x");
}

TEST(SentencePieceTokenizer, BadIdsAndBadTextAreRefused) {
  const auto& t = model("bpe");
  EXPECT_THAT(test::messageOf<ConfigError>([&] {
                t.decode({1, 512});
              }),
              HasSubstr("token id 512 is not in the vocabulary"));
  EXPECT_THAT(test::messageOf<ConfigError>([&] { t.displayToken(-1); }), HasSubstr("token id -1"));
  EXPECT_THAT(test::messageOf<FormatError>([&] { t.encode("abc\xff"); }),
              HasSubstr("not valid UTF-8 at byte 3"));
}

TEST(SentencePieceTokenizer, LoadTokenizerReadsAFolderWithOnlyTokenizerModel) {
  test::TempDir dir;
  fs::copy_file(fixture("bpe.model"), dir / "tokenizer.model");
  const auto t = loadTokenizer(dir.path());
  EXPECT_EQ(t->vocabSize(), 512);
  EXPECT_EQ(t->encode("The model reads the next token."),
            model("bpe").encode("The model reads the next token."));
  EXPECT_EQ(t->prefixTokenId(), std::optional<std::int64_t>(1));
  writeBytes(dir / "tokenizer_config.json", R"({"add_bos_token": false})");
  EXPECT_EQ(loadTokenizer(dir.path())->prefixTokenId(), std::nullopt);
  writeBytes(dir / "tokenizer_config.json", R"({"add_bos_token": true, "legacy": false})");
  EXPECT_EQ(loadTokenizer(dir.path())->prefixTokenId(), std::optional<std::int64_t>(1));
  writeBytes(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  EXPECT_THAT(test::messageOf<FormatError>([&] { loadTokenizer(dir.path()); }),
              HasSubstr("add_bos_token"));
}

TEST(SentencePieceTokenizer, TruncatedOrForeignModelIsAFormatErrorNamingTheFile) {
  test::TempDir dir;
  for (const auto* name : {"bpe.model", "unigram.model"}) {
    const auto bytes = readBytes(fixture(name));
    for (const std::size_t keep :
         {std::size_t{1}, std::size_t{7}, bytes.size() / 2, bytes.size() - 3, bytes.size() - 1}) {
      writeBytes(dir / "tokenizer.model", std::string_view(bytes).substr(0, keep));
      EXPECT_THAT(test::messageOf<FormatError>([&] { loadTokenizer(dir.path()); }),
                  HasSubstr("tokenizer.model"))
          << name << " cut to " << keep << " bytes";
    }
  }
  writeBytes(dir / "tokenizer.model", "This is not a model, just some text.\n");
  EXPECT_THAT(test::messageOf<FormatError>([&] { loadTokenizer(dir.path()); }),
              HasSubstr("tokenizer.model"));
  writeBytes(dir / "tokenizer.model", "");
  EXPECT_THAT(test::messageOf<FormatError>([&] { loadTokenizer(dir.path()); }),
              HasSubstr("no pieces"));
}

// A ModelProto written by hand: pieces (text, score, type), then a trainer_spec.
struct ProtoWriter {
  std::string out;
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  }
  void tag(std::uint32_t field, int type) { varint((std::uint64_t{field} << 3) | type); }
  void bytes(std::uint32_t field, std::string_view s) {
    tag(field, 2);
    varint(s.size());
    out += s;
  }
  void number(std::uint32_t field, std::uint64_t v) {
    tag(field, 0);
    varint(v);
  }
  void real(std::uint32_t field, float f) {
    tag(field, 5);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFF);
  }
};

std::string piece(const std::string& text, float score, SentencePieceType type) {
  ProtoWriter p;
  p.bytes(1, text);
  p.real(2, score);
  p.number(3, static_cast<std::uint64_t>(type));
  return p.out;
}

std::string modelProto(const std::vector<std::string>& pieces, int modelType,
                       const std::string& extraTrainer = "") {
  ProtoWriter m;
  for (const auto& p : pieces) m.bytes(1, p);
  ProtoWriter trainer;
  trainer.number(3, static_cast<std::uint64_t>(modelType));
  trainer.out += extraTrainer;
  m.bytes(2, trainer.out);
  ProtoWriter normalizer;
  normalizer.bytes(1, "identity");
  m.bytes(3, normalizer.out);
  return m.out;
}

const std::string kSpace = "\xE2\x96\x81";

TEST(SentencePieceTokenizer, HandMadeBpeMergesByScoreAndSplitsUnusedPieces) {
  using T = SentencePieceType;
  // "ab" is UNUSED: it may be formed on the way to "abc" but never output itself.
  const auto bytes = modelProto(
      {piece("<unk>", 0, T::Unknown), piece("<s>", 0, T::Control), piece("</s>", 0, T::Control),
       piece(kSpace, -1, T::Normal), piece("a", -1, T::Normal), piece("b", -1, T::Normal),
       piece("c", -1, T::Normal), piece("ab", -2, T::Unused), piece("abc", -3, T::Normal),
       piece("bc", -4, T::Normal), piece("<x>", 0, T::UserDefined)},
      2);
  const auto t = SentencePieceTokenizer::fromModel(parseSentencePieceModel(bytes, "hand.model"),
                                                   "hand.model", true);
  EXPECT_EQ(t->encode("abc"), (std::vector<std::int64_t>{3, 8}));
  EXPECT_EQ(t->encode("ab"), (std::vector<std::int64_t>{3, 4, 5}));          // unused split again
  EXPECT_EQ(t->encode("a<x>bc"), (std::vector<std::int64_t>{3, 4, 10, 9}));  // <x> is frozen
  EXPECT_EQ(t->encode("zz"), (std::vector<std::int64_t>{3, 0}));             // one <unk> per run
  EXPECT_EQ(t->decode({3, 8, 3, 9}), "abc bc");
}

TEST(SentencePieceTokenizer, ModelsSentencePieceRefusesAreRefused) {
  using T = SentencePieceType;
  const auto load = [](const std::string& bytes) {
    return SentencePieceTokenizer::fromModel(parseSentencePieceModel(bytes, "bad.model"),
                                             "bad.model", true);
  };
  EXPECT_THAT(
      test::messageOf<FormatError>([&] { load(modelProto({piece("a", 0, T::Normal)}, 2)); }),
      HasSubstr("no unknown piece"));
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                load(modelProto({piece("<unk>", 0, T::Unknown), piece("a", 0, T::Normal),
                                 piece("a", -1, T::Normal)},
                                1));
              }),
              HasSubstr("'a' is defined twice (ids 1 and 2)"));
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                load(modelProto({piece("<unk>", 0, T::Unknown), piece("<0x41>", 0, T::Byte)}, 2));
              }),
              HasSubstr("byte_fallback is false"));
  ProtoWriter byteFallback;
  byteFallback.number(35, 1);
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                load(modelProto({piece("<unk>", 0, T::Unknown), piece("<0x41>", 0, T::Byte)}, 2,
                                byteFallback.out));
              }),
              HasSubstr("byte piece <0x00> is missing"));
  EXPECT_THAT(
      test::messageOf<ConfigError>([&] { load(modelProto({piece("<unk>", 0, T::Unknown)}, 3)); }),
      HasSubstr("WORD models are not supported"));
  EXPECT_THAT(
      test::messageOf<FormatError>([&] { load(modelProto({piece("<unk>", 0, T::Unknown)}, 9)); }),
      HasSubstr("model_type 9"));
  EXPECT_THAT(test::messageOf<FormatError>([&] { load(modelProto({piece("", 0, T::Normal)}, 1)); }),
              HasSubstr("pieces[0] is an empty piece"));
}

TEST(SentencePieceTokenizer, PromptDatasetPutsBosBeforePromptsOnly) {
  const auto& t = model("bpe");
  const PromptDataset dataset({{"The model reads", " the", " a"}}, t, "bos test");
  const auto b = dataset.batch(0, 1);
  const auto prompt = t.encode("The model reads");
  ASSERT_EQ(b.tokens.size(1), static_cast<std::int64_t>(prompt.size()) + 1);
  EXPECT_EQ(b.tokens[0][0].item<std::int64_t>(), 1);
  EXPECT_EQ(b.tokens[0][1].item<std::int64_t>(), prompt[0]);
  EXPECT_EQ(b.scorePositions[0].item<std::int64_t>(), static_cast<std::int64_t>(prompt.size()));
  // Targets continue the prompt: " the" is "▁the", as inside a sentence, not "▁" + "▁the".
  const auto inSentence = t.encode("the");
  EXPECT_EQ(t.encodeContinuation(" the"), inSentence);
  EXPECT_NE(t.encode(" the").front(), inSentence.front());
  EXPECT_EQ(b.targets[0].item<std::int64_t>(), inSentence.front());
  EXPECT_EQ(b.foils[0].item<std::int64_t>(), t.encode("a").front());
  // The unigram fixture removes extra whitespace: there the dummy prefix stands for the space.
  EXPECT_EQ(model("unigram").encodeContinuation(" the"), model("unigram").encode("the"));
}

// Random text mixing what tokenizers get wrong: spaces in runs, digits, accents (also as
// combining marks), CJK, emoji, control characters, full-width forms, user-defined symbols.
std::vector<std::string> randomTexts(std::uint64_t seed, int count) {
  static const std::vector<std::string> kParts = {"the",
                                                  " model",
                                                  " reads",
                                                  "token",
                                                  "Hello",
                                                  "world",
                                                  " ",
                                                  "  ",
                                                  "   ",
                                                  "\t",
                                                  "\n",
                                                  "\r\n",
                                                  "0",
                                                  "7",
                                                  "42",
                                                  "2024",
                                                  "3.14",
                                                  "caf\xC3\xA9",
                                                  "na\xC3\xAFve",
                                                  "e\xCC\x81",
                                                  "\xC3\x85",
                                                  "Z\xC3\xBCrich",
                                                  "\xE4\xB8\xAD\xE6\x96\x87",
                                                  "\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88",
                                                  "\xF0\x9F\x98\x80",
                                                  "\xF0\x9F\xA4\x96",
                                                  "\x01",
                                                  "\x7F",
                                                  "\xC2\xA0",
                                                  "\xEF\xBD\x86",
                                                  "\xEF\xAC\x81",
                                                  "<sep>",
                                                  "<ctl>",
                                                  "<s>",
                                                  ".",
                                                  ",",
                                                  "!",
                                                  "?",
                                                  "-",
                                                  "'",
                                                  "\"",
                                                  "(",
                                                  ")",
                                                  "\xE2\x96\x81",
                                                  "\xCE\xA9",
                                                  "\xD0\x96",
                                                  "x",
                                                  "q",
                                                  "Q",
                                                  "\xE2\x80\x8B"};
  std::mt19937_64 random(seed);
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) {
    std::string text;
    const auto n = random() % 12;
    for (std::size_t k = 0; k < n; ++k) text += kParts[random() % kParts.size()];
    texts.push_back(std::move(text));
  }
  return texts;
}

// libsentencepiece's answer for each line: (ids, decoded text).
std::vector<std::pair<std::vector<std::int64_t>, std::string>> reference(
    const fs::path& modelPath, const std::vector<std::string>& lines) {
  test::TempDir dir;
  std::ofstream in(dir / "in.txt", std::ios::binary);
  for (const auto& line : lines) in << line << "\n";
  in.close();
  const auto command = test::shellQuote(test::kSpReferencePath) + " " +
                       test::shellQuote(modelPath.string()) + " < " +
                       test::shellQuote((dir / "in.txt").string()) + " > " +
                       test::shellQuote((dir / "out.txt").string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream out(dir / "out.txt", std::ios::binary);
  std::vector<std::pair<std::vector<std::int64_t>, std::string>> answers;
  std::string line;
  while (std::getline(out, line)) {
    EXPECT_FALSE(line.starts_with("!error")) << line;
    const auto tab = line.find('\t');
    std::vector<std::int64_t> ids;
    std::istringstream idText(line.substr(0, tab));
    for (std::int64_t id = 0; idText >> id;) ids.push_back(id);
    answers.emplace_back(ids, unhex(tab == std::string::npos ? "" : line.substr(tab + 1)));
  }
  EXPECT_EQ(answers.size(), lines.size());
  return answers;
}

class SentencePieceDifferential : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceDifferential, RandomTextMatchesLibsentencepiece) {
  if (std::string_view(test::kSpReferencePath).empty()) {
    GTEST_SKIP() << "libsentencepiece was not found at configure time; no reference to run";
  }
  const auto& t = model(GetParam());
  const auto texts = randomTexts(GetParam() == "bpe" ? 1234 : 5678, 400);
  std::vector<std::string> lines;
  for (const auto& text : texts) lines.push_back(hex(text));
  const auto answers = reference(fixture(GetParam() + ".model"), lines);
  ASSERT_EQ(answers.size(), texts.size());
  int mismatches = 0;
  int roundTrips = 0;
  for (std::size_t i = 0; i < texts.size() && mismatches < 10; ++i) {
    const auto ids = t.encode(texts[i]);
    const bool same = ids == answers[i].first;
    EXPECT_TRUE(same) << "text " << quoted(texts[i]) << ": ids differ from libsentencepiece's";
    EXPECT_EQ(t.decode(answers[i].first), answers[i].second) << "decode of " << quoted(texts[i]);
    mismatches += same ? 0 : 1;
    if (answers[i].second == texts[i]) {
      ++roundTrips;
      EXPECT_EQ(t.decode(ids), texts[i]) << "round trip of " << quoted(texts[i]);
    }
  }
  // The BPE fixture has byte fallback and no normalization: every text round-trips.
  if (GetParam() == "bpe") {
    EXPECT_GT(roundTrips, 300);
  }
}

TEST_P(SentencePieceDifferential, DecodeOfIdSequencesMatchesLibsentencepiece) {
  if (std::string_view(test::kSpReferencePath).empty()) {
    GTEST_SKIP() << "libsentencepiece was not found at configure time; no reference to run";
  }
  const auto& t = model(GetParam());
  std::mt19937_64 random(99);
  std::vector<std::vector<std::int64_t>> sequences = {{1}, {1, 2}, {0}, {0, 0}, {4, 4}};
  for (int i = 0; i < 200; ++i) {
    std::vector<std::int64_t> ids(random() % 8);
    for (auto& id : ids) id = static_cast<std::int64_t>(random() % t.vocabSize());
    sequences.push_back(std::move(ids));
  }
  std::vector<std::string> lines;
  for (const auto& ids : sequences) {
    std::string line = "#";
    for (const auto id : ids) line += std::to_string(id) + " ";
    lines.push_back(line);
  }
  const auto answers = reference(fixture(GetParam() + ".model"), lines);
  ASSERT_EQ(answers.size(), sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    EXPECT_EQ(quoted(t.decode(sequences[i])), quoted(answers[i].second)) << "ids " << lines[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SentencePieceDifferential, ::testing::Values("bpe", "unigram"));

}  // namespace
}  // namespace cs::data
