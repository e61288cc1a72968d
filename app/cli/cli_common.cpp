// Shared CLI helpers.
#include "app/cli/cli_common.h"

#include "core/torch_api.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "core/device.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/shape_text.h"
#include "data/image.h"
#include "data/image_preprocessor.h"
#include "data/tokenizer.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"

namespace cs::cli {

at::ScalarType parseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  throw ConfigError("--dtype '" + name + "' is not one of float32, float64, float16, bfloat16");
}

ProgressLine::ProgressLine(Progress& progress, const GlobalOptions& options)
    : m_progress(progress), m_shown(!options.quiet && isatty(STDERR_FILENO)) {
  if (!m_shown) return;
  m_progress.setListener([](const std::string& stage, double fraction) {
    std::fprintf(stderr, "\r%s %3.0f%%", stage.c_str(), fraction * 100.0);
    std::fflush(stderr);
  });
}

ProgressLine::~ProgressLine() {
  if (!m_shown) return;
  m_progress.setListener(nullptr);
  std::fprintf(stderr, "\n");
}

std::unique_ptr<models::Transformer> loadModel(const std::string& folder,
                                               const GlobalOptions& options) {
  Progress progress;
  ProgressLine line(progress, options);
  models::LoadOptions load;
  load.device = chooseDevice(options.device);
  load.dtype = parseDtype(options.dtype);
  return models::loadHfModel(models::resolveModelFolder(folder), load, progress);
}

CLI::Option* addModelFolderOption(CLI::App* command, std::string& folder,
                                  const std::string& description) {
  // A transform, not a check: the resolved folder replaces the text, so tokenizers, dataset
  // contexts and fingerprints all read the shipped folder.
  const CLI::Validator builtin(
      [](std::string& text) {
        text = models::resolveModelFolder(text).string();
        return std::string();
      },
      "", "builtin");
  return command->add_option("MODEL_DIR", folder, description + ", or builtin:NAME")
      ->transform(builtin);
}

ParsedIds parseIds(const std::string& text) {
  std::vector<std::vector<int64_t>> rows;
  std::stringstream rowStream(text);
  std::string row;
  while (std::getline(rowStream, row, ';')) {
    std::vector<int64_t> ids;
    std::stringstream itemStream(row);
    std::string item;
    while (std::getline(itemStream, item, ',')) {
      const auto first = item.find_first_not_of(" \t");
      const auto last = item.find_last_not_of(" \t");
      if (first == std::string::npos) throw ConfigError("--ids: empty id in row '" + row + "'");
      const auto token = item.substr(first, last - first + 1);
      std::size_t used = 0;
      long long value = 0;
      try {
        value = std::stoll(token, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != token.size()) throw ConfigError("--ids: '" + token + "' is not a token id");
      ids.push_back(value);
    }
    if (ids.empty())
      throw ConfigError("--ids: row " + std::to_string(rows.size() + 1) + " is empty");
    rows.push_back(std::move(ids));
  }
  if (rows.empty()) throw ConfigError("--ids: no rows; write e.g. \"1,2,3;4,5,6\"");
  return padRows(rows);
}

ParsedIds padRows(const std::vector<std::vector<int64_t>>& rows) {
  std::size_t width = 0;
  bool ragged = false;
  for (const auto& r : rows) {
    if (width != 0 && r.size() != width) ragged = true;
    width = std::max(width, r.size());
  }
  ParsedIds parsed;
  parsed.ids =
      torch::zeros({static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)}, torch::kLong);
  if (ragged) parsed.mask = torch::zeros_like(parsed.ids);
  for (std::size_t b = 0; b < rows.size(); ++b) {
    const auto n = static_cast<int64_t>(rows[b].size());
    if (n == 0) continue;
    parsed.ids[b].narrow(0, 0, n).copy_(torch::tensor(rows[b], torch::kLong));
    if (ragged) parsed.mask[b].narrow(0, 0, n).fill_(1);
  }
  return parsed;
}

std::vector<int64_t> promptIds(const data::Tokenizer& tokenizer, const std::string& prompt) {
  auto ids = tokenizer.encode(prompt);
  if (ids.empty()) throw ConfigError("prompt \"" + prompt + "\" gives no tokens");
  if (const auto prefix = tokenizer.prefixTokenId()) ids.insert(ids.begin(), *prefix);
  return ids;
}

at::Tensor preprocessImages(const std::string& folder, const models::TransformerConfig& config,
                            const std::vector<data::Image>& images,
                            const std::vector<std::string>& paths) {
  if (config.nChannels != 3) {
    throw ConfigError(folder + " expects " + std::to_string(config.nChannels) +
                      " channels; images give RGB (3 channels)");
  }
  const auto preprocessor = data::loadImagePreprocessor(folder, config.imageSize);
  std::vector<at::Tensor> rows;
  for (std::size_t i = 0; i < images.size(); ++i) {
    auto row = preprocessor.preprocess(images[i]);  // [3, H, W]
    if (row.size(1) != config.imageSize || row.size(2) != config.imageSize) {
      throw ShapeError(paths[i] + ": preprocessed to " + std::to_string(row.size(1)) + "x" +
                       std::to_string(row.size(2)) + " pixels but the model expects " +
                       std::to_string(config.imageSize) + "x" + std::to_string(config.imageSize) +
                       "; check size in preprocessor_config.json");
    }
    rows.push_back(std::move(row));
  }
  return at::stack(rows);  // [B, 3, H, W]
}

}  // namespace cs::cli
