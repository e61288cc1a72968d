// JSON for --json output: numbers that may be NaN or infinite (JSON has neither: they become
// null) and Eigen matrices as arrays of rows.
#pragma once

#include <Eigen/Core>
#include <nlohmann/json.hpp>

namespace cs::cli {

/// v, or null when v is NaN or infinite.
nlohmann::json finiteOrNull(double v);

/// [[m(0,0), m(0,1), ...], ...], non-finite entries null.
nlohmann::json matrixJson(const Eigen::MatrixXd& m);

}  // namespace cs::cli
