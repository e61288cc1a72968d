// Latency of a model's forward pass: warm-up runs, then N timed runs (device synchronised
// around each on CUDA), median and spread, throughput, peak memory, parameters and FLOPs.
#pragma once

#include "analysis/results/latency_result.h"
#include "core/progress.h"
#include "models/transformer.h"

namespace cs::analysis {

struct LatencyOptions {
  int warmup = 3;
  int runs = 20;
};

/// Times model.forward(batch) under inference mode. Whatever hooks or masks are attached stay
/// attached (that is the masked model's latency). Checks progress once per run.
LatencyResult measureLatency(models::Transformer& model, const models::ModelInput& batch,
                             const LatencyOptions& options = {}, Progress& progress = noProgress());

/// Forward FLOPs (2 x multiply-adds of every matrix product, attention products included) for
/// one example of `tokens` positions, honouring per-layer sizes and skipped sublayers.
double forwardFlopsPerExample(const models::TransformerConfig& config, std::int64_t tokens);

}  // namespace cs::analysis
