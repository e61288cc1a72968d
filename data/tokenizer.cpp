// Tokenizer selection by the files present in a model folder, and the UTF-8 check that every
// tokenizer applies to its input before touching it.
#include "data/tokenizer.h"

#include "core/error.h"
#include "data/bpe_tokenizer.h"
#include "data/json_document.h"
#include "data/sentencepiece_tokenizer.h"

namespace cs::data {

namespace fs = std::filesystem;

namespace {

// Hugging Face's LlamaTokenizer prepends BOS unless tokenizer_config.json says
// "add_bos_token": false; a missing file or field keeps that default.
bool addBosToken(const fs::path& modelFolder) {
  const auto path = modelFolder / "tokenizer_config.json";
  if (!fs::is_regular_file(path)) return true;
  const auto config = readJsonFile(path.string(), std::size_t{16} << 20);
  if (!config.is_object() || !config.contains("add_bos_token")) return true;
  const auto& value = config["add_bos_token"];
  if (value.is_null()) return true;
  if (!value.is_boolean())
    throw FormatError(path.string() + ": add_bos_token is " + describeJsonValue(value) +
                      ", not true or false");
  return value.get<bool>();
}

}  // namespace

std::unique_ptr<Tokenizer> loadTokenizer(const fs::path& modelFolder) {
  // Hugging Face writes tokenizer.json alongside the older files; it is the complete
  // description (special tokens, pre-tokenizer regex), so it wins.
  if (fs::is_regular_file(modelFolder / "tokenizer.json"))
    return BpeTokenizer::fromTokenizerJson(modelFolder / "tokenizer.json");
  if (fs::is_regular_file(modelFolder / "vocab.json") &&
      fs::is_regular_file(modelFolder / "merges.txt"))
    return BpeTokenizer::fromVocabAndMerges(modelFolder / "vocab.json", modelFolder / "merges.txt");
  // Read by our own code: Debian's libsentencepiece cannot share a process with libtorch (its
  // bundled protobuf clashes with libtorch's).
  if (fs::is_regular_file(modelFolder / "tokenizer.model"))
    return SentencePieceTokenizer::fromModelFile(modelFolder / "tokenizer.model",
                                                 addBosToken(modelFolder));
  throw IoError("no tokenizer found in " + modelFolder.string() +
                " (looked for tokenizer.json, vocab.json + merges.txt, tokenizer.model); "
                "token ids (--ids) still work without one");
}

void requireValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      cp = c & 0x07;
    }
    bool ok = length != 0 && i + length <= n;
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMinimum[length] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok)
      throw FormatError("text is not valid UTF-8 at byte " + std::to_string(i) +
                        "; convert it to UTF-8 before tokenizing");
    i += length;
  }
}

}  // namespace cs::data
