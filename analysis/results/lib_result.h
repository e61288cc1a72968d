// What the Local Interaction Basis (ALGORITHMS.md section 9) reports: per node layer the basis C
// and its pseudo-inverse, the importance spectrum Lambda and the Gram spectrum; per pair of
// consecutive node layers the edge matrix; node-ablation curves for LIB and the PCA baseline.
// Plain struct (std + Eigen) for the viewers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

struct LibNodeLayer {
  std::string name;        ///< "blocks.0.hook_resid_pre", ..., "output"
  std::int64_t width = 0;  ///< n: d + 1 (folded constant) on the residual stream
  Eigen::MatrixXd C;       ///< [n, r'] f_hat = f C
  Eigen::MatrixXd Cplus;   ///< [r', n] f ~ f_hat C+
  Eigen::VectorXd lambda;  ///< [r'] importance of each LIB direction (1 for a plain final basis)
  Eigen::VectorXd gramEigenvalues;  ///< every eigenvalue of G, descending
  Eigen::MatrixXd gram;             ///< G [n, n], uncentred
  Eigen::MatrixXd jacobianGram;     ///< M' [n, n] (empty for the final node layer)
  double seconds = 0.0;             ///< time to compute this layer's basis
};

/// Accuracy (and loss) with only the first k directions of a node layer kept.
struct LibAblationCurve {
  std::string layer;
  std::string basis;  ///< "lib" or "pca"
  std::vector<std::int64_t> kept;
  std::vector<double> accuracy;
  std::vector<double> loss;
};

/// Edge ablation of one edge matrix (ALGORITHMS.md section 9 step 9): only the n largest edges
/// kept, the smallest n whose accuracy is within the tolerance of the unmodified model's found by
/// bisection.
struct LibEdgeAblation {
  std::string from, to;            ///< the node layers the edge matrix joins
  std::string basis;               ///< "lib" or "pca"
  std::int64_t edges = 0;          ///< entries of the edge matrix
  std::int64_t nonzero = 0;        ///< entries > 0
  double target = 0.0;             ///< base accuracy minus the tolerance
  std::vector<std::int64_t> kept;  ///< the n evaluated, in the order the bisection tried them
  std::vector<double> accuracy;
  std::vector<double> loss;
  std::int64_t minimal = -1;  ///< smallest n with accuracy >= target; -1: not even with all
  double seconds = 0.0;
};

struct LibResult {
  std::string dataset;
  std::int64_t examples = 0;
  std::int64_t positions = 0;  ///< P of the input node layers
  std::string basis;           ///< "jacobian" or "(1-0)*alpha"
  std::string integration;     ///< quadrature rule, e.g. "gradient"
  bool centred = false;
  bool rotateFinal = true;
  double tau = 0.0;
  std::string gramSource;         ///< "live" or the activation store the Grams were read from
  std::int64_t gramExamples = 0;  ///< examples the Grams average over
  std::vector<LibNodeLayer> layers;
  /// edges[l]: E between layers[l] and layers[l + 1], [r'_{l+1}, r'_l], entries >= 0.
  std::vector<Eigen::MatrixXd> edges;
  std::vector<double> edgeSeconds;
  /// The same edges in the PCA bases (the Gram's eigenbasis; the final node layer's basis as for
  /// LIB), computed for the edge ablation's baseline.
  std::vector<Eigen::MatrixXd> pcaEdges;
  /// Per edge matrix, LIB then PCA.
  std::vector<LibEdgeAblation> edgeAblations;
  std::int64_t stochasticSources = 0;  ///< R of the stochastic Jacobians (0: exact)
  std::vector<LibAblationCurve> curves;
  double baseAccuracy = 0.0;  ///< the unmodified model on the same rows
  double baseLoss = 0.0;
};

}  // namespace cs::analysis
