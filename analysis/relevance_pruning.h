// Relevance-based layer contribution and pruning (ALGORITHMS.md section 8; LRP-QViT, Pruning by
// Explaining and its revisited reference erfanhatefi/Pruning-by-eXplaining-in-PyTorch): relevance
// from one backward pass per reference example (analysis/relevance.h) is accumulated as |R| on
// the four linear layers of each block, the MLP neurons and the heads; the neurons or heads are
// then pruned globally, least relevant first, and the accuracy traced against the pruning rate
// next to random and magnitude orders. A curve point is a hooks::MaskSet, so it can be applied
// live and exported like any other mask.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/evaluation.h"
#include "analysis/results/relevance_pruning_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::analysis {

struct RelevanceScoreOptions {
  /// Default: AttnLRP with the epsilon rule everywhere (the reference configuration).
  std::optional<models::RelevanceRules> rules;
  std::int64_t perClass = 10;         ///< n_ref examples per target class; 0: no per-class limit
  std::vector<std::int64_t> classes;  ///< only examples of these targets; empty: every target
  std::int64_t limit = 0;             ///< at most this many examples in all (0: no limit)
  std::int64_t batchSize = 16;
};

/// Accumulates relevance over the reference examples of `dataset` (rows with a target: class
/// labels, or next-token targets at a scored position). Each example puts relevance 1 on its
/// target's logit. ConfigError for a dataset without targets or with no example selected;
/// cs::Cancelled when cancelled (checked per batch).
RelevanceScores scoreByRelevance(models::Transformer& model, const data::Dataset& dataset,
                                 const RelevanceScoreOptions& options = {},
                                 Progress& progress = noProgress());

enum class PruneComponent { Neurons, Heads };
enum class PruneOrder { LeastRelevantFirst, MostRelevantFirst };

/// The components a pruning rate removes: of every component with a score (NaN: none), the
/// floor(rate * total) first in `order` (ties by layer, then index), zero-ablated. ConfigError
/// for a rate outside [0, 1].
hooks::MaskSet pruningMask(const Eigen::MatrixXd& scores, PruneComponent component, double rate,
                           PruneOrder order = PruneOrder::LeastRelevantFirst);

/// Weight-magnitude scores of the same shape as RelevanceScores' tables: a neuron's incoming
/// weights (W_in column, and W_gate's when gated), a head's rows of W_O, as L2 norms.
Eigen::MatrixXd magnitudeScores(const models::Transformer& model, PruneComponent component);

struct RelevancePruningOptions {
  PruneComponent component = PruneComponent::Neurons;
  PruneOrder order = PruneOrder::LeastRelevantFirst;
  std::vector<double> rates;  ///< ascending in [0, 1]; empty: 0, 0.05, ..., 0.95
  bool randomBaseline = true;
  bool magnitudeBaseline = true;
  std::uint64_t seed = 0;  ///< of the random order
  EvalOptions eval;
};

/// Accuracy on `dataset` against the pruning rate, for the relevance scores and the baselines.
/// One evaluation per rate and order; the model is restored afterwards.
RelevancePruningResult relevancePruningCurves(models::Transformer& model,
                                              const RelevanceScores& scores,
                                              const data::Dataset& dataset,
                                              const RelevancePruningOptions& options = {},
                                              Progress& progress = noProgress());

/// The trapezoid area under accuracy(rate).
double curveArea(const std::vector<double>& rates, const std::vector<double>& accuracy);

/// Mixed precision from the layer contributions: every linear layer starts at the lowest level;
/// layers are taken in order of decreasing contribution, and each is raised level by level
/// while the parameter-weighted mean bit width stays <= budget (a layer that does not fit is
/// passed over; smaller later layers may still rise). ConfigError for empty or unsorted levels,
/// or a budget below the lowest level.
BitAllocation allocateBits(const RelevanceScores& scores, std::vector<int> levels = {4, 6, 8},
                           double budget = 6.0);

}  // namespace cs::analysis
