// What layer-wise relevance propagation (ALGORITHMS.md section 7) reports for one example:
// relevance of the input tokens or pixels, of the residual stream at every layer, of every MLP
// neuron and head, and the conservation report. Plain struct (std + Eigen) for the viewers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

namespace cs::analysis {

struct RelevanceResult {
  std::string rules;           ///< e.g. "AttnLRP, epsilon" (models::RelevanceRules::describe)
  std::string target;          ///< e.g. "logit[3]" or "logit[17] at position 5"
  std::int64_t answer = 0;     ///< the class or next token c whose logit is explained
  std::int64_t position = -1;  ///< language models: the explained position; -1 for classifiers
  double targetLogit = 0.0;    ///< y_c, the relevance put in at the output

  /// Relevance per position of the embedding (token embeddings; for a ViT the class token
  /// row and the patch tokens, whose relevance includes the patch bias's share), [T].
  Eigen::VectorXd input;
  /// Relevance of the learned position embedding per position, [T]; empty without one.
  Eigen::VectorXd positions;
  /// Image models: relevance per pixel, summed over channels, [H_img, W_img] (not normalised;
  /// divide by max |R| for a heatmap). Empty for token input.
  Eigen::MatrixXd pixels;
  /// Relevance of the residual stream per position: row l is blocks.l.hook_resid_pre, the last
  /// row blocks.{L-1}.hook_resid_post, [L + 1, T].
  Eigen::MatrixXd residual;
  /// Per MLP neuron (mlp.hook_post), summed over positions, [L, max d_ff]; NaN past a layer's
  /// width and for a skipped MLP.
  Eigen::MatrixXd neurons;
  /// Per head (attn.hook_z), summed over positions and head dimensions, [L, max H]; NaN past a
  /// layer's head count and for skipped attention.
  Eigen::MatrixXd heads;

  /// Conservation: the sum of relevance at each residual layer ([L + 1]) and of the embedding
  /// and position relevance together. Equal to targetLogit where nothing leaks (biases, LayerNorm
  /// shifts and AttnLRP's softmax rule do leak).
  Eigen::VectorXd residualTotals;
  double inputTotal = 0.0;
};

}  // namespace cs::analysis
