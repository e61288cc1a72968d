// Option parsing and sizes for the activation store.
#include "data/store/store_layout.h"

#include <hdf5.h>

#include "core/error.h"
#include "data/store/hdf5_handle.h"

namespace cs::data {

StorageDtype parseStorageDtype(const std::string& text) {
  if (text == "f32" || text == "float32") return StorageDtype::Float32;
  if (text == "f16" || text == "float16") return StorageDtype::Float16;
  throw ConfigError("storage dtype '" + text + "' is not one of f32, f16");
}

std::string storageDtypeName(StorageDtype dtype) {
  return dtype == StorageDtype::Float16 ? "float16" : "float32";
}

Compression parseCompression(const std::string& text) {
  if (text == "none") return Compression::None;
  if (text == "gzip") return Compression::Gzip;
  if (text == "blosc") return Compression::Blosc;
  throw ConfigError("compression '" + text + "' is not one of none, gzip, blosc");
}

std::string compressionName(Compression compression) {
  switch (compression) {
    case Compression::Gzip:
      return "gzip";
    case Compression::Blosc:
      return "blosc";
    case Compression::None:
      break;
  }
  return "none";
}

bool bloscAvailable() {
  h5::silenceErrorPrinting();
  // H5Zfilter_avail loads a dynamic plugin on demand when it is on the plugin path.
  return H5Zfilter_avail(kBloscFilterId) > 0;
}

std::int64_t bytesPerExample(const StoreLayout& layout, StorageDtype dtype) {
  std::int64_t total = 0;
  for (const auto& spec : layout.inputs) {
    std::int64_t n = c10::elementSize(spec.dtype);
    for (auto d : spec.rowShape) n *= d;
    total += n;
  }
  const std::int64_t element = dtype == StorageDtype::Float16 ? 2 : 4;
  for (const auto& spec : layout.activations) {
    std::int64_t n = element;
    for (auto d : spec.rowShape) n *= d;
    total += n;
  }
  return total;
}

}  // namespace cs::data
