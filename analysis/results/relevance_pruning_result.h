// What the relevance-based scores and pruning of ALGORITHMS.md section 8 report: relevance
// accumulated over a reference set per linear layer, MLP neuron and head; the layer
// contribution and the bit-width table derived from it; pruning curves (accuracy against the
// pruning rate) for relevance, random and magnitude orders with their areas. Plain struct (std +
// Eigen) for the viewers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

/// One of the four quantisable linear layers of a block.
struct LinearLayerScore {
  std::string name;  ///< "blocks.3.qkv", "blocks.3.proj", "blocks.3.fc1", "blocks.3.fc2"
  int layer = 0;
  std::int64_t parameters = 0;  ///< weights and biases of the layer
  double contribution = 0.0;    ///< LC = (1/N) sum over examples, outputs and positions of |R|
  double normalized = 0.0;      ///< c = LC / sum of LC over all linear layers
};

struct RelevanceScores {
  std::string rules;  ///< models::RelevanceRules::describe()
  std::string dataset;
  std::int64_t examples = 0;             ///< N, reference examples used
  std::vector<std::int64_t> classes;     ///< the targets seen, ascending
  std::vector<LinearLayerScore> linear;  ///< 4 per block that has both sublayers, in order
  /// rho per MLP neuron (fc1 outputs), sum over examples and positions of |R|, [L, max d_ff];
  /// NaN past a layer's width and for a skipped MLP.
  Eigen::MatrixXd neurons;
  /// Per head: relevance at its attention probabilities summed over keys, |.| per example and
  /// query, summed over queries and examples, [L, max H]; NaN where there is no head.
  Eigen::MatrixXd heads;
};

/// Accuracy against the pruning rate for one ordering of the components.
struct PruningCurve {
  std::string order;  ///< "relevance", "random" or "magnitude"
  std::vector<double> rates;
  std::vector<std::int64_t> pruned;  ///< components removed at each rate, floor(rate * total)
  std::vector<double> accuracy;
  double auc = 0.0;  ///< trapezoid over the rates
};

struct RelevancePruningResult {
  std::string component;   ///< "neurons" or "heads"
  std::string dataset;     ///< what the accuracy was measured on
  std::int64_t total = 0;  ///< components that can be pruned
  double unprunedAccuracy = 0.0;
  std::vector<PruningCurve> curves;  ///< relevance first, then the baselines asked for
};

/// One layer's bits in the mixed-precision table.
struct BitAllocationRow {
  std::string name;
  std::int64_t parameters = 0;
  double normalized = 0.0;
  int bits = 0;
};

struct BitAllocation {
  std::vector<int> levels;             ///< candidate bit widths, ascending
  double budget = 0.0;                 ///< the parameter-weighted mean bit width allowed
  double meanBits = 0.0;               ///< what the allocation reaches
  std::vector<BitAllocationRow> rows;  ///< in the order of RelevanceScores::linear
};

}  // namespace cs::analysis
