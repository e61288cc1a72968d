// Recording a dataset's activations into an activation store: the loop behind
// `circuitscope-cli record` and the GUI's Record action.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/dataset.h"
#include "data/store/activation_store_writer.h"
#include "models/model.h"

namespace cs::analysis {

struct RecordOptions {
  std::vector<std::string> hookPatterns;  ///< glob patterns over hook names
  std::string positions = "all";          ///< "all", "last" or "0,5,7"
  data::StoreOptions store;
  data::StoreOpenMode mode = data::StoreOpenMode::Create;
  std::int64_t batchSize = 8;
  std::int64_t limit = 0;  ///< examples from the dataset's start; 0 = all
  /// Memory the queue to the writer thread may hold; the forward pass waits beyond it.
  std::int64_t queueBytes = std::int64_t{256} << 20;
};

/// Where a recording stands, reported after each batch reaches the disk.
struct RecordStatus {
  std::int64_t rowsDone = 0;   ///< examples of this run written
  std::int64_t rowsTotal = 0;  ///< examples this run will write
  std::int64_t bytesWritten = 0;
  double seconds = 0;
};

struct RecordResult {
  std::int64_t rowsInStore = 0;  ///< examples in the file now
  std::int64_t rowsThisRun = 0;
  std::int64_t bytesWritten = 0;
  double seconds = 0;
  bool complete = false;
  std::vector<std::string> hooks;
};

/// Records `dataset` (up to options.limit examples) at every hook point matching the patterns
/// into `path`. Create refuses an existing file; Resume continues an incomplete store from its
/// rows_written; Append adds the dataset's examples to a complete store. Before writing,
/// the bytes still to come are compared with the free disk space (IoError when they will not
/// fit). Cancelled through `progress`: every finished batch is written, the store stays
/// incomplete and can be resumed, and cs::Cancelled is thrown.
RecordResult recordActivations(models::Model& model, const data::Dataset& dataset,
                               const data::ModelIdentity& identity,
                               const std::filesystem::path& path, const RecordOptions& options,
                               Progress& progress,
                               const std::function<void(const RecordStatus&)>& onStatus = {});

}  // namespace cs::analysis
