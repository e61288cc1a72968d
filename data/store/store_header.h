// The root attributes, /model attributes and array descriptions of an activation store: written
// once at creation, read and validated by every open.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>

#include "data/store/store_layout.h"

namespace cs::data {

struct StoreHeader {
  std::int64_t formatVersion = kStoreFormatVersion;
  std::string toolVersion;
  std::string created;  ///< ISO 8601, UTC
  bool complete = false;
  std::int64_t rowsWritten = 0;
  StoreLayout layout;
  StoreOptions options;
};

/// Writes a new store's attributes and creates /model, /inputs and /activations with one empty
/// chunked dataset per array (first axis unlimited). The file must be in its creation phase:
/// SWMR writing starts only after every object exists.
void createStoreObjects(hid_t file, const StoreLayout& layout, const StoreOptions& options);

/// Reads and validates the header of `file` ("where" names it in messages): format name,
/// version, every listed array present with the recorded shape and a usable filter.
/// FormatError for anything wrong, ConfigError when a needed HDF5 filter is not installed.
StoreHeader readStoreHeader(hid_t file, const std::string& where);

/// The HDF5 file type of a stored input array.
hid_t inputFileType(c10::ScalarType dtype);

/// "activations/<hook name>" or "inputs/<name>".
std::string activationPath(const std::string& hook);
std::string inputPath(const std::string& name);

}  // namespace cs::data
