// The window's Record action: the command line's recording loop on the evaluation set. Stores
// carry the checkpoint's identity, so the model is recorded as loaded, without the window's
// interventions (a store of a masked model would claim weights it was not computed with).
#include <algorithm>

#include "analysis/recording.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/store/store_layout.h"
#include "models/transformer.h"

namespace cs::gui {

RecordSummary ModelSession::recordActivations(const RecordSettings& settings, Progress& progress) {
  if (settings.path.empty()) throw ConfigError("choose a file to record into");
  if (settings.hooks.empty()) {
    throw ConfigError("name at least one hook to record, e.g. blocks.*.hook_resid_post");
  }
  if (settings.rows < 0) throw ConfigError("the number of rows to record must be at least 0");
  const auto& dataset = requireDataset();
  analysis::RecordOptions options;
  options.hookPatterns = settings.hooks;
  options.positions = settings.positions;
  options.store.dtype =
      settings.float16 ? data::StorageDtype::Float16 : data::StorageDtype::Float32;
  options.batchSize = std::max<std::int64_t>(1, settings.batchSize);
  options.limit = settings.rows;
  options.mode = data::StoreOpenMode::Create;
  const auto& checkpoint = identity(progress);
  progress.setStage("recording activations");
  const auto result =
      analysis::recordActivations(*m_model, dataset, checkpoint, settings.path, options, progress);
  RecordSummary summary;
  summary.path = settings.path;
  summary.rows = result.rowsInStore;
  summary.bytes = result.bytesWritten;
  summary.seconds = result.seconds;
  summary.hooks = result.hooks;
  return summary;
}

}  // namespace cs::gui
