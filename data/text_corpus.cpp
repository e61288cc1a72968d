// Text corpus loading and windowing.
#include "data/text_corpus.h"

#include "core/torch_api.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/tokenizer.h"

namespace cs::data {

namespace {
constexpr std::uintmax_t kMaxCorpusBytes = 256u << 20;
}  // namespace

std::unique_ptr<TokenRowsDataset> openTextCorpus(const std::filesystem::path& file,
                                                 const Tokenizer& tokenizer, std::int64_t window) {
  if (window < 2) throw ConfigError("text corpus windows need at least 2 tokens");
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(file, ec);
  if (ec) throw IoError("cannot read " + file.string() + ": " + ec.message());
  if (bytes > kMaxCorpusBytes) throw FormatError(file.string() + ": larger than 256 MiB");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot open " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<std::int64_t> ids;
  try {
    ids = tokenizer.encode(text.str());
  } catch (const Error&) {
    rethrowWithContext(file.string());
  }
  if (ids.size() < 2) throw FormatError(file.string() + ": fewer than two tokens of text");
  const auto total = static_cast<std::int64_t>(ids.size());
  const auto rows = (total + window - 1) / window;
  auto tokens = at::zeros({rows, window}, at::kLong);
  auto mask = at::zeros({rows, window}, at::kLong);
  tokens.view({-1}).narrow(0, 0, total).copy_(at::tensor(ids, at::kLong));
  mask.view({-1}).narrow(0, 0, total).fill_(1);
  return std::make_unique<TokenRowsDataset>(tokens, mask, "text " + file.filename().string());
}

}  // namespace cs::data
