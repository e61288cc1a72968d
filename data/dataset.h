// Datasets yield batches of model inputs plus what evaluation needs: class labels, next-token
// targets (and foils) at a scored position, or a mask of positions whose next-token loss counts.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace cs::data {

/// One batch. Exactly one way of scoring is set:
/// - targets + scorePositions: next-token target at one position per row (prompt sets,
///   modular addition); foils optional (logit difference = target minus foil);
/// - targets without scorePositions: class labels (image classification);
/// - lossMask: next-token prediction at every position t with lossMask[b, t] = 1, i.e. the
///   logits at t - 1 predict tokens[b, t] (text corpora, induction sequences).
struct EvalBatch {
  at::Tensor tokens;          // [B, T] int64
  at::Tensor attentionMask;   // [B, T] int64, optional (padding)
  at::Tensor pixels;          // [B, C, H, W] float32
  at::Tensor targets;         // [B] int64
  at::Tensor foils;           // [B] int64, optional
  at::Tensor scorePositions;  // [B] int64
  at::Tensor lossMask;        // [B, T] bool
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  /// Rows [begin, begin + count) clipped to the end. Throws ConfigError for a bad range.
  virtual EvalBatch batch(std::int64_t begin, std::int64_t count) const = 0;
  /// One line for progress and reports, e.g. "induction: 256 x 2 x 20 tokens (vocab 128, seed 0)".
  virtual std::string describe() const = 0;
};

}  // namespace cs::data
