// The dataset files read line by line: a prompt set (JSON Lines) through readPromptLines, then
// PromptDataset tokenizes the rows with a small byte-level BPE tokenizer (every byte has a token,
// a few merges, one special token) and every batch is cut, as the evaluation does. The same bytes
// are also read as a plain-text corpus (openTextCorpus, windows of 4 tokens).
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "data/prompt_dataset.h"
#include "data/text_corpus.h"
#include "data/tokenizer.h"
#include "fuzz_support.h"

namespace {

namespace fs = std::filesystem;

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  s += static_cast<char>(0xC0 | (cp >> 6));  // the byte map stays below U+0800
  s += static_cast<char>(0x80 | (cp & 0x3F));
  return s;
}

// A tokenizer.json in GPT-2's byte-level form: bytes that print stand for themselves, the others
// are moved to U+0100 and up; ids 0-255 are the bytes, then merges of " M" + "ar".
const cs::data::Tokenizer& tokenizer() {
  static const auto loaded = [] {
    nlohmann::json vocab = nlohmann::json::object();
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
      const bool prints = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      vocab[utf8(prints ? b : next++)] = b;
    }
    const auto space = utf8(256 + ' ');  // 'Ġ'
    vocab[space + "M"] = 256;
    vocab["ar"] = 257;
    vocab[space + "Mar"] = 258;
    const nlohmann::json doc = {
        {"model",
         {{"type", "BPE"}, {"vocab", vocab}, {"merges", {space + " M", "a r", space + "M ar"}}}},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
        {"added_tokens", {{{"id", 259}, {"content", "<|endoftext|>"}}}}};
    const auto dir = cs::fuzz::scratchDir() / "tokenizer";
    fs::create_directories(dir);
    cs::fuzz::writeFile(dir / "tokenizer.json", doc.dump());
    return cs::data::loadTokenizer(dir);
  }();
  return *loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& tok = tokenizer();
  const auto path = cs::fuzz::scratchDir() / "prompts.jsonl";
  cs::fuzz::writeFile(path, cs::fuzz::asText(data, size));
  cs::fuzz::runOne([&] {
    const auto corpus = cs::data::openTextCorpus(path, tok, 4);
    for (std::int64_t begin = 0; begin < corpus->size(); begin += 5) {
      const auto batch = corpus->batch(begin, 5);
      if (batch.tokens.min().item<std::int64_t>() < 0 ||
          batch.tokens.max().item<std::int64_t>() >= tok.vocabSize())
        cs::fuzz::fail("a corpus token outside the vocabulary");
    }
  });
  return cs::fuzz::runOne([&] {
    const auto rows = cs::data::readPromptLines(path);
    for (const auto& row : rows) {
      if (row.prompt.empty() || row.target.empty()) cs::fuzz::fail("a row without prompt/target");
    }
    const cs::data::PromptDataset dataset(rows, tok, "prompts.jsonl");
    if (dataset.size() != static_cast<std::int64_t>(rows.size()))
      cs::fuzz::fail("the dataset lost rows");
    for (std::int64_t begin = 0; begin < dataset.size(); begin += 3) {
      const auto batch = dataset.batch(begin, 3);
      const auto positions = batch.scorePositions;
      if (positions.min().item<std::int64_t>() < 0 ||
          positions.max().item<std::int64_t>() >= batch.tokens.size(1))
        cs::fuzz::fail("a scored position lies outside its prompt");
      if (batch.targets.min().item<std::int64_t>() < 0 ||
          batch.targets.max().item<std::int64_t>() >= tok.vocabSize())
        cs::fuzz::fail("a target id outside the vocabulary");
    }
  });
}
