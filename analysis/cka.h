// Linear CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited";
// ALGORITHMS.md section 2): how alike two representations of the same n samples are, invariant
// to rotation, isotropic scaling and translation. Three estimators: the feature form
// ‖YᵀX‖² / (‖XᵀX‖ ‖YᵀY‖) of column-centred X, Y; the Gram form <Kc, Lc> / (‖Kc‖ ‖Lc‖) with
// doubly centred Grams (identical values, cheaper when n < p, q); and the minibatch estimator of
// Nguyen et al. 2021 that sums unbiased HSIC over batches and needs no storage. All in float64.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/results/cka_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/model.h"

namespace cs::analysis {

enum class CkaForm { Feature, Gram, Unbiased };
/// What one sample contributes at a hook: every position flattened (T·d values), the first
/// position (a ViT's class token), the last real token, or the mean over real tokens.
enum class CkaPosition { All, Cls, Last, Mean };

std::string ckaFormName(CkaForm form);
std::string ckaPositionName(CkaPosition position);
/// "feature" | "gram" | "unbiased"; ConfigError listing them otherwise.
CkaForm parseCkaForm(const std::string& text);
/// "all" | "cls" | "last" | "mean"; ConfigError listing them otherwise.
CkaPosition parseCkaPosition(const std::string& text);

/// Feature form on x [n, p] and y [n, q] (any float dtype; centred and computed in float64).
/// ConfigError for n < 2, different row counts, or a p x q product too large to hold (use the
/// Gram form). 0 when either side does not vary over the samples.
double linearCkaFeature(const at::Tensor& x, const at::Tensor& y);
/// Gram form on the same inputs: K = x xᵀ, L = y yᵀ, doubly centred. Equal to the feature form
/// up to rounding.
double linearCkaGram(const at::Tensor& x, const at::Tensor& y);
/// H K H with H = I - 11ᵀ/n, for a square K (float64 result).
at::Tensor centerGram(const at::Tensor& gram);
/// The unbiased HSIC estimator of Song et al. 2012 on Grams k, l [n, n], n >= 4:
/// (tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n-1)(n-2)) - 2/(n-2) · 1ᵀK̃L̃1) / (n(n-3)), K̃ = k with a zero
/// diagonal. Unbiased for the population HSIC; may be slightly negative.
double unbiasedHsic(const at::Tensor& k, const at::Tensor& l);
/// Minibatch CKA: consecutive batches of `batchSize` rows, Σ HSIC_u(K_b, L_b) /
/// sqrt(Σ HSIC_u(K_b, K_b) · Σ HSIC_u(L_b, L_b)); a last batch of fewer than 4 rows is left out.
/// ConfigError when no batch has 4 rows.
double linearCkaMinibatch(const at::Tensor& x, const at::Tensor& y, std::int64_t batchSize);

/// The residual stream h_0..h_L: blocks.l.hook_resid_pre for every block, then the last
/// block's hook_resid_post.
std::vector<std::string> residualStreamHooks(int nLayers);

struct CkaOptions {
  /// Hook names or glob patterns (forward order, duplicates once); empty: residualStreamHooks.
  std::vector<std::string> hooks;
  CkaPosition position = CkaPosition::All;
  CkaForm form = CkaForm::Gram;
  std::int64_t batchSize = 32;  ///< rows per forward pass (unbiased form: per HSIC batch, >= 4)
  std::int64_t limit = 256;     ///< rows used (0: the whole dataset)
};

/// CKA between every pair of the chosen hooks over the first `limit` rows of `dataset`, in one
/// pass. Feature and Gram forms keep every sample's representation ([n, p] per hook, in the
/// model's dtype) until the end; the Gram form then reuses one centred n x n Gram per hook for
/// all pairs. The unbiased form keeps only per-batch Grams. ConfigError for unknown hooks,
/// fewer than 2 rows (4 per batch for the unbiased form), or padded rows with position "all".
CkaResult analyseCka(models::Model& model, const data::Dataset& dataset,
                     const CkaOptions& options = {}, Progress& progress = noProgress());

}  // namespace cs::analysis
