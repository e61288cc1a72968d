// JSON output helpers.
#include "app/cli/json_output.h"

#include <cmath>

namespace cs::cli {

nlohmann::json finiteOrNull(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

nlohmann::json matrixJson(const Eigen::MatrixXd& m) {
  auto rows = nlohmann::json::array();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    auto row = nlohmann::json::array();
    for (Eigen::Index c = 0; c < m.cols(); ++c) row.push_back(finiteOrNull(m(r, c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace cs::cli
