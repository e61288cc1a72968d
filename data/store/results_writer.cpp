// Result tables in HDF5, written with the shared RAII handles. Groups are created as needed;
// a run is written whole into a new group, so a failure leaves no half table behind it.
#include "data/store/results_writer.h"

#include <hdf5.h>

#include "core/error.h"
#include "data/store/hdf5_handle.h"

namespace cs::data {

namespace {
using h5::check;
using h5::checked;
using h5::Handle;

Handle openOrCreateGroup(hid_t parent, const std::string& name, const std::string& where) {
  if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0) {
    return checked(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), "opening " + where);
  }
  return checked(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 "creating " + where);
}

void writeColumn(hid_t group, const ResultColumn& c, const std::string& where) {
  const hsize_t n = c.rows();
  auto space = checked(H5Screate_simple(1, &n, nullptr), "dataspace for " + where);
  if (!c.texts.empty()) {
    auto type = checked(H5Tcopy(H5T_C_S1), "string type");
    check(H5Tset_size(type.get(), H5T_VARIABLE), "string type");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string type");
    auto set = checked(H5Dcreate2(group, c.name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       "creating " + where);
    std::vector<const char*> pointers;
    for (const auto& s : c.texts) pointers.push_back(s.c_str());
    check(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
          "writing " + where);
    return;
  }
  const bool real = c.integers.empty();
  const hid_t fileType = real ? H5T_IEEE_F64LE : H5T_STD_I64LE;
  const hid_t memType = real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  auto set = checked(H5Dcreate2(group, c.name.c_str(), fileType, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     "creating " + where);
  const void* data =
      real ? static_cast<const void*>(c.reals.data()) : static_cast<const void*>(c.integers.data());
  if (n > 0) {
    check(H5Dwrite(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "writing " + where);
  }
}
}  // namespace

std::vector<ResultColumn> namedColumns(std::initializer_list<std::string> names) {
  std::vector<ResultColumn> columns;
  for (const auto& name : names) columns.push_back(ResultColumn{name, {}, {}, {}});
  return columns;
}

std::size_t ResultColumn::rows() const {
  return std::max({reals.size(), integers.size(), texts.size()});
}

void writeResultTable(const std::filesystem::path& file, const std::string& analysis,
                      const std::string& run, const std::vector<ResultColumn>& columns,
                      const std::string& optionsJson, bool replace) {
  for (const auto* name : {&analysis, &run}) {
    if (name->empty() || name->find('/') != std::string::npos || *name == "." || *name == "..") {
      throw ConfigError("result name '" + *name + "' must be non-empty and contain no '/'");
    }
  }
  for (const auto& c : columns) {
    if (c.rows() != columns.front().rows()) {
      throw ConfigError("result column '" + c.name + "' has " + std::to_string(c.rows()) +
                        " rows, '" + columns.front().name + "' has " +
                        std::to_string(columns.front().rows()));
    }
  }
  h5::silenceErrorPrinting();
  Handle f;
  if (std::filesystem::exists(file)) {
    if (H5Fis_hdf5(file.c_str()) <= 0) {
      throw IoError(file.string() + " exists and is not an HDF5 file; choose another --save path");
    }
    const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (id < 0) {
      throw IoError("cannot open " + file.string() + " for writing (" + h5::lastErrorDescription() +
                    "); if a recording is writing it, wait until it ends");
    }
    f = Handle(id);
  } else {
    f = checked(H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT),
                "cannot create " + file.string());
  }
  const std::string where = "/results/" + analysis + "/" + run;
  auto results = openOrCreateGroup(f.get(), "results", file.string() + ": /results");
  auto group = openOrCreateGroup(results.get(), analysis, file.string() + ": /results/" + analysis);
  if (H5Lexists(group.get(), run.c_str(), H5P_DEFAULT) > 0) {
    if (!replace) {
      throw ConfigError(file.string() + " already holds " + where +
                        "; choose another run name or replace it");
    }
    check(H5Ldelete(group.get(), run.c_str(), H5P_DEFAULT), "replacing " + where);
  }
  auto table = checked(H5Gcreate2(group.get(), run.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       "creating " + where);
  for (const auto& c : columns) writeColumn(table.get(), c, where + "/" + c.name);
  h5::writeStringAttribute(table.get(), "options", optionsJson);
  check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), "flushing " + file.string());
}

}  // namespace cs::data
