// The window's Local Interaction Basis: computeLib on the first rows of the evaluation set with
// the command line's default node layers, of the model without interventions, its Gram matrices
// from those rows or from a recording. The checks here
// repeat the analysis' own so that the message can say what the user can do in the window.
#include "core/torch_api.h"

#include <algorithm>

#include "analysis/local_interaction_basis.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/store/store_layout.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

// ConfigError for rows the analysis cannot take: no targets, padding, or scored positions other
// than the last (the analysis reads one output position for every row).
void checkRows(const data::EvalBatch& batch, const std::string& described) {
  const std::string hint =
      ". Open a set of fixed-length rows with a target at the last position with File > Open "
      "dataset (e.g. modadd:p=113, or a .jsonl prompt file whose prompts have one length)";
  if (!batch.targets.defined()) {
    throw ConfigError(
        "the Local Interaction Basis needs an evaluation set with targets (class labels or a "
        "next-token target at the last position), and " +
        described + " scores every next token instead" + hint);
  }
  if (batch.attentionMask.defined() && batch.attentionMask.eq(0).any().item<bool>()) {
    throw ConfigError("the Local Interaction Basis needs rows of one length, and the rows of " +
                      described + " vary in length (they are padded)" + hint);
  }
  if (batch.scorePositions.defined() && batch.tokens.defined() &&
      batch.scorePositions.ne(batch.tokens.size(1) - 1).any().item<bool>()) {
    throw ConfigError("the Local Interaction Basis scores the last position of every row, and " +
                      described + " scores other positions (rows of different lengths)" + hint);
  }
}

}  // namespace

analysis::LibResult ModelSession::localInteractionBasis(std::int64_t rows, Progress& progress) {
  LibSettings settings;
  settings.rows = rows;
  return localInteractionBasis(settings, progress);
}

analysis::LibResult ModelSession::localInteractionBasis(const LibSettings& settings,
                                                        Progress& progress) {
  if (settings.rows <= 0) throw ConfigError("the Local Interaction Basis needs at least one row");
  if (!(settings.tau >= 0.0) || (settings.relativeTau && settings.tau >= 1.0)) {
    throw ConfigError(
        "the truncation tau must be at least 0 (and below 1 when it is relative to the largest "
        "eigenvalue)");
  }
  const auto& dataset = requireDataset();
  const auto used = std::min(settings.rows, dataset.size());
  progress.setStage("LIB: checking the evaluation rows");
  {
    torch::NoGradGuard noGrad;
    checkRows(dataset.batch(0, used), dataset.describe());
  }
  analysis::LibOptions options;
  options.nodeLayers = analysis::defaultLibNodeLayers(m_model->config().nLayers);
  options.limit = used;
  // One batch: the rows checked above are exactly the rows the analysis concatenates.
  options.batchSize = used;
  options.centre = settings.centre;
  options.tau = settings.tau;
  options.relativeTau = settings.relativeTau;
  options.edges = settings.edges;
  options.ablationCurves = settings.ablationCurves;
  if (!settings.gramRecording.empty()) {
    // The store is checked against this model's weights: their digest is its identity.
    options.gramRecording = analysis::LibGramRecording{settings.gramRecording, identity(progress)};
  }
  auto r = analysis::computeLib(*m_model, dataset, options, progress);
  // The dock shows spectra, edges and curves; the bases and Gram matrices ([n, n] per node layer)
  // would only travel to the GUI thread and sit there.
  // lambda keeps one entry per kept direction.
  for (auto& layer : r.layers) {
    layer.C.resize(0, 0);
    layer.Cplus.resize(0, 0);
    layer.gram.resize(0, 0);
    layer.jacobianGram.resize(0, 0);
  }
  return r;
}

}  // namespace cs::gui
