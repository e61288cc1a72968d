// The training loop: AdamW on a Transformer's own weights, batch after batch, with periodic
// evaluation, early stop at a target and progress/cancel once per step. Deterministic on the
// CPU for a given seed and thread count: initial weights and batches come from explicit
// generators and no step uses a nondeterministic kernel.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "analysis/results/train_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::analysis {

struct TrainOptions {
  std::int64_t steps = 1000;  ///< optimiser steps at most
  double learningRate = 1e-3;
  double weightDecay = 0.0;  ///< AdamW's decoupled weight decay
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  std::int64_t warmupSteps = 0;  ///< linear learning-rate warm-up (scheduledLearningRate)
  /// Cosine decay of the learning rate towards this fraction of its peak, in [0, 1]; 1 keeps it
  /// constant after the warm-up.
  double finalLearningRateFraction = 1.0;
  double gradientClip = 0.0;     ///< largest global gradient norm (0: no clipping)
  std::int64_t evalEvery = 100;  ///< steps between evaluations of the metric
  /// Training stops at the first evaluation whose metric reaches this (<= 0: never).
  double target = 0.0;
};

/// The batch a training step uses; called once per step with the step's index.
using BatchSource = std::function<data::EvalBatch(std::int64_t step)>;
/// The early-stop metric of the model as it is now (e.g. held-out accuracy); runs with
/// gradients off.
using Evaluator = std::function<double(models::Transformer& model)>;

struct TrainLoopResult {
  std::int64_t steps = 0;  ///< steps taken
  double seconds = 0.0;
  bool reachedTarget = false;
  double lastMetric = 0.0;
  std::vector<TrainLogEntry> log;
};

/// Trains every weight of `model` in place (weights a forward pass never reads, such as the
/// norm of a skipped MLP, get no gradient and stay as they are). The stage text reads e.g.
/// "step 1200/4000  loss 0.0123  batch acc 1.000  held-out acc 0.421"; `stageName` goes first.
/// Cancelled (from progress.check()) leaves the model as trained so far.
TrainLoopResult trainModel(models::Transformer& model, const BatchSource& batches,
                           const Evaluator& evaluator, const TrainOptions& options,
                           Progress& progress = noProgress(), const std::string& stageName = {});

/// The learning rate of step `step` (0-based), with lr the peak, w the warm-up steps, N the step
/// budget and f the final fraction: lr (step + 1) / w during the warm-up, then
/// lr (f + (1 - f) (1 + cos(pi p)) / 2) with p = (step - w) / (N - w). The last step has
/// p = (N - 1 - w) / (N - w), so the rate reaches f lr only after it (the usual convention; the
/// shipped weights were trained with exactly this schedule).
double scheduledLearningRate(const TrainOptions& options, std::int64_t step);

/// Mean cross-entropy over what a batch scores, exactly the predictions analysis::evaluate
/// scores (a loss mask, one position per row, or class labels), differentiable; and how many
/// of them the top-1 logit gets right.
struct BatchLoss {
  at::Tensor loss;  // [] mean over the scored predictions
  std::int64_t correct = 0;
  std::int64_t predictions = 0;
};
BatchLoss batchLoss(const at::Tensor& logits, const data::EvalBatch& batch);

/// A model of `config` with fresh seeded weights in circuitscope's own layout: matrices
/// ~ N(0, std), biases 0, norm weights 1. The same config, seed and std give the same bits.
std::unique_ptr<models::Transformer> initialTransformer(const models::TransformerConfig& config,
                                                        std::uint64_t seed, double std);

}  // namespace cs::analysis
