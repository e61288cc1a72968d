// Path patching (ALGORITHMS.md section 4, step 3): the effect of sender components on the
// metric through specific receivers only. Step a runs the receiving input with the senders'
// outputs taken from the source run and every other head output (in direct mode every MLP
// output too) frozen to the receiving run's own cached values, and records the receivers'
// inputs; step b runs the receiving input again with only those inputs replaced. Receivers are
// the logits (read out from step a's final residual; in direct mode without any forward pass),
// heads' query/key/value inputs, or MLP inputs.
//
// A head has no input hook of its own: its query input is LN1(h_l) W_Q^(i) + b, a function of
// the residual h_l alone, so replacing hook_q's head slice by its step-a value is exactly
// feeding head i the step-a residual (with LN1 recomputed on it) while every other head keeps
// the receiving run's. Keys and values work the same way, with one caveat: in grouped-query
// models a key/value head is shared by its group, so patching a receiver's key or value
// patches the whole group's. An MLP's input is ln2.hook_normalized.
#pragma once

#include <string>
#include <vector>

#include "analysis/activation_patching.h"
#include "analysis/results/path_patching_result.h"
#include "core/progress.h"
#include "models/transformer.h"

namespace cs::analysis {

/// A sender: head `head` of block `layer`, or the block's MLP when head < 0.
struct PathNode {
  int layer = 0;
  int head = -1;
  bool operator==(const PathNode&) const = default;
};

enum class ReceiverInput { Logits, Query, Key, Value, QueryKeyValue, Mlp };

/// A receiver: the logits, an input of head `head` of block `layer`, or block `layer`'s MLP
/// input.
struct PathReceiver {
  ReceiverInput input = ReceiverInput::Logits;
  int layer = -1;
  int head = -1;
  bool operator==(const PathReceiver&) const = default;
};

struct PathPatchingOptions {
  /// Each entry one sender set whose outputs are patched together (a row of the result);
  /// empty: every head on its own.
  std::vector<std::vector<PathNode>> senders;
  /// Each entry one receiver group patched together (a column); empty: the logits alone.
  /// A group is either the logits or a set of head / MLP inputs.
  std::vector<std::vector<PathReceiver>> receivers;
  /// Freeze every MLP output as well as every head output (ALGORITHMS.md "direct" mode); off:
  /// MLPs are recomputed, so paths through them count.
  bool direct = true;
  /// Logits receivers: the final norm divides by the receiving run's scale instead of
  /// recomputing it, which makes the readout linear in the senders' differences.
  bool frozenNorm = false;
  /// Direct mode, logits receivers: h_L(receiving) + sum of the senders' output differences at
  /// the metric position, read out without a forward pass (the inputs may then differ in
  /// length). Off: step a is run, which gives the same numbers.
  bool logitsShortcut = true;
  /// Noising, as the algorithm is written: the clean run receives the corrupted run's sender
  /// outputs and S = (M - M_c) / (M_r - M_c). Denoising swaps the runs.
  PatchDirection direction = PatchDirection::Noising;
  int rowsPerPass = 64;  ///< batch rows of one forward pass (sender sets x groups x pairs)
};

/// Labels: "L0H3", "L1MLP"; "logits", "L1H2.q", "L1H2.k", "L1H2.v", "L1H2.qkv", "L1MLP.in".
std::string pathNodeLabel(const PathNode& node);
std::string pathReceiverLabel(const PathReceiver& receiver);

/// S[sender set, receiver group] for every pair, averaged over the pairs. ConfigError for
/// senders or receivers the model does not have; ShapeError for pairs of different shapes when
/// a forward pass needs them aligned.
PathPatchingResult analysePathPatching(models::Transformer& model, const PatchingPairs& pairs,
                                       const PathPatchingOptions& options = {},
                                       Progress& progress = noProgress());

}  // namespace cs::analysis
