// Plain-text corpora for loss and perplexity: the whole file tokenized, cut into windows of
// the model's context.
#pragma once

#include <filesystem>
#include <memory>

#include "data/token_dataset.h"

namespace cs::data {

class Tokenizer;

/// Reads a UTF-8 .txt file (at most 256 MiB), tokenizes it and cuts the ids into windows of
/// `window` tokens (>= 2); a last, shorter window is padded and masked. Errors name the file.
std::unique_ptr<TokenRowsDataset> openTextCorpus(const std::filesystem::path& file,
                                                 const Tokenizer& tokenizer, std::int64_t window);

}  // namespace cs::data
