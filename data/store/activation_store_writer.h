// Writes an activation store: creates the layout, appends batches of examples, and marks the
// store complete. Every batch is flushed before the rows-written count moves past it, so a run
// that dies keeps every finished batch and can be resumed. Used from one thread at a time.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "data/store/hdf5_handle.h"
#include "data/store/store_layout.h"

namespace cs::data {

/// One batch of examples, arrays in the order of the layout's inputs and activations. Each is
/// [rows, rowShape...] on the CPU; activations already in the storage dtype.
struct StoreBatch {
  std::vector<at::Tensor> inputs;
  std::vector<at::Tensor> activations;
  std::int64_t rows() const;
  std::int64_t bytes() const;
};

enum class StoreOpenMode {
  Create,     ///< a new file; IoError when the path exists
  Overwrite,  ///< a new file, replacing what is there
  Resume,     ///< an incomplete store of the same model, hooks and dataset continues
  Append,     ///< a complete store of the same model and hooks takes more examples
};

class ActivationStoreWriter {
 public:
  /// Opens `path` as `mode` says. Resume and Append check the file was written by the same
  /// model (weights digest) with the same hooks and shapes (ConfigError naming the difference)
  /// and keep the file's own storage options. Another process writing the file: IoError.
  static std::unique_ptr<ActivationStoreWriter> open(const std::filesystem::path& path,
                                                     const StoreLayout& layout,
                                                     const StoreOptions& options,
                                                     StoreOpenMode mode);
  ~ActivationStoreWriter();

  const StoreOptions& options() const { return m_options; }
  std::int64_t rowsWritten() const { return m_rowsWritten; }

  /// Appends the batch, flushes it, then counts it as written. ShapeError for arrays that do
  /// not match the layout. Checks first that the disk has room for it (store_space.h): a full
  /// disk stops the recording before the batch, with the store consistent. A write that fails
  /// anyway leaves the writer failed (every later call throws); the store keeps its finished
  /// batches and is extended to its recorded end (store_repair.h) where the disk allows.
  void write(const StoreBatch& batch);

  /// Sets complete = 1 and flushes. Nothing may be written afterwards.
  void markComplete();

 private:
  ActivationStoreWriter() = default;
  void createLayout(const StoreLayout& layout);
  void reopenExisting(const StoreLayout& layout, StoreOpenMode mode);
  void checkBatch(const StoreBatch& batch) const;
  void readChunking();
  std::int64_t bytesToGrowBy(std::int64_t rows) const;
  void writeBatch(const StoreBatch& batch);
  [[noreturn]] void fail(const std::string& reason);

  std::filesystem::path m_path;
  StoreLayout m_layout;
  StoreOptions m_options;
  int m_lockFd = -1;
  h5::Handle m_file;
  std::vector<h5::Handle> m_inputSets, m_activationSets;
  h5::Handle m_float16;
  struct Chunking {
    std::int64_t rows = 1, bytes = 0;
  };
  std::vector<Chunking> m_chunking;  // inputs, then activations
  std::int64_t m_rowsWritten = 0;
  bool m_complete = false;
  bool m_failed = false;
};

}  // namespace cs::data
