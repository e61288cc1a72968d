// Reads an activation store, including one that another process is still writing (HDF5's
// single-writer / multiple-reader mode): refresh() picks up the rows committed since.
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/store/hdf5_handle.h"
#include "data/store/store_header.h"

namespace cs::data {

class ActivationStoreReader {
 public:
  /// Opens and validates the store: FormatError for a file that is not HDF5, not a store, of
  /// a newer format version or missing a listed dataset; ConfigError when a dataset needs a
  /// filter plugin that is not installed.
  explicit ActivationStoreReader(const std::filesystem::path& path);

  const StoreHeader& header() const { return m_header; }
  /// Examples committed so far; reading past them is an error.
  std::int64_t rows() const { return m_header.rowsWritten; }
  bool complete() const { return m_header.complete; }
  /// Hook names in recording order.
  std::vector<std::string> hooks() const;
  const ArraySpec& activation(const std::string& hook) const;
  const ArraySpec& input(const std::string& name) const;

  /// Activations of examples [begin, begin + count) as float32, [count, rowShape...].
  at::Tensor readActivations(const std::string& hook, std::int64_t begin, std::int64_t count) const;
  /// The same flattened to one row per example: [count, prod(rowShape)].
  Eigen::MatrixXf readMatrix(const std::string& hook, std::int64_t begin, std::int64_t count) const;
  /// An input array (tokens, attention_mask, pixels, targets, ...) in its stored dtype.
  at::Tensor readInput(const std::string& name, std::int64_t begin, std::int64_t count) const;

  /// Re-reads rows_written and complete from a store that is still being written.
  void refresh();

 private:
  at::Tensor readRows(const std::string& path, const ArraySpec& spec, hid_t memType,
                      c10::ScalarType dtype, std::int64_t begin, std::int64_t count) const;

  std::filesystem::path m_path;
  h5::Handle m_file;
  StoreHeader m_header;
};

}  // namespace cs::data
