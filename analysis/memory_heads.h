// Memory vs context heads and PH3 pruning (ALGORITHMS.md section 5; Cutting Off the Head Ends
// the Conflict). On conflict examples, a question whose parametric ("memory") answer o_m is
// contradicted by a context asserting o_c, each head gets
// - its effect e_{l,i}: LD(x_conf with r_{l,i}[last] <- r_{l,i}(x_ref)[last]) - LD(x_conf) with
//   LD = logit(o_m) - logit(o_c), everything else frozen, through the logits shortcut of
//   section 4 (final norm recomputed): one forward pass per input, no per-head reruns;
// - its direct logit attribution on x_conf along e_{o_m} - e_{o_c} (section 3).
// Heads with DLA > 0 are memory heads, DLA < 0 context heads. PH3 zero-ablates the top k of one
// group (k chosen on a validation split) to make the model follow the context (or its memory).
// Language models only; answers are scored by their first token.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "analysis/results/memory_heads_result.h"
#include "core/progress.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::analysis {

struct ConflictExample {
  std::vector<std::int64_t> conflict;   ///< x_conf: context + question, token ids
  std::vector<std::int64_t> reference;  ///< x_ref: the question alone (default) or ctx' + q
  std::int64_t memoryAnswer = -1;       ///< o_m, first token
  std::int64_t contextAnswer = -1;      ///< o_c, first token
};

enum class HeadRanking { Effect, Dla };
/// Which answer pruning should bring out: the context's (prune memory heads) or the memory's.
enum class SteeringMode { Context, Memory };

struct MemoryHeadOptions {
  HeadRanking rankBy = HeadRanking::Effect;
  SteeringMode mode = SteeringMode::Context;
  /// Rank heads on the examples that pass step 1 (o_m on x_ref, o_c on x_conf); both the
  /// filtered and the unfiltered scores are reported either way.
  bool filter = true;
  /// e with the final norm's scale frozen from x_conf (then e is linear in the senders) instead
  /// of recomputed.
  bool freezeFinalNorm = false;
  std::vector<int> kGrid{1, 3, 5, 7, 9, 15};
  std::int64_t batchSize = 8;
};

/// Finds the heads on `find`, chooses k on `validation` and reports the pruned accuracy on both
/// (and on `test`, which may be empty). ConfigError for bad examples or options.
MemoryHeadResult analyseMemoryHeads(models::Transformer& model,
                                    const std::vector<ConflictExample>& find,
                                    const std::vector<ConflictExample>& validation,
                                    const std::vector<ConflictExample>& test = {},
                                    const MemoryHeadOptions& options = {},
                                    Progress& progress = noProgress());

// --- the pieces ------------------------------------------------------------------------------

/// One example's head scores, [layers, maxHeads] (NaN where a layer has fewer heads).
struct ExampleHeadScores {
  Eigen::MatrixXd effect;
  Eigen::MatrixXd dla;
  double logitDifference = 0.0;  ///< LD on x_conf
  bool memoryOnReference = false;
  bool contextOnConflict = false;
};

std::vector<ExampleHeadScores> scoreConflictHeads(models::Transformer& model,
                                                  const std::vector<ConflictExample>& examples,
                                                  const MemoryHeadOptions& options = {},
                                                  Progress& progress = noProgress());

/// The shortcut effect of patching a set of heads (layer, head) together, mean over examples.
/// With the final norm frozen it is the sum of the single-head effects.
double senderSetEffect(models::Transformer& model, const std::vector<ConflictExample>& examples,
                       const std::vector<std::pair<int, int>>& heads, bool freezeFinalNorm,
                       std::int64_t batchSize = 8);

struct ConflictAccuracy {
  double rate = 0.0;         ///< the target answer is the top-1 prediction at the last token
  double probability = 0.0;  ///< mean softmax probability of the target answer
};

/// The model (under `masks`) on the conflict inputs x_conf; the target is o_c (Context) or o_m.
ConflictAccuracy evaluateConflicts(models::Transformer& model,
                                   const std::vector<ConflictExample>& examples,
                                   const hooks::MaskSet& masks, SteeringMode target,
                                   std::int64_t batchSize = 8);

}  // namespace cs::analysis
