// Layer importance by input/output similarity (Men et al. / He et al., "What Matters in
// Transformers? Not All Attention is Needed"; ALGORITHMS.md section 2): a module that barely
// turns its input X into a different output Y (mean cos(X, Y) near 1) can be dropped. Blocks
// (resid_pre -> resid_post), attention sublayers (resid_pre -> resid_mid) and MLP sublayers
// (resid_mid -> resid_post) are scored over a calibration set, padding masked, and ranked for
// dropping in four modes; drop curves evaluate the model with the real skip
// (Transformer::setSkipped) and always leave its skip flags as they were.
#pragma once

#include <cstdint>
#include <string>

#include "analysis/evaluation.h"
#include "analysis/results/layer_similarity_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::analysis {

/// discrete: rank the target's modules once, drop the n most similar; joint: the same over the
/// 2L attention and MLP sublayers together; iterative: drop the most similar, score again on
/// the modified model, repeat n times; consecutive: the n adjacent blocks i..i+n-1 whose input
/// h_i is most similar to their output h_{i+n}.
enum class DropMode { Discrete, Joint, Iterative, Consecutive };
/// What discrete and iterative modes rank: whole blocks, attention sublayers, MLP sublayers, or
/// both kinds of sublayer together (joint mode always ranks these; consecutive mode blocks).
enum class DropTarget { Block, Attention, Mlp, Sublayers };

std::string dropModeName(DropMode mode);
std::string dropTargetName(DropTarget target);  ///< "block", "attn", "mlp", "sublayers"
/// ConfigError listing the valid names otherwise.
DropMode parseDropMode(const std::string& text);
DropTarget parseDropTarget(const std::string& text);

struct LayerSimilarityOptions {
  std::int64_t batchSize = 32;  ///< calibration rows per forward pass
  std::int64_t limit = 256;     ///< calibration rows (0: the whole dataset)
  DropMode mode = DropMode::Discrete;
  DropTarget target = DropTarget::Attention;  ///< for discrete and iterative modes
  int dropN = 8;       ///< modules (consecutive: blocks) to drop; clipped to what can be dropped
  bool curve = false;  ///< evaluate after dropping the first k, k = 0..dropN
  EvalOptions eval;    ///< each curve point's evaluation (batch size, rows) on the same dataset
};

/// Scores every module on the first `limit` rows of `dataset` (valid positions only: those the
/// batch's attention mask marks), chooses the drop set of `options.mode` and, with
/// `options.curve`, evaluates the drop curve. cos with a zero vector counts as 0. ConfigError
/// for dropN < 1, a bad batch size or a dataset without rows; Cancelled through `progress`.
/// The model's skip flags are restored on every exit.
LayerSimilarityResult analyseLayerSimilarity(models::Transformer& model,
                                             const data::Dataset& dataset,
                                             const LayerSimilarityOptions& options = {},
                                             Progress& progress = noProgress());

}  // namespace cs::analysis
