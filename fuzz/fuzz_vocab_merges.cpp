// vocab.json + merges.txt (GPT-2's encoder.json + vocab.bpe): the fuzz input is both files,
// split at the first NUL byte (which neither JSON nor a merges file holds), loaded through
// loadTokenizer as a model folder with no tokenizer.json; then encode and decode fixed texts.
#include <cstring>

#include "data/tokenizer.h"
#include "fuzz_support.h"
#include "tokenizer_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = cs::fuzz::scratchDir();
  const auto text = cs::fuzz::asText(data, size);
  const auto split = text.find('\0');
  const auto vocab = text.substr(0, split);
  const auto merges = split == std::string_view::npos ? std::string_view() : text.substr(split + 1);
  cs::fuzz::writeFile(dir / "vocab.json", vocab);
  cs::fuzz::writeFile(dir / "merges.txt", merges);
  return cs::fuzz::runOne([&] {
    const auto tokenizer = cs::data::loadTokenizer(dir);
    cs::fuzz::exerciseTokenizer(*tokenizer);
  });
}
