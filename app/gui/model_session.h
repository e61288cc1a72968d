// The model side of the desktop application: one loaded model, its evaluation set, and the
// questions the panels ask of it (structure, top next tokens, accuracy under masks). Plain
// std types only, so that Qt files include it without libtorch. Every method but the accessors
// runs a model: call it from a job (app/gui/job_runner.h), never from the GUI thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "hooks/mask_set.h"

namespace cs::data {
class Dataset;
}
namespace cs::models {
class Transformer;
}

namespace cs::gui {

struct HookInfo {
  std::string name;   ///< e.g. "blocks.0.attn.hook_z"
  std::string shape;  ///< e.g. "[batch, pos, 4, 16]"
};

struct BlockInfo {
  int layer = 0;
  int heads = 0;  ///< 0 when the attention sublayer is skipped
  int dHead = 0;
  int mlpWidth = 0;  ///< 0 when the block has no MLP (attention-only models)
  std::vector<HookInfo> hooks;
};

struct ModelSummary {
  std::string source;  ///< what the user asked for: a folder or builtin:NAME
  std::string family;
  int dModel = 0;
  int vocabulary = 0;  ///< 0 for classifiers
  int context = 0;
  std::vector<BlockInfo> blocks;
  std::vector<HookInfo> modelHooks;  ///< embeddings, final norm, logits
  std::string dataset;               ///< the evaluation set's description; empty without one
};

struct Prediction {
  std::int64_t token = 0;
  double probability = 0.0;
};

class ModelSession {
 public:
  /// Loads a model folder or builtin:NAME with the loader the command line uses. A built-in
  /// model with a manifest also gets its test set (the first kEvalRows rows) for metrics.
  static std::unique_ptr<ModelSession> open(const std::string& folderOrBuiltin, Progress& progress);
  ~ModelSession();
  ModelSession(const ModelSession&) = delete;
  ModelSession& operator=(const ModelSession&) = delete;

  static constexpr std::int64_t kEvalRows = 64;

  const ModelSummary& summary() const { return m_summary; }
  bool hasDataset() const { return m_dataset != nullptr; }
  /// A token sequence worth showing first (part of the first evaluation row), or a short
  /// default when there is no dataset.
  const std::vector<std::int64_t>& exampleInput() const { return m_example; }

  /// The k most likely next tokens after `ids` with `masks` applied. ConfigError for ids out
  /// of the vocabulary, an empty or too long sequence, or a model that is not a language model.
  std::vector<Prediction> topPredictions(const std::vector<std::int64_t>& ids,
                                         const hooks::MaskSet& masks, int k, Progress& progress);
  /// Accuracy on the evaluation set with `masks` applied (empty: the baseline). ConfigError
  /// when the model has no evaluation set.
  double accuracy(const hooks::MaskSet& masks, Progress& progress);

 private:
  ModelSession() = default;

  std::unique_ptr<models::Transformer> m_model;
  std::unique_ptr<data::Dataset> m_dataset;
  ModelSummary m_summary;
  std::vector<std::int64_t> m_example;
};

}  // namespace cs::gui
