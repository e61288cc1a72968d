// The Local Interaction Basis (ALGORITHMS.md section 9; The Local Interaction Basis, and Using
// Degeneracy in the Loss Landscape for Mechanistic Interpretability; reference ApolloResearch/rib):
// for chosen node layers, a basis in which activations are uncorrelated and ordered by their
// influence on the next node layer (Jacobian or "(1-0)*alpha" basis), and the interaction graph
// between consecutive bases. Gram matrices and eigen-decompositions in float64 (Eigen); the model
// is evaluated in bias-folded float64 sections (analysis/lib_sections.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/lib_recorded_grams.h"
#include "analysis/quadrature.h"
#include "analysis/results/lib_result.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::analysis {

/// How the basis is rotated within the whitened Gram eigenbasis (ALGORITHMS.md section 9 steps
/// 4-5): by the Jacobian Gram M' (default), or by the "(1-0)*alpha" gradient of the next node
/// layer's squared norm, with Lambda from the attribution matrix Lambda'.
enum class LibBasis { Jacobian, OneZeroAlpha };

/// "jacobian" or "(1-0)*alpha".
const char* libBasisName(LibBasis basis);
/// "jacobian", "one-zero-alpha" or "(1-0)*alpha"; nothing otherwise.
std::optional<LibBasis> parseLibBasis(const std::string& name);

struct LibOptions {
  /// Node layer names in stream order (parseNodeLayer); the last is usually "output".
  std::vector<std::string> nodeLayers;
  bool centre = false;       ///< centre all but the constant coordinate; constant direction first
  bool rotateFinal = true;   ///< final node layer: eigenbasis of its Gram (true) or identity
  double tau = 1e-15;        ///< eigenvalues <= tau are truncated
  bool relativeTau = false;  ///< truncate at tau * the largest eigenvalue instead
  QuadratureRule integration = QuadratureRule::Gradient;
  int integrationSteps = 0;  ///< n of trapezoid / gauss-legendre, m of left-riemann
  std::int64_t limit = 0;    ///< dataset rows used (0: all)
  std::int64_t batchSize = 512;
  /// Rows per backward pass of the Jacobians: batch rows times output directions served at once.
  std::int64_t rowsPerPass = 4096;
  std::int64_t outputPosition = -1;  ///< language models' output position (-1: the last)
  /// Sections without attention map positions independently: one seed per output direction
  /// serves every position (P times fewer passes). Off: one seed per (position, direction).
  bool positionwiseShortcut = true;
  double ablationBase = 2.0;  ///< node-ablation schedule: every k below 10, then k *= base
  bool edges = true;
  bool ablationCurves = true;
  LibBasis basis = LibBasis::Jacobian;
  /// R > 0: the Jacobians (Jacobian basis and edges) seed R random +-1 vectors over output
  /// positions per output direction instead of one seed per position: R passes instead of P_out,
  /// unbiased. Sections taking the position-wise shortcut stay exact (they need one pass).
  std::int64_t stochasticSources = 0;
  std::uint64_t seed = 0;  ///< of the stochastic sources
  /// Per edge matrix, bisect the smallest number of kept edges whose accuracy stays within
  /// `edgeAblationTolerance` of the unmodified model, for LIB and for PCA (whose edges it then
  /// computes too). Implies the edges.
  bool edgeAblation = false;
  double edgeAblationTolerance = 0.001;
  /// Set: the Grams (and the centring means) come from this activation store instead of the
  /// live rows, which then serve the Jacobians, edges and curves only.
  std::optional<LibGramRecording> gramRecording;
};

/// Bases, edges and (optionally) node-ablation curves on `dataset` (fixed-length rows; the
/// targets at the output position give the curves' accuracy). ConfigError for bad node layers
/// (unknown, out of order, fewer than two) or options; cs::Cancelled when cancelled.
LibResult computeLib(models::Transformer& model, const data::Dataset& dataset,
                     const LibOptions& options, Progress& progress = noProgress());

/// Every block's resid_pre and resid_mid, the last block's resid_post and "output": for a
/// one-layer model the paper's "before attention, before the MLP, before the unembedding,
/// output". The default of `analyze lib` and the desktop application.
std::vector<std::string> defaultLibNodeLayers(int nLayers);

/// The node-ablation schedule for n directions: every k below 10, then 16, 32, ... for base 2
/// (k grows by at least 1 and by the factor `base` otherwise), then n.
std::vector<std::int64_t> ablationSchedule(std::int64_t n, double base = 2.0);

}  // namespace cs::analysis
