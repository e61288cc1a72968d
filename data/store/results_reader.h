// Reading analysis result tables back from /results/<analysis>/<run> (results_writer.h): for
// the viewers, `inspect`, and tests. The file is untrusted: every column must be a 1-D float64,
// int64 or string dataset, all of one length, or the table is refused with a FormatError.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "data/store/results_writer.h"

namespace cs::data {

struct ResultTable {
  std::string analysis;
  std::string run;
  std::string optionsJson;
  std::vector<ResultColumn> columns;  ///< in name order (HDF5 keeps links sorted by name)

  std::size_t rows() const { return columns.empty() ? 0 : columns.front().rows(); }
  /// The column called `name`; ConfigError listing the columns when there is none.
  const ResultColumn& column(const std::string& name) const;
};

/// Every (analysis, run) under /results, sorted; empty when the file has no results.
std::vector<std::pair<std::string, std::string>> listResultTables(
    const std::filesystem::path& file);

/// ConfigError when the run is absent (naming the runs there are), IoError when the file cannot
/// be opened, FormatError when a column is not a 1-D number or string dataset or lengths differ.
ResultTable readResultTable(const std::filesystem::path& file, const std::string& analysis,
                            const std::string& run);

}  // namespace cs::data
