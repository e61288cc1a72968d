// Result tables read with the shared RAII handles; every column's rank, class and length is
// checked before its data is read.
#include "data/store/results_reader.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "data/store/hdf5_handle.h"

namespace cs::data {

namespace {
using h5::check;
using h5::checked;
using h5::Handle;

Handle openForReading(const std::filesystem::path& file) {
  h5::silenceErrorPrinting();
  if (!std::filesystem::exists(file)) throw IoError(file.string() + " does not exist");
  if (H5Fis_hdf5(file.c_str()) <= 0) throw FormatError(file.string() + " is not an HDF5 file");
  return checked(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                 "cannot open " + file.string());
}

std::vector<std::string> childNames(hid_t group, const std::string& where) {
  H5G_info_t info;
  check(H5Gget_info(group, &info), "reading " + where);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const auto size =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (size < 0) throw FormatError("cannot read the names in " + where);
    std::string name(static_cast<std::size_t>(size), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

bool isGroup(hid_t parent, const std::string& name) {
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  if (H5Oget_info_by_name3(parent, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
#else
  if (H5Oget_info_by_name(parent, name.c_str(), &info, H5P_DEFAULT) < 0) {
#endif
    return false;
  }
  return info.type == H5O_TYPE_GROUP;
}

ResultColumn readColumn(hid_t table, const std::string& name, const std::string& where) {
  auto set = checked(H5Dopen2(table, name.c_str(), H5P_DEFAULT), "opening " + where);
  const auto extent = h5::datasetExtent(set.get());
  if (extent.size() != 1) {
    throw FormatError(where + " is not a column: it has " + std::to_string(extent.size()) +
                      " dimensions");
  }
  const auto n = static_cast<std::size_t>(extent[0]);
  ResultColumn c;
  c.name = name;
  auto type = checked(H5Dget_type(set.get()), "reading the type of " + where);
  switch (H5Tget_class(type.get())) {
    case H5T_FLOAT:
      c.reals.resize(n);
      if (n > 0) {
        check(H5Dread(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.reals.data()),
              "reading " + where);
      }
      return c;
    case H5T_INTEGER:
      c.integers.resize(n);
      if (n > 0) {
        check(
            H5Dread(set.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.integers.data()),
            "reading " + where);
      }
      return c;
    case H5T_STRING: {
      if (H5Tis_variable_str(type.get()) <= 0) {
        throw FormatError(where +
                          " holds fixed-length strings; result tables use variable-length "
                          "UTF-8 strings");
      }
      auto memType = checked(H5Tcopy(H5T_C_S1), "string type");
      check(H5Tset_size(memType.get(), H5T_VARIABLE), "string type");
      check(H5Tset_cset(memType.get(), H5T_CSET_UTF8), "string type");
      std::vector<char*> pointers(n, nullptr);
      if (n > 0) {
        check(H5Dread(set.get(), memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
              "reading " + where);
      }
      for (auto* p : pointers) {
        c.texts.emplace_back(p ? p : "");
        std::free(p);  // HDF5 allocates variable-length strings with malloc
      }
      return c;
    }
    default:
      throw FormatError(where + " is neither numbers nor strings");
  }
}
}  // namespace

const ResultColumn& ResultTable::column(const std::string& name) const {
  for (const auto& c : columns) {
    if (c.name == name) return c;
  }
  std::string known;
  for (const auto& c : columns) known += (known.empty() ? "" : ", ") + c.name;
  throw ConfigError("/results/" + analysis + "/" + run + " has no column '" + name +
                    "'; it has: " + known);
}

std::vector<std::pair<std::string, std::string>> listResultTables(
    const std::filesystem::path& file) {
  auto f = openForReading(file);
  std::vector<std::pair<std::string, std::string>> tables;
  if (H5Lexists(f.get(), "results", H5P_DEFAULT) <= 0 || !isGroup(f.get(), "results")) {
    return tables;
  }
  auto results = checked(H5Gopen2(f.get(), "results", H5P_DEFAULT), "opening /results");
  for (const auto& analysis : childNames(results.get(), "/results")) {
    if (!isGroup(results.get(), analysis)) continue;
    auto group = checked(H5Gopen2(results.get(), analysis.c_str(), H5P_DEFAULT),
                         "opening /results/" + analysis);
    for (const auto& run : childNames(group.get(), "/results/" + analysis)) {
      if (isGroup(group.get(), run)) tables.emplace_back(analysis, run);
    }
  }
  return tables;
}

ResultTable readResultTable(const std::filesystem::path& file, const std::string& analysis,
                            const std::string& run) {
  const auto tables = listResultTables(file);
  if (std::find(tables.begin(), tables.end(), std::make_pair(analysis, run)) == tables.end()) {
    std::string known;
    for (const auto& [a, r] : tables) known += (known.empty() ? "" : ", ") + a + "/" + r;
    throw ConfigError(file.string() + " holds no /results/" + analysis + "/" + run +
                      (known.empty() ? "; it holds no results" : "; it holds " + known));
  }
  auto f = openForReading(file);
  const std::string where = file.string() + ": /results/" + analysis + "/" + run;
  auto table = checked(H5Gopen2(f.get(), ("/results/" + analysis + "/" + run).c_str(), H5P_DEFAULT),
                       "opening " + where);
  ResultTable out;
  out.analysis = analysis;
  out.run = run;
  out.optionsJson = h5::hasAttribute(table.get(), "options")
                        ? h5::readStringAttribute(table.get(), "options", where)
                        : std::string("{}");
  for (const auto& name : childNames(table.get(), where)) {
    out.columns.push_back(readColumn(table.get(), name, where + "/" + name));
    if (out.columns.back().rows() != out.columns.front().rows()) {
      throw FormatError(where + ": column '" + name + "' has " +
                        std::to_string(out.columns.back().rows()) + " rows, '" +
                        out.columns.front().name + "' has " +
                        std::to_string(out.columns.front().rows()));
    }
  }
  return out;
}

}  // namespace cs::data
