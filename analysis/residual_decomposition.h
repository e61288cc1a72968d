// Residual path decomposition and direct logit attribution (ALGORITHMS.md section 3; Revisiting
// Vision Transformer from the View of Path Ensemble). The final residual at the read position
// is the sum of parallel paths, h_L = h_0 + sum_l (c_attn,l + c_mlp,l), with c_attn,l =
// sum_i r_{l,i} + b_O. DLA of a path is its contribution to u^T logits with the final norm's
// scale sigma_f frozen from the clean run, so DLAs plus a constant add up to u^T logits.
// Legend: B batch, T positions, S read sites, R positions pooled per site (1, or the patches of
// a classifier without a class token), D model width, H heads, E head width, V outputs.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "analysis/results/residual_decomposition_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::analysis {

struct DecompositionOptions {
  /// Language models: the position read, the same for every row (-1: each row's last real
  /// token, honouring the attention mask). Classifiers read their class token or pool.
  std::int64_t position = -1;
  /// u = e_answer - e_foil per example; one value applies to every row. Empty answers: each
  /// row's top prediction; empty foils: the runner-up (best output other than the answer).
  std::vector<std::int64_t> answers;
  std::vector<std::int64_t> foils;
  bool answerOnly = false;  ///< u = e_answer (no foil)
  bool perHead = true;      ///< DLA of every head and of b_O
  bool views = true;        ///< logit lens, solo and leave-one-out views
};

/// One batch (tokens or pixels) decomposed. ConfigError for a bad position, answer or foil.
ResidualDecompositionResult analyseResidualDecomposition(models::Transformer& model,
                                                         const models::ModelInput& input,
                                                         const DecompositionOptions& options = {},
                                                         Progress& progress = noProgress());

struct PathAccuracyOptions {
  std::int64_t batchSize = 32;
  std::int64_t limit = 0;  ///< at most this many rows (0: all)
  bool perHead = true;
  bool prune = false;  ///< greedy path pruning (keeps every site's paths in memory)
};

/// Solo, logit-lens and leave-one-out accuracy and mean DLA per path over a labelled dataset,
/// batch by batch; optionally greedy path pruning.
PathAccuracyResult analysePathAccuracy(models::Transformer& model, const data::Dataset& dataset,
                                       const PathAccuracyOptions& options = {},
                                       Progress& progress = noProgress());

// --- the pieces, for analyses built on the decomposition (memory_heads.cpp) -----------------

/// Where the logits read the residual stream: site s is (rows[s], positions[s]); positions is
/// undefined when each site pools every position of its row (classifiers without a class
/// token), in which case rows = 0..B-1.
struct ReadSites {
  at::Tensor rows;       // [S] int64
  at::Tensor positions;  // [S] int64, or undefined (pooled)
};

/// The model's read sites for one batch: each row's last real token (or `position` >= 0) for
/// language models, the class token or the pooled patches for classifiers.
ReadSites defaultReadSites(const models::TransformerConfig& config, const models::ModelInput& input,
                           std::int64_t position = -1);

/// Every path's contribution at the read sites, from one forward pass with observers.
struct ResidualPaths {
  at::Tensor embed;                         // [S, R, D] h_0
  std::vector<at::Tensor> attn;             // per layer [S, R, D]; zeros when skipped
  std::vector<at::Tensor> mlp;              // per layer [S, R, D]; zeros when skipped
  std::vector<at::Tensor> z;                // per layer [S, R, H, E]; undefined without heads
  at::Tensor finalResidual;                 // [S, R, D] h_L
  at::Tensor logits;                        // [S, V] the forward pass's logits at the sites
  std::vector<at::Tensor> ordered() const;  ///< embed, attn 0, mlp 0, attn 1, ...
};

ResidualPaths captureResidualPaths(models::Transformer& model, const models::ModelInput& input,
                                   const ReadSites& sites, bool withHeads);

/// W_U u per site [S, D] (float64): W_U[:, answer] - W_U[:, foil]; foils -1 (or undefined):
/// the answer's column alone.
at::Tensor unembedDirections(const models::Transformer& model, const at::Tensor& answers,
                             const at::Tensor& foils);

/// The vectors w [S, R, D] (float64) with DLA(c) = mean_r c[s, r] . w[s, r]: W_U u through the
/// final norm's gamma, centred for LayerNorm, divided by the frozen sigma_f of finalResidual.
/// answers [S]; foils [S] with -1 for "no foil" (or undefined).
at::Tensor dlaReadVectors(const models::Transformer& model, const at::Tensor& finalResidual,
                          const at::Tensor& answers, const at::Tensor& foils);

/// u^T (W_U beta + b_U) per site [S] (float64).
at::Tensor dlaConstant(const models::Transformer& model, const at::Tensor& answers,
                       const at::Tensor& foils);

/// DLA of contributions c [S, R, D] along w: [S] float64.
at::Tensor directAttribution(const at::Tensor& contribution, const at::Tensor& readVectors);

/// DLA of every head of `layer` from its z [S, R, H, E]: [S, H] float64.
at::Tensor headAttribution(const models::Transformer& model, int layer, const at::Tensor& z,
                           const at::Tensor& readVectors);

/// The model's final norm and unembedding of residuals [S, R, D] at read sites: [S, V].
at::Tensor readoutSites(const models::Transformer& model, const at::Tensor& residual);

}  // namespace cs::analysis
