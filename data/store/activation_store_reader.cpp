// Reader: opens in SWMR-read mode first (works for growing, finished and killed stores), and
// falls back to a plain open for stores copied or rewritten by other tools.
#include "data/store/activation_store_reader.h"

#include "core/torch_api.h"

#include "core/error.h"

namespace cs::data {

using h5::check;
using h5::checked;

ActivationStoreReader::ActivationStoreReader(const std::filesystem::path& path) : m_path(path) {
  h5::silenceErrorPrinting();
  const std::string where = path.string();
  if (!std::filesystem::is_regular_file(path))
    throw IoError(where + " does not exist or is not a file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw FormatError(
        where + " is not an HDF5 file (an activation store is written by circuitscope-cli record)");
  m_file = h5::openFileForReading(where);
  m_header = readStoreHeader(m_file.get(), where);
}

std::vector<std::string> ActivationStoreReader::hooks() const {
  std::vector<std::string> names;
  for (const auto& spec : m_header.layout.activations) names.push_back(spec.name);
  return names;
}

const ArraySpec& ActivationStoreReader::activation(const std::string& hook) const {
  for (const auto& spec : m_header.layout.activations) {
    if (spec.name == hook) return spec;
  }
  std::string known;
  for (const auto& spec : m_header.layout.activations)
    known += (known.empty() ? "" : ", ") + spec.name;
  throw ConfigError(m_path.string() + " has no activations for '" + hook + "' (it holds: " + known +
                    ")");
}

const ArraySpec& ActivationStoreReader::input(const std::string& name) const {
  for (const auto& spec : m_header.layout.inputs) {
    if (spec.name == name) return spec;
  }
  std::string known;
  for (const auto& spec : m_header.layout.inputs) known += (known.empty() ? "" : ", ") + spec.name;
  throw ConfigError(m_path.string() + " has no input '" + name + "' (it holds: " + known + ")");
}

at::Tensor ActivationStoreReader::readRows(const std::string& path, const ArraySpec& spec,
                                           hid_t memType, c10::ScalarType dtype, std::int64_t begin,
                                           std::int64_t count) const {
  if (begin < 0 || count < 0 || begin + count > m_header.rowsWritten)
    throw ConfigError("examples [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                      ") of " + spec.name + " are outside the " +
                      std::to_string(m_header.rowsWritten) + " written to " + m_path.string());
  std::vector<std::int64_t> shape{count};
  shape.insert(shape.end(), spec.rowShape.begin(), spec.rowShape.end());
  auto out = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (count == 0) return out;
  auto set =
      checked(H5Dopen2(m_file.get(), path.c_str(), H5P_DEFAULT), m_path.string() + ": " + path);
  auto fileSpace = checked(H5Dget_space(set.get()), path);
  std::vector<hsize_t> start(shape.size(), 0), counts;
  for (auto d : shape) counts.push_back(static_cast<hsize_t>(d));
  start[0] = static_cast<hsize_t>(begin);
  check(H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start.data(), nullptr, counts.data(),
                            nullptr),
        path);
  auto memSpace =
      checked(H5Screate_simple(static_cast<int>(counts.size()), counts.data(), nullptr), path);
  check(H5Dread(set.get(), memType, memSpace.get(), fileSpace.get(), H5P_DEFAULT, out.data_ptr()),
        "reading " + path + " from " + m_path.string());
  return out;
}

at::Tensor ActivationStoreReader::readActivations(const std::string& hook, std::int64_t begin,
                                                  std::int64_t count) const {
  const auto& spec = activation(hook);
  // HDF5 converts float16 to float32 itself when asked for native floats.
  return readRows(activationPath(hook), spec, H5T_NATIVE_FLOAT, at::kFloat, begin, count);
}

Eigen::MatrixXf ActivationStoreReader::readMatrix(const std::string& hook, std::int64_t begin,
                                                  std::int64_t count) const {
  const auto rows = readActivations(hook, begin, count).reshape({count, -1}).contiguous();
  Eigen::MatrixXf matrix(rows.size(0), rows.size(1));
  // Eigen is column-major by default; copy through a row-major map.
  matrix = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      rows.data_ptr<float>(), rows.size(0), rows.size(1));
  return matrix;
}

at::Tensor ActivationStoreReader::readInput(const std::string& name, std::int64_t begin,
                                            std::int64_t count) const {
  const auto& spec = input(name);
  hid_t memType = H5T_NATIVE_FLOAT;
  if (spec.dtype == at::kLong) memType = H5T_NATIVE_INT64;
  if (spec.dtype == at::kByte) memType = H5T_NATIVE_UINT8;
  return readRows(inputPath(name), spec, memType, spec.dtype, begin, count);
}

void ActivationStoreReader::refresh() {
  const std::string where = m_path.string();
  // Refreshing the root object re-reads its attributes from disk in SWMR mode.
  {
    auto root = checked(H5Gopen2(m_file.get(), "/", H5P_DEFAULT), where);
    H5Orefresh(root.get());
  }
  m_header.rowsWritten = h5::readIntAttribute(m_file.get(), "rows_written", where);
  m_header.complete = h5::readIntAttribute(m_file.get(), "complete", where) != 0;
  auto refreshSet = [&](const std::string& path) {
    auto set = checked(H5Dopen2(m_file.get(), path.c_str(), H5P_DEFAULT), where + ": " + path);
    H5Drefresh(set.get());
  };
  for (const auto& spec : m_header.layout.inputs) refreshSet(inputPath(spec.name));
  for (const auto& spec : m_header.layout.activations) refreshSet(activationPath(spec.name));
}

}  // namespace cs::data
