// SentencePiece tokenizer.model (a protobuf, read by circuitscope's own decoder): loadTokenizer
// on a folder whose only tokenizer file is the fuzz input, then encode and decode fixed texts.
#include "data/tokenizer.h"
#include "fuzz_support.h"
#include "tokenizer_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = cs::fuzz::scratchDir();
  cs::fuzz::writeFile(dir / "tokenizer.model", cs::fuzz::asText(data, size));
  return cs::fuzz::runOne([&] {
    const auto tokenizer = cs::data::loadTokenizer(dir);
    cs::fuzz::exerciseTokenizer(*tokenizer);
  });
}
