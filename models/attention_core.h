// The two batched products of attention: scores = Q K^T * scale and z = pattern V.
// Without gradients they run as one small GEMM per (batch, head) spread over libtorch's
// threads, writing straight into the result, with the BLAS single-threaded inside: many small
// multi-threaded GEMMs cost more in thread hand-offs than in arithmetic. With gradients they
// use the differentiable batched matmul.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace cs::models {

/// q [B, T, H, E], k [B, S, Hkv, E] (any strides, last axis contiguous is fastest). Query head
/// h reads key head kvHeadOfQuery[h]; with an empty map H is a multiple of Hkv and each key head
/// serves H / Hkv consecutive query heads. Returns [B, H, T, S].
at::Tensor attentionScores(const at::Tensor& q, const at::Tensor& k, double scale,
                           const std::vector<int>& kvHeadOfQuery = {});

/// pattern [B, H, T, S], v [B, S, Hkv, E], the same head map. Returns z [B, T, H, E].
at::Tensor attentionMix(const at::Tensor& pattern, const at::Tensor& v,
                        const std::vector<int>& kvHeadOfQuery = {});

}  // namespace cs::models
