// Edge ablation of the Local Interaction Basis (ALGORITHMS.md section 9 step 9): keep only the n
// largest entries of an edge matrix, so that each output direction of the next node layer is
// computed from its kept input directions alone, and bisect n for the smallest count that keeps
// the model's accuracy. Works for any pair of bases (LIB or the PCA baseline).
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <cstdint>
#include <functional>

#include "analysis/lib_sections.h"
#include "analysis/results/lib_result.h"
#include "core/progress.h"

namespace cs::analysis {

struct LibScore {
  double accuracy = 0.0;
  double loss = 0.0;  ///< mean cross-entropy
};

/// Accuracy and loss of logits [N, 1, V] or [N, V] against targets [N].
LibScore scoreLogits(const at::Tensor& logits, const at::Tensor& targets);

/// One section between consecutive node layers and the bases at both ends (float64).
struct LibSectionBases {
  const FoldedSections* sections = nullptr;
  int from = 0, to = 0;         ///< stream indices of the two node layers
  at::Tensor C, Cplus;          ///< [n_l, r_l], [r_l, n_l]
  at::Tensor nextC, nextCplus;  ///< [n_{l+1}, r_{l+1}], [r_{l+1}, n_{l+1}]
};

/// The n largest entries of E [r_{l+1}, r_l] as a kept mask of the same shape (kBool); ties go
/// to the lower flat index, so the masks for growing n are nested.
at::Tensor keptEdges(const Eigen::MatrixXd& E, std::int64_t n);

/// The next node layer's activations [N, P_out, n_{l+1}] with only the kept edges: output
/// direction i of f_hat' = S(f_hat C+) C' sees f_hat = f C with the input directions j where
/// kept[i, j] is false zeroed, and the result is mapped back with C'+. Output directions with the
/// same kept set share one run of the section; at most `rowsPerPass` rows go through at once.
/// cs::Cancelled when cancelled (checked once per pass).
at::Tensor edgeAblatedNext(const LibSectionBases& s, const at::Tensor& f, const at::Tensor& kept,
                           std::int64_t rowsPerPass = 4096,
                           const Progress& progress = noProgress());

/// The smallest n in [lo, hi] with enough(n), assuming enough is monotone in n; -1 when not even
/// enough(hi). Evaluates hi first, then bisects (about log2(hi - lo) + 1 calls).
std::int64_t bisectSmallest(std::int64_t lo, std::int64_t hi,
                            const std::function<bool(std::int64_t)>& enough);

/// Bisects the edge count of E for the smallest n whose accuracy, after `finish` has run the
/// rest of the model on edgeAblatedNext, is >= target. Records every evaluated point.
/// cs::Cancelled when cancelled.
LibEdgeAblation ablateEdges(const LibSectionBases& s, const Eigen::MatrixXd& E, const at::Tensor& f,
                            const std::function<LibScore(const at::Tensor& next)>& finish,
                            double target, std::int64_t rowsPerPass = 4096,
                            Progress& progress = noProgress());

}  // namespace cs::analysis
