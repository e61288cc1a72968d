// Activation patching (ALGORITHMS.md section 4): run the receiving input with one activation
// replaced by its value from the source run, everything downstream recomputed, and score the
// metric. Denoising patches clean into corrupted; noising patches corrupted into clean.
// Locations are batched: the receiving pairs are repeated and each block of rows patches one
// location. Several clean/corrupted pairs are scored together and their scores averaged.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/results/patching_result.h"
#include "core/progress.h"
#include "hooks/activation_cache.h"
#include "models/model.h"
#include "models/transformer.h"

namespace cs::analysis {

enum class PatchDirection { Denoising, Noising };

/// The metric M(logits) of one example: logit[answer] - logit[foil] at `position` (foil < 0:
/// logit[answer] alone). Language models score a position (-1: the last); classifiers ignore it.
struct PatchMetric {
  std::int64_t answer = 0;
  std::int64_t foil = -1;
  std::int64_t position = -1;
};

/// Clean/corrupted pairs: row n of `clean` and row n of `corrupted` form pair n, scored by
/// metrics[n] (a single metric applies to every pair).
struct PatchingPairs {
  models::ModelInput clean;
  models::ModelInput corrupted;
  std::vector<PatchMetric> metrics;
};

/// The location kinds of ALGORITHMS.md section 4.
enum class PatchKind {
  Heads,     ///< hook_z by (layer, head), all positions together
  ResidPre,  ///< hook_resid_pre by (layer, position)
  AttnOut,   ///< hook_attn_out by (layer, position)
  MlpOut,    ///< hook_mlp_out by (layer, position)
  Neurons,   ///< mlp.hook_post by (layer, neuron), all positions together
};

/// "heads", "resid", "attn-out", "mlp-out", "neurons"; ConfigError listing them otherwise.
PatchKind parsePatchKind(const std::string& name);
std::string patchKindName(PatchKind kind);

struct PatchingOptions {
  std::vector<std::string> hookPatterns{"blocks.*.attn.hook_z"};
  bool perHead = true;         ///< split hooks with a head axis by head
  bool perPosition = false;    ///< split by position (query position for scores and patterns)
  bool perNeuron = false;      ///< split mlp.hook_pre / mlp.hook_post by neuron
  std::vector<int> heads;      ///< only these heads (empty: all)
  std::vector<int> positions;  ///< only these positions (empty: all)
  std::vector<int> neurons;    ///< only these neurons (empty: all)
  PatchDirection direction = PatchDirection::Denoising;
  int locationsPerPass = 16;  ///< locations patched in one batched forward pass (x the pairs)
};

/// The options of one location kind, e.g. Heads: blocks.*.attn.hook_z per head.
PatchingOptions patchingOptionsFor(PatchKind kind);

/// The sweep over every location the options name, for every pair. ShapeError when the clean
/// and corrupted inputs differ in shape; ConfigError for bad heads, positions, neurons,
/// patterns or metric tokens.
PatchingResult analyseActivationPatching(models::Model& model, const PatchingPairs& pairs,
                                         const PatchingOptions& options = {},
                                         Progress& progress = noProgress());

/// The same for clean and corrupted batches scored by one metric (usually one pair each).
PatchingResult patchActivations(models::Model& model, const models::ModelInput& clean,
                                const models::ModelInput& corrupted, const PatchMetric& metric,
                                const PatchingOptions& options = {},
                                Progress& progress = noProgress());

/// The normalised score of ALGORITHMS.md section 4 (0 when |M_c - M_r| < 1e-8).
double patchingScore(double patched, double clean, double corrupted, PatchDirection direction);

// Building blocks shared by the patching analyses (activation, attribution, path).
namespace patching {

/// One location: a hook point, optionally narrowed to a head, a position and a neuron.
struct Location {
  hooks::HookPoint point;
  int head = -1;
  int position = -1;
  int neuron = -1;
};

/// The pairs checked (equal batch sizes and, unless `sameShape` is false, equal shapes) with
/// one metric per pair; ShapeError / ConfigError saying what is wrong.
PatchingPairs checkedPairs(const PatchingPairs& pairs, bool sameShape = true);

/// Number of pairs (the batch size of the clean input).
std::int64_t pairCount(const PatchingPairs& pairs);

/// Every location of the activations in `cache` that the options split out, in forward order.
std::vector<Location> locationsOf(const hooks::ActivationCache& cache,
                                  const PatchingOptions& options);

/// Rows [row, row + count) of an activation, narrowed to what the location covers.
at::Tensor locationRegion(const at::Tensor& activation, const Location& location, int64_t row,
                          int64_t count);

/// M of every row of logits ([B, T, V] or [B, C]) as float64 [B]; row b uses
/// metrics[b % metrics.size()], so a batch of repeated pairs needs the pairs' metrics once.
at::Tensor metricValues(const at::Tensor& logits, const std::vector<PatchMetric>& metrics);

/// ConfigError for metric tokens, classes or positions that do not fit the logits.
void checkMetrics(const at::Tensor& logits, const std::vector<PatchMetric>& metrics);

/// "logit[a] - logit[b] at position p" for the result (", ..." when pairs differ).
std::string describeMetrics(const at::Tensor& logits, const std::vector<PatchMetric>& metrics);

/// The input repeated `times` times along the batch: row g * B + b is row b.
models::ModelInput tiled(const models::ModelInput& input, int64_t times);

/// metricValues of a patched pass resumed at `firstLayer` from the receiving run's cached
/// blocks.{firstLayer}.hook_resid_pre (tiled `times` like `tiledReceiver`): hooks from that
/// block on run as in a full forward pass; language models unembed only the metric positions.
at::Tensor resumedMetricValues(models::Transformer& model, int firstLayer,
                               const hooks::ActivationCache& receiverCache,
                               const models::ModelInput& tiledReceiver, int64_t times,
                               const std::vector<PatchMetric>& metrics);

/// A tensor's values as float64 on the host, in memory order.
std::vector<double> toVector(const at::Tensor& values);

/// The plain mean (0 for no values).
double mean(const std::vector<double>& values);

/// Sets a result's reference metrics: M_c and M_r per pair, their means, and how many pairs
/// are scored (|M_c - M_r| >= 1e-8).
template <typename Result>
void setReferenceMetrics(Result& result, std::vector<double> clean, std::vector<double> corrupted) {
  result.scoredPairs = 0;
  for (std::size_t n = 0; n < clean.size(); ++n) {
    result.scoredPairs += std::abs(clean[n] - corrupted[n]) >= 1e-8;
  }
  result.cleanMetric = mean(clean);
  result.corruptedMetric = mean(corrupted);
  result.cleanMetrics = std::move(clean);
  result.corruptedMetrics = std::move(corrupted);
}

/// The mean over the scored pairs of the per-pair scores (0 when no pair is scored).
double meanScore(const std::vector<double>& patched, const std::vector<double>& clean,
                 const std::vector<double>& corrupted, PatchDirection direction);

/// The reported row of one location: its metric (mean over the pairs) and score.
PatchedLocation patchedLocation(const Location& location, const std::vector<double>& patched,
                                const std::vector<double>& clean,
                                const std::vector<double>& corrupted, PatchDirection direction);

/// Heatmap grids of `result.locations`, one per hook kind.
std::vector<PatchingGrid> gridsOf(const std::vector<PatchedLocation>& locations);

}  // namespace patching

}  // namespace cs::analysis
