// What an activation store holds, independent of reading or writing: the format constants,
// the storage options and the description of every array. docs/activation-store.md documents
// the resulting HDF5 layout.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cs::data {

inline constexpr const char* kStoreFormatName = "circuitscope.activations";
inline constexpr std::int64_t kStoreFormatVersion = 1;

enum class StorageDtype { Float32, Float16 };
enum class Compression { None, Gzip, Blosc };

/// "f32" / "f16"; ConfigError listing the choices otherwise.
StorageDtype parseStorageDtype(const std::string& text);
std::string storageDtypeName(StorageDtype dtype);  ///< "float32" / "float16"
/// "none" / "gzip" / "blosc"; ConfigError listing the choices otherwise.
Compression parseCompression(const std::string& text);
std::string compressionName(Compression compression);

/// HDF5's filter id for Blosc, registered by Debian's hdf5-filter-plugin-blosc-serial.
inline constexpr int kBloscFilterId = 32001;

/// True when HDF5 can use the Blosc filter (the plugin is installed and loads).
bool bloscAvailable();

struct StoreOptions {
  StorageDtype dtype = StorageDtype::Float32;
  Compression compression = Compression::None;
  int gzipLevel = 4;
};

/// Which model produced the activations; a store is only resumed or appended to by the same.
struct ModelIdentity {
  std::string family;         ///< "gpt2", "llama", "vit", ...
  std::string configJson;     ///< the model's config.json text
  std::string weightsSha256;  ///< hex digest of the checkpoint files' bytes
  std::string sourceFolder;
};

/// One array stored per example: /inputs/<name> or /activations/<name>. Every example has the
/// same shape (rowShape); the first stored axis is the example.
struct ArraySpec {
  std::string name;
  std::vector<std::int64_t> rowShape;
  std::string axes;       ///< comma-separated, starting with "example"
  c10::ScalarType dtype;  ///< inputs: the stored dtype; activations: the model's dtype
};

/// Everything fixed when a store is created.
struct StoreLayout {
  ModelIdentity model;
  std::string dataset;    ///< the dataset's description
  std::string positions;  ///< "all", "last" or a comma-separated list of positions
  std::vector<ArraySpec> inputs;
  std::vector<ArraySpec> activations;
};

/// Bytes one example takes on disk before compression.
std::int64_t bytesPerExample(const StoreLayout& layout, StorageDtype dtype);

}  // namespace cs::data
