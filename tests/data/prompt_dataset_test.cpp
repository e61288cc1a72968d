// Prompt sets and text corpora tokenized with GPT-2's tokenizer: JSON Lines parsing with errors
// naming file and line, first-token targets and foils, padded batches scored at each prompt's
// last token, the IOI generator, and corpus windows.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <fstream>

#include "core/error.h"
#include "data/bpe_tokenizer.h"
#include "data/dataset_spec.h"
#include "data/prompt_dataset.h"
#include "data/text_corpus.h"
#include "data/tokenizer.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;

// A model folder holding only GPT-2's tokenizer files.
fs::path gpt2TokenizerFolder(const test::TempDir& dir) {
  const auto folder = dir / "gpt2-tokenizer";
  fs::create_directories(folder);
  fs::copy_file(test::dataPath("tokenizer/encoder.json"), folder / "vocab.json");
  fs::copy_file(test::dataPath("tokenizer/vocab.bpe"), folder / "merges.txt");
  return folder;
}

DatasetContext textContext(const fs::path& folder, std::int64_t window = 0) {
  DatasetContext context;
  context.modelFolder = folder;
  context.contextLength = window;
  return context;
}

void writeText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(PromptDataset, JsonLinesTokenizedAndScoredAtTheLastPromptToken) {
  test::TempDir dir;
  const auto folder = gpt2TokenizerFolder(dir);
  const auto file = dir / "prompts.jsonl";
  writeText(file,
            "{\"prompt\": \"When Mary and John went to the store, John gave a drink to\", "
            "\"target\": \" Mary\", \"foil\": \" John\"}\n\n"
            "{\"prompt\": \"The capital of France is\", \"target\": \" Paris is lovely\", "
            "\"foil\": \" London\"}\n");
  const auto dataset = openDataset(file.string(), textContext(folder));
  ASSERT_EQ(dataset->size(), 2);
  const auto b = dataset->batch(0, 2);
  const auto tokenizer = loadTokenizer(folder);
  const auto first =
      tokenizer->encode("When Mary and John went to the store, John gave a drink to");
  const auto second = tokenizer->encode("The capital of France is");
  ASSERT_EQ(b.tokens.size(1), static_cast<int64_t>(first.size()));
  EXPECT_EQ(b.scorePositions[0].item<int64_t>(), static_cast<int64_t>(first.size()) - 1);
  EXPECT_EQ(b.scorePositions[1].item<int64_t>(), static_cast<int64_t>(second.size()) - 1);
  EXPECT_EQ(b.attentionMask[1].sum().item<int64_t>(), static_cast<int64_t>(second.size()));
  EXPECT_EQ(b.targets[0].item<int64_t>(), tokenizer->encode(" Mary").front());
  EXPECT_EQ(b.foils[0].item<int64_t>(), tokenizer->encode(" John").front());
  // Multi-token targets are scored by their first token.
  EXPECT_EQ(b.targets[1].item<int64_t>(), tokenizer->encode(" Paris").front());
}

TEST(PromptDataset, BadLinesNameFileAndLine) {
  test::TempDir dir;
  const auto file = dir / "bad.jsonl";
  writeText(file, "{\"prompt\": \"a\", \"target\": \" b\"}\n{\"prompt\": \"c\"}\n");
  try {
    readPromptLines(file);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"target\""), std::string::npos) << e.what();
  }
  writeText(file, "not json\n");
  EXPECT_THROW(readPromptLines(file), FormatError);
  EXPECT_THROW(readPromptLines(dir / "missing.jsonl"), IoError);
}

TEST(PromptDataset, IndirectObjectPromptsAreDeterministicAndWellFormed) {
  const auto a = indirectObjectPrompts(20, 7), b = indirectObjectPrompts(20, 7);
  ASSERT_EQ(a.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    EXPECT_NE(a[i].target, a[i].foil);
    // Both names occur in the prompt; the foil (the giver) occurs twice.
    EXPECT_NE(a[i].prompt.find(a[i].target.substr(1)), std::string::npos);
    const auto giver = a[i].foil.substr(1);
    const auto firstAt = a[i].prompt.find(giver);
    ASSERT_NE(firstAt, std::string::npos);
    EXPECT_NE(a[i].prompt.find(giver, firstAt + 1), std::string::npos) << a[i].prompt;
  }
  test::TempDir dir;
  const auto dataset = openDataset("ioi:rows=12,seed=3", textContext(gpt2TokenizerFolder(dir)));
  EXPECT_EQ(dataset->size(), 12);
  EXPECT_TRUE(dataset->batch(0, 12).foils.defined());
}

TEST(TextCorpus, WindowsCoverEveryTokenOnce) {
  test::TempDir dir;
  const auto folder = gpt2TokenizerFolder(dir);
  const auto file = dir / "corpus.txt";
  const std::string text = "The quick brown fox jumps over the lazy dog. It was the best of times.";
  writeText(file, text);
  const auto tokenizer = loadTokenizer(folder);
  const auto ids = tokenizer->encode(text);
  const auto dataset = openDataset(file.string(), textContext(folder, 5));
  const auto rows = (static_cast<int64_t>(ids.size()) + 4) / 5;
  ASSERT_EQ(dataset->size(), rows);
  const auto b = dataset->batch(0, rows);
  EXPECT_EQ(b.attentionMask.sum().item<int64_t>(), static_cast<int64_t>(ids.size()));
  EXPECT_TRUE(torch::equal(b.tokens.flatten().narrow(0, 0, ids.size()), torch::tensor(ids)));
  EXPECT_THROW(openDataset(file.string(), {}), ConfigError);  // no tokenizer to use
}

}  // namespace
}  // namespace cs::data
