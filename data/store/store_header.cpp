// Header layout: see docs/activation-store.md. Lists of names are stored as JSON strings so
// that one attribute read gives them all, in order, from any language.
#include "data/store/store_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "core/error.h"
#include "core/version.h"
#include "data/dtype.h"
#include "data/store/hdf5_handle.h"

namespace cs::data {

namespace {

using h5::check;
using h5::checked;

std::string utcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// The dtypes a store holds, named as everywhere else (data::dtypeDisplayName).
constexpr c10::ScalarType kStorableTypes[] = {c10::ScalarType::Long,     c10::ScalarType::Byte,
                                              c10::ScalarType::Float,    c10::ScalarType::Half,
                                              c10::ScalarType::BFloat16, c10::ScalarType::Double};

std::string dtypeName(c10::ScalarType dtype) {
  if (dtype == c10::ScalarType::Bool) dtype = c10::ScalarType::Byte;  // masks are stored as uint8
  for (auto t : kStorableTypes) {
    if (t == dtype) return dtypeDisplayName(t);
  }
  throw ConfigError(std::string("the activation store cannot hold ") + c10::toString(dtype));
}

c10::ScalarType dtypeFromName(const std::string& name, const std::string& where) {
  for (auto t : kStorableTypes) {
    if (dtypeDisplayName(t) == name) return t;
  }
  throw FormatError(where + ": unknown dtype '" + name + "'");
}

// Rows per chunk: about 1 MiB per chunk, at least one row.
hsize_t rowsPerChunk(std::int64_t rowBytes) {
  constexpr std::int64_t kTarget = 1 << 20;
  return static_cast<hsize_t>(
      std::clamp<std::int64_t>(kTarget / std::max<std::int64_t>(rowBytes, 1), 1, 4096));
}

h5::Handle datasetCreationList(const ArraySpec& spec, std::int64_t elementBytes,
                               const StoreOptions& options, bool compress) {
  std::int64_t rowBytes = elementBytes;
  for (auto d : spec.rowShape) rowBytes *= d;
  // HDF5 caps a chunk at 4 GiB.
  if (rowBytes >= (std::int64_t{1} << 32))
    throw ConfigError(spec.name + ": one example takes " + std::to_string(rowBytes >> 20) +
                      " MiB, more than an HDF5 chunk can hold; record fewer positions "
                      "(--positions last or a list)");
  auto dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), "dataset properties");
  std::vector<hsize_t> chunk{rowsPerChunk(rowBytes)};
  for (auto d : spec.rowShape) chunk.push_back(static_cast<hsize_t>(std::max<std::int64_t>(d, 1)));
  check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
        spec.name + ": chunking");
  if (compress && options.compression == Compression::Gzip) {
    check(H5Pset_shuffle(dcpl.get()), spec.name + ": shuffle filter");
    check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzipLevel)),
          spec.name + ": gzip filter");
  } else if (compress && options.compression == Compression::Blosc) {
    if (!bloscAvailable())
      throw ConfigError(
          "Blosc compression needs HDF5's Blosc filter plugin, which is not installed "
          "(Debian: hdf5-filter-plugin-blosc-serial); use --compress gzip or none");
    // Blosc's parameters: 4 reserved, then level 5, byte shuffle on, compressor LZ4 (1).
    const unsigned values[7] = {0, 0, 0, 0, 5, 1, 1};
    check(H5Pset_filter(dcpl.get(), kBloscFilterId, H5Z_FLAG_MANDATORY, 7, values),
          spec.name + ": Blosc filter");
  }
  return dcpl;
}

void createArray(hid_t group, const ArraySpec& spec, hid_t fileType, const StoreOptions& options,
                 bool compress, const std::string& sourceDtype) {
  std::vector<hsize_t> dims{0}, maxDims{H5S_UNLIMITED};
  for (auto d : spec.rowShape) {
    dims.push_back(static_cast<hsize_t>(d));
    maxDims.push_back(static_cast<hsize_t>(d));
  }
  auto space = checked(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxDims.data()),
                       spec.name + ": dataspace");
  auto dcpl = datasetCreationList(spec, static_cast<std::int64_t>(H5Tget_size(fileType)), options,
                                  compress);
  auto set = checked(H5Dcreate2(group, spec.name.c_str(), fileType, space.get(), H5P_DEFAULT,
                                dcpl.get(), H5P_DEFAULT),
                     "creating dataset " + spec.name);
  h5::writeStringAttribute(set.get(), "axes", spec.axes);
  h5::writeStringAttribute(set.get(), "source_dtype", sourceDtype);
}

std::string namesJson(const std::vector<ArraySpec>& specs) {
  auto list = nlohmann::json::array();
  for (const auto& s : specs) list.push_back(s.name);
  return list.dump();
}

std::vector<std::string> namesFromJson(const std::string& text, const std::string& where) {
  const auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_array()) throw FormatError(where + " is not a JSON list of names");
  std::vector<std::string> names;
  for (const auto& item : parsed) {
    if (!item.is_string()) throw FormatError(where + " holds a name that is not a string");
    names.push_back(item.get<std::string>());
  }
  return names;
}

// Fails with a clear message when a dataset needs a filter this HDF5 cannot load.
void requireFilters(hid_t set, const std::string& where) {
  auto dcpl = checked(H5Dget_create_plist(set), where + ": properties");
  const int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nValues = 0;
    char name[128] = {0};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nValues,
                                           nullptr, sizeof name, name, &config);
    if (id < 0) throw FormatError(where + ": unreadable filter description");
    if (H5Zfilter_avail(id) <= 0) {
      const std::string label = id == kBloscFilterId
                                    ? "Blosc (32001)"
                                    : std::string(name) + " (" + std::to_string(id) + ")";
      throw ConfigError(where + " is compressed with the HDF5 filter " + label +
                        ", which is not installed here; install hdf5-filter-plugin-blosc-serial "
                        "(Debian) or point HDF5_PLUGIN_PATH at the plugin");
    }
  }
}

ArraySpec readArray(hid_t group, const std::string& name, const std::string& groupName,
                    const std::string& where, std::int64_t rowsWritten, bool activation) {
  const std::string here = where + ": /" + groupName + "/" + name;
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0)
    throw FormatError(where + " lists '" + name + "' but has no dataset /" + groupName + "/" +
                      name);
  auto set = checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), here);
  const auto extent = h5::datasetExtent(set.get());
  if (extent.empty() || static_cast<std::int64_t>(extent[0]) < rowsWritten)
    throw FormatError(here + " has fewer rows than the " + std::to_string(rowsWritten) +
                      " written");
  requireFilters(set.get(), here);
  ArraySpec spec;
  spec.name = name;
  for (std::size_t i = 1; i < extent.size(); ++i)
    spec.rowShape.push_back(static_cast<std::int64_t>(extent[i]));
  spec.axes = h5::readStringAttribute(set.get(), "axes", here);
  auto type = checked(H5Dget_type(set.get()), here + ": type");
  const auto typeClass = H5Tget_class(type.get());
  const auto size = H5Tget_size(type.get());
  if (activation) {
    if (typeClass != H5T_FLOAT || (size != 4 && size != 2))
      throw FormatError(here + " is not float32 or float16");
    spec.dtype = dtypeFromName(h5::readStringAttribute(set.get(), "source_dtype", here), here);
  } else {
    spec.dtype = dtypeFromName(h5::readStringAttribute(set.get(), "source_dtype", here), here);
    const bool integer = typeClass == H5T_INTEGER;
    const bool ok = (spec.dtype == c10::ScalarType::Float && typeClass == H5T_FLOAT && size == 4) ||
                    (spec.dtype == c10::ScalarType::Long && integer && size == 8) ||
                    (spec.dtype == c10::ScalarType::Byte && integer && size == 1);
    if (!ok) throw FormatError(here + " does not hold the " + dtypeName(spec.dtype) + " it says");
  }
  return spec;
}

}  // namespace

hid_t inputFileType(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Long:
      return H5T_STD_I64LE;
    case c10::ScalarType::Byte:
      return H5T_STD_U8LE;
    case c10::ScalarType::Float:
      return H5T_IEEE_F32LE;
    default:
      break;
  }
  throw ConfigError(std::string("inputs of type ") + c10::toString(dtype) + " cannot be stored");
}

std::string activationPath(const std::string& hook) { return "activations/" + hook; }
std::string inputPath(const std::string& name) { return "inputs/" + name; }

void createStoreObjects(hid_t file, const StoreLayout& layout, const StoreOptions& options) {
  h5::writeStringAttribute(file, "format", kStoreFormatName);
  h5::writeIntAttribute(file, "format_version", kStoreFormatVersion);
  h5::writeStringAttribute(file, "tool_version", kToolVersion);
  h5::writeStringAttribute(file, "created", utcNow());
  h5::writeIntAttribute(file, "complete", 0);
  h5::writeIntAttribute(file, "rows_written", 0);
  h5::writeStringAttribute(file, "dataset", layout.dataset);
  h5::writeStringAttribute(file, "positions", layout.positions);
  h5::writeStringAttribute(file, "storage_dtype", storageDtypeName(options.dtype));
  h5::writeStringAttribute(file, "compression", compressionName(options.compression));
  h5::writeStringAttribute(file, "hooks", namesJson(layout.activations));
  h5::writeStringAttribute(file, "inputs", namesJson(layout.inputs));

  auto model =
      checked(H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "creating /model");
  h5::writeStringAttribute(model.get(), "family", layout.model.family);
  h5::writeStringAttribute(model.get(), "config_json", layout.model.configJson);
  h5::writeStringAttribute(model.get(), "weights_sha256", layout.model.weightsSha256);
  h5::writeStringAttribute(model.get(), "source_folder", layout.model.sourceFolder);

  auto inputs = checked(H5Gcreate2(file, "inputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "creating /inputs");
  for (const auto& spec : layout.inputs)
    createArray(inputs.get(), spec, inputFileType(spec.dtype), options, false,
                dtypeName(spec.dtype));

  auto activations = checked(H5Gcreate2(file, "activations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                             "creating /activations");
  auto half = h5::float16Type();
  const hid_t activationType = options.dtype == StorageDtype::Float16 ? half.get() : H5T_IEEE_F32LE;
  for (const auto& spec : layout.activations)
    createArray(activations.get(), spec, activationType, options, true, dtypeName(spec.dtype));
}

StoreHeader readStoreHeader(hid_t file, const std::string& where) {
  StoreHeader header;
  if (!h5::hasAttribute(file, "format"))
    throw FormatError(where + " is not a circuitscope activation store (no 'format' attribute)");
  const auto format = h5::readStringAttribute(file, "format", where);
  if (format != kStoreFormatName)
    throw FormatError(where + " is not a circuitscope activation store (format '" + format + "')");
  header.formatVersion = h5::readIntAttribute(file, "format_version", where);
  if (header.formatVersion > kStoreFormatVersion || header.formatVersion < 1)
    throw FormatError(where + " has format version " + std::to_string(header.formatVersion) +
                      "; this circuitscope reads versions 1 to " +
                      std::to_string(kStoreFormatVersion) + " (update circuitscope to read it)");
  header.toolVersion = h5::readStringAttribute(file, "tool_version", where);
  header.created = h5::readStringAttribute(file, "created", where);
  header.complete = h5::readIntAttribute(file, "complete", where) != 0;
  header.rowsWritten = h5::readIntAttribute(file, "rows_written", where);
  if (header.rowsWritten < 0) throw FormatError(where + ": negative rows_written");
  header.layout.dataset = h5::readStringAttribute(file, "dataset", where);
  header.layout.positions = h5::readStringAttribute(file, "positions", where);
  header.options.dtype = parseStorageDtype(h5::readStringAttribute(file, "storage_dtype", where));
  header.options.compression =
      parseCompression(h5::readStringAttribute(file, "compression", where));

  for (const char* group : {"model", "inputs", "activations"}) {
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0)
      throw FormatError(where + " has no /" + std::string(group) + " group");
  }
  auto model = checked(H5Gopen2(file, "model", H5P_DEFAULT), where + ": /model");
  const std::string modelWhere = where + ": /model";
  header.layout.model.family = h5::readStringAttribute(model.get(), "family", modelWhere);
  header.layout.model.configJson = h5::readStringAttribute(model.get(), "config_json", modelWhere);
  header.layout.model.weightsSha256 =
      h5::readStringAttribute(model.get(), "weights_sha256", modelWhere);
  header.layout.model.sourceFolder =
      h5::readStringAttribute(model.get(), "source_folder", modelWhere);

  auto inputs = checked(H5Gopen2(file, "inputs", H5P_DEFAULT), where + ": /inputs");
  for (const auto& name : namesFromJson(h5::readStringAttribute(file, "inputs", where),
                                        where + ": attribute 'inputs'"))
    header.layout.inputs.push_back(
        readArray(inputs.get(), name, "inputs", where, header.rowsWritten, false));
  auto activations = checked(H5Gopen2(file, "activations", H5P_DEFAULT), where + ": /activations");
  for (const auto& name :
       namesFromJson(h5::readStringAttribute(file, "hooks", where), where + ": attribute 'hooks'"))
    header.layout.activations.push_back(
        readArray(activations.get(), name, "activations", where, header.rowsWritten, true));
  return header;
}

}  // namespace cs::data
