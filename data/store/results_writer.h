// Analysis results in HDF5 (DESIGN.md): /results/<analysis>/<run>, one 1-D dataset per column
// and the run's options as a JSON string attribute "options". Works on an activation store
// (the results sit beside its activations) or on a file of its own, created when missing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace cs::data {

/// One column of a result table; exactly one of the vectors is filled.
struct ResultColumn {
  std::string name;
  std::vector<double> reals;           ///< stored as float64
  std::vector<std::int64_t> integers;  ///< stored as int64
  std::vector<std::string> texts;      ///< stored as variable-length UTF-8 strings
  std::size_t rows() const;
};

/// Empty columns with these names, in this order, for a table to be filled row by row.
std::vector<ResultColumn> namedColumns(std::initializer_list<std::string> names);

/// Writes /results/<analysis>/<run>. Columns must have equal lengths (ConfigError otherwise);
/// an existing run of that name is a ConfigError unless `replace`. A file that is not HDF5,
/// or a store that a recording holds open, is an IoError saying so.
void writeResultTable(const std::filesystem::path& file, const std::string& analysis,
                      const std::string& run, const std::vector<ResultColumn>& columns,
                      const std::string& optionsJson, bool replace = false);

}  // namespace cs::data
