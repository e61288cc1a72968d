// Pieces shared by the subcommands: global options, model loading with a progress line,
// and parsing of --ids.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/transformer.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI
namespace cs::data {
class Tokenizer;
struct Image;
}  // namespace cs::data

namespace cs::cli {

struct GlobalOptions {
  int threads = 0;  ///< 0: CIRCUITSCOPE_THREADS or the core count
  std::string device = "cpu";
  std::string dtype = "float32";
  bool quiet = false;
  /// --check-numerics: `run` and `eval` stop at the first hook point that produces NaN or Inf
  /// (models/numeric_health.h).
  bool checkNumerics = false;
};

/// A progress line on stderr while it lives, for a person at a terminal only (nothing when
/// --quiet or when stderr is redirected, so logs stay clean).
class ProgressLine {
 public:
  ProgressLine(Progress& progress, const GlobalOptions& options);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  Progress& m_progress;
  bool m_shown = false;
};

/// Loads a model folder (or builtin:NAME) with the global device and dtype, printing progress
/// on stderr.
std::unique_ptr<models::Transformer> loadModel(const std::string& folder,
                                               const GlobalOptions& options);

/// Adds the MODEL_DIR positional: a model folder, or builtin:NAME for a shipped model, which
/// parsing replaces by that model's folder (so every later use sees a plain folder). An
/// unknown NAME is a ConfigError listing the built-in models.
CLI::Option* addModelFolderOption(CLI::App* command, std::string& folder,
                                  const std::string& description);

/// Token ids and attention mask from "1,2,3;4,5,6". Rows of unequal length are right-padded
/// with id 0 and masked out. Throws ConfigError with the offending text.
struct ParsedIds {
  at::Tensor ids;   // [B, T] int64
  at::Tensor mask;  // [B, T] int64, undefined when all rows have the same length
};
ParsedIds parseIds(const std::string& text);

/// Rows of ids as one batch: right-padded with id 0 and masked when lengths differ.
ParsedIds padRows(const std::vector<std::vector<int64_t>>& rows);

at::ScalarType parseDtype(const std::string& name);

/// A prompt's token ids, with the beginning-of-sequence token first when the model expects one
/// (Llama-style). ConfigError when the prompt gives no tokens.
std::vector<int64_t> promptIds(const data::Tokenizer& tokenizer, const std::string& prompt);

/// Decoded images preprocessed for the image model in `folder` (preprocessor_config.json) as
/// one batch [B, 3, H, W]; `paths` name the images in messages.
at::Tensor preprocessImages(const std::string& folder, const models::TransformerConfig& config,
                            const std::vector<data::Image>& images,
                            const std::vector<std::string>& paths);

}  // namespace cs::cli
