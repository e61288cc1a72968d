// Head divergence (ALGORITHMS.md section 6, "Vision-aware head divergence", ACL 2025),
// generalised to any model: how far each attention head's output z (before W_O) at the last
// position moves when a context is taken away. Language models compare a prompt with the same
// prompt minus (or with a replaced) context segment; image models compare an image with a blank
// one. The selection of VHR (outlier filter, heads above the median, layer by layer with the
// earlier selections reinforced) gives a MaskSet of scale entries that applies, saves and
// reloads like any mask. Per-token divergence (T-VHD) follows a generated or given continuation.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/results/head_divergence_result.h"
#include "core/progress.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::analysis {

struct HeadDivergenceOptions {
  double alpha = 2.0;       ///< reinforcement factor of the selected heads' z
  std::vector<int> layers;  ///< L_r; empty: defaultDivergenceLayers(nLayers)
  /// VHR step 1: a layer's VHD is measured with the heads selected in earlier layers already
  /// scaled by alpha in both branches. False: every VHD from one unreinforced pair of passes.
  bool lockstep = true;
};

/// L_r = {1} and the last ceil(7 L / 16) layers (the paper's 14 of 32; ALGORITHMS.md writes
/// ceil(0.44 L), which gives 15 there), clipped to the model: {0} for one layer, {1} for two.
std::vector<int> defaultDivergenceLayers(int nLayers);

/// One layer's selection from its heads' VHD and TA: a head whose VHD and TA both exceed
/// mean + std over the layer's heads (std with n - 1; none when the layer has one head) gets
/// VHD 0, then H_l = {i : VHD_i > median} (median of the filtered values; the mean of the two
/// middle ones for an even count). At most floor(H / 2) heads; a head with VHD 0 never.
struct LayerSelection {
  std::vector<double> filtered;  ///< VHD after the outlier filter
  std::vector<int> selected;     ///< H_l, ascending
};
LayerSelection selectDivergentHeads(const std::vector<double>& vhd, const std::vector<double>& ta);

/// `with` and `without` are single examples ([1, T] tokens, [1, T, D] embeddings or
/// [1, C, H, W] pixels); their lengths may differ (only the last position is compared).
/// Cost: one pair of forward passes, plus one pair per layer of L_r whose selection changes the
/// model for later layers (lockstep), at most |L_r| pairs. ConfigError for layers out of range
/// or an alpha that is not finite.
HeadDivergenceResult analyseHeadDivergence(models::Transformer& model,
                                           const models::ModelInput& with,
                                           const models::ModelInput& without,
                                           const HeadDivergenceOptions& options = {},
                                           Progress& progress = noProgress());

/// The reinforcement as a mask: a Scale entry with factor alpha for every selected head.
hooks::MaskSet reinforcementMask(const HeadDivergenceResult& result);

/// `with` minus its tokens [begin, end) (language models). ConfigError for an empty, out-of-range
/// or whole-input range.
models::ModelInput withoutSegment(const models::ModelInput& with, std::int64_t begin,
                                  std::int64_t end);

enum class BlankImage {
  Zero,  ///< every normalised pixel value 0
  Mean,  ///< each channel filled with the image's own mean over its pixels
};
/// The "without" branch of an image model: a blank image of the same size.
models::ModelInput blankImage(const models::ModelInput& with, BlankImage kind);

struct TokenDivergenceOptions {
  int generate = 0;  ///< greedy tokens to generate from the "with" branch (when no continuation)
  std::vector<std::int64_t> continuation;  ///< given tokens y_t instead of generating
  int topK = 0;                            ///< heads per layer in T-VHD; 0: max(1, H / 8)
};

/// T-VHD over a continuation (language models): at step t both branches see their prompt
/// followed by y_<t, and the VHD of every head is taken at their last position; no
/// reinforcement. Without a KV cache every step recomputes; for causal models one pass per
/// branch over the whole continuation gives exactly the per-step values, so the cost is the
/// greedy generation's N forward passes plus one pass of the "without" branch.
TokenDivergenceResult analyseTokenDivergence(models::Transformer& model,
                                             const models::ModelInput& with,
                                             const models::ModelInput& without,
                                             const TokenDivergenceOptions& options,
                                             Progress& progress = noProgress());

/// n greedy tokens after a single-example token input, recomputing the whole sequence each
/// step (no KV cache). Apply a reinforcement mask around it for VHR generation.
std::vector<std::int64_t> greedyContinuation(models::Transformer& model,
                                             const models::ModelInput& prompt, int n,
                                             Progress& progress = noProgress());

}  // namespace cs::analysis
