// The model side of the desktop application: one loaded model, its evaluation set, and the
// questions the panels ask of it (structure, top next tokens, accuracy under masks). Plain
// std types only, so that Qt files include it without libtorch. Every method but the accessors
// runs a model: call it from a job (app/gui/job_runner.h), never from the GUI thread.
#pragma once

#include <Eigen/Core>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/results/cka_result.h"
#include "analysis/results/head_divergence_result.h"
#include "analysis/results/layer_similarity_result.h"
#include "analysis/results/lib_result.h"
#include "analysis/results/memory_heads_result.h"
#include "analysis/results/patching_result.h"
#include "analysis/results/path_patching_result.h"
#include "analysis/results/relevance_pruning_result.h"
#include "core/progress.h"
#include "hooks/mask_set.h"

namespace cs::data {
class Dataset;
class Tokenizer;
struct ModelIdentity;
}  // namespace cs::data
namespace cs::models {
class Transformer;
struct ModelFingerprint;
struct ModelInput;
}  // namespace cs::models
namespace cs::analysis {
class AblationMeansCache;
struct EvalOptions;
}  // namespace cs::analysis
namespace cs::hooks {
struct AblationMeans;
}

namespace cs::gui {

struct HookInfo {
  std::string name;   ///< e.g. "blocks.0.attn.hook_z"
  std::string shape;  ///< e.g. "[batch, pos, 4, 16]"
};

struct BlockInfo {
  int layer = 0;
  int heads = 0;  ///< 0 when the attention sublayer is skipped
  int dHead = 0;
  int mlpWidth = 0;  ///< 0 when the block has no MLP (attention-only models)
  std::vector<HookInfo> hooks;
};

struct ModelSummary {
  std::string source;  ///< what the user asked for: a folder or builtin:NAME
  std::string family;
  int dModel = 0;
  int vocabulary = 0;  ///< 0 for classifiers
  int context = 0;
  std::vector<BlockInfo> blocks;
  std::vector<HookInfo> modelHooks;  ///< embeddings, final norm, logits
  std::string dataset;               ///< the evaluation set's description; empty without one
  std::string tokenizer;             ///< "none", or why there is none, or what was loaded
};

struct Prediction {
  std::int64_t token = 0;
  double probability = 0.0;
};

/// What the live panel shows after each change: the evaluation set's metrics.
struct LiveMetrics {
  double accuracy = 0.0;
  double loss = 0.0;  ///< mean cross-entropy, nats
  bool hasLogitDiff = false;
  double logitDiff = 0.0;  ///< mean logit[answer] - logit[foil] when the set has foils
  std::int64_t rows = 0;
  double seconds = 0.0;  ///< wall time of the evaluation
};

/// One row of the full / masked / compacted comparison.
struct VariantRow {
  std::string name;  ///< "full", "masked" or "compacted"
  bool present = true;
  std::string absentReason;
  LiveMetrics metrics;
  double latencyMs = 0.0;  ///< median over the timed runs, per batch
  std::int64_t peakBytes = 0;
  std::string peakKind;  ///< "rss", "rss_sampled", "cuda_allocated" or "unavailable"
  std::int64_t parameters = 0;
};

struct PruningTable {
  std::vector<VariantRow> rows;  ///< full, masked, compacted
  std::int64_t latencyBatch = 0;
  double compactedVsMaskedMaxDiff = 0.0;
};

/// Attention patterns of one layer for one input, for the attention viewer.
struct LayerAttention {
  int layer = 0;
  std::vector<std::string> tokens;     ///< one label per position
  std::vector<Eigen::MatrixXd> heads;  ///< [query, key] per head
};

/// Integrated gradients of the top prediction for the current input: a score per token
/// (language models) or per pixel of the current image (image models, ModelSession::imageInput).
struct InputAttribution {
  std::string title;  ///< what F is, and the completeness error
  std::vector<std::string> tokens;
  std::vector<double> tokenScores;
  int imageWidth = 0;
  int imageHeight = 0;
  std::vector<std::uint8_t> rgb;  ///< the image scaled to 0..255 for display, row-major RGB
  Eigen::MatrixXd pixelScores;    ///< [height, width]
};

/// A score per head (layers x max heads; NaN where a layer has fewer heads) for the head grid.
struct HeadScores {
  std::string title;
  std::string metric;  ///< what a cell holds, e.g. "accuracy drop"
  Eigen::MatrixXd values;
};

/// Layer-wise relevance propagation of the top prediction for the current input: the relevance
/// of every token (token and position embedding together) or of every pixel of the current
/// image, the conservation report and the relevance of every head and MLP neuron.
struct InputRelevance {
  std::string title;    ///< short, for the figures: what is explained
  std::string details;  ///< the target logit, the rules and the input total, for a caption
  std::string rules;    ///< e.g. "AttnLRP, epsilon"
  std::string target;   ///< e.g. "logit[17] at position 5 (token 17)"
  double targetLogit = 0.0;
  std::vector<std::string> tokens;
  std::vector<double> tokenScores;  ///< per position; they sum to inputTotal
  int imageWidth = 0;
  int imageHeight = 0;
  std::vector<std::uint8_t> rgb;  ///< as InputAttribution::rgb
  Eigen::MatrixXd pixelScores;    ///< [height, width], summed over channels
  /// Sum of relevance at h_0 .. h_L (blocks.l.hook_resid_pre, then the last resid_post), [L + 1].
  std::vector<double> residualTotals;
  double inputTotal = 0.0;  ///< embedding and position relevance together
  Eigen::MatrixXd heads;    ///< [L, max H], NaN where there is no head
  Eigen::MatrixXd neurons;  ///< [L, max d_ff], NaN where there is no neuron; 0 columns: no MLP
};

/// The image an image model's analyses of one example read (the Input panel shows it): a row of
/// the evaluation set (row 0 until another is chosen) or an image file, with the model's top
/// classes for it.
struct ImageInput {
  std::string source;     ///< e.g. "row 3 of digits 8x8 (test split): 360 images", or the file
  std::int64_t row = 0;   ///< the evaluation row; -1 for a file
  std::int64_t rows = 0;  ///< rows of the evaluation set; 0 without one
  std::string file;       ///< the opened file; empty for a row
  std::string label;      ///< the row's class label where the set has one, else empty
  int channels = 0;
  int imageWidth = 0;
  int imageHeight = 0;
  std::vector<float> pixels;            ///< [channels, height, width]: what the model reads
  std::vector<std::uint8_t> rgb;        ///< as InputAttribution::rgb
  int patchSize = 0;                    ///< the model's patches, in pixels
  std::vector<Prediction> predictions;  ///< the top classes, most likely first
  std::vector<std::string> classNames;  ///< the label of each prediction's class
};

enum class PruneUnit { Neurons, Heads };

/// Relevance-based pruning curves of the model without interventions: accuracy on the
/// evaluation slice against the pruning rate for the relevance, random and magnitude orders,
/// the relevance scores they were ranked by, and the mixed-precision table from the same pass.
struct RelevancePruningCurves {
  PruneUnit unit = PruneUnit::Neurons;
  std::string rules;
  std::string reference;  ///< the reference set and how many examples were used
  std::int64_t referenceExamples = 0;
  analysis::RelevancePruningResult result;  ///< curves: relevance first, then random, magnitude
  /// The relevance scores of `unit` ([L, max d_ff] or [L, max H], NaN: no component): what a
  /// curve point's mask is taken from (ModelSession::pruningMask).
  Eigen::MatrixXd scores;
  analysis::BitAllocation bits;  ///< levels 4, 6, 8 bits within a mean of 6
};

/// An influential neuron path for the current input, laid out for the neuron path viewer.
struct NeuronPathSummary {
  std::string title;          ///< short, for the figure: the path and its target
  std::string details;        ///< JAS of both paths and what removing or enhancing them does
  std::string target;         ///< e.g. "p[3] at the class token"
  std::int64_t position = 0;  ///< the position whose neurons were scored
  std::vector<int> layers;    ///< the path's layers (those with an MLP), ascending
  /// Per path layer, the candidate score of each of its neurons (the layer's width).
  std::vector<std::vector<double>> candidateScores;
  std::vector<std::vector<std::int64_t>> path;            ///< per layer, best first
  std::vector<std::vector<std::int64_t>> activationPath;  ///< the activation-argmax baseline
  double pathScore = 0.0;  ///< joint attribution score (JAS) of each path
  double activationPathScore = 0.0;
  double enhanceFactor = 2.0;
};

/// The options of the window's analyses (their dialogs, app/gui/main_window_menus.cpp). The
/// defaults are docs/analyses.md's; choices are the command line's names, checked where the
/// analysis runs (ConfigError for an unknown one).
struct IgSettings {
  std::string rule = "gauss-legendre";  ///< gauss-legendre, trapezoid or left-riemann
  int steps = 31;  ///< n (n + 1 points) for gauss-legendre and trapezoid, m for left-riemann
};

struct LayerImportanceSettings {
  std::int64_t rows = 256;      ///< calibration rows
  std::string target = "attn";  ///< what the bars rank and the curve drops: attn, block or mlp
  int dropN = 8;                ///< drop-curve points (clipped to what can be dropped)
};

struct CkaSettings {
  std::int64_t rows = 256;
};

struct HeadAblationSettings {
  bool mean = false;  ///< mean-ablate each head (means over the evaluation slice) instead of zero
};

/// Layer-wise relevance rules; ModelSession::defaultRelevanceRules gives the model kind's.
struct RelevanceRuleSettings {
  bool cpLrp = false;        ///< CP-LRP (attention pattern constant) instead of AttnLRP
  double epsilon = 1e-6;     ///< the gamma rule's stabiliser
  double gammaLinear = 0.0;  ///< the blocks' linear layers (and the unembedding)
  double gammaPatch = 0.0;   ///< image models' patch embedding
};

/// The reference set's defaults are enough for stable rankings (the known answer of
/// docs/analyses.md uses 10 per class) in a few seconds.
struct RelevancePruningSettings {
  std::int64_t perClass = 10;       ///< reference examples per class (class labels)
  std::int64_t referenceRows = 64;  ///< reference rows for next-token targets
  double rateStep = 0.05;           ///< rates 0, step, 2 step, ... up to maxRate
  double maxRate = 0.95;
  bool cpLrp = false;  ///< AttnLRP (the reference configuration) or CP-LRP
  bool randomBaseline = true;
  bool magnitudeBaseline = true;
};

struct NeuronPathSettings {
  int steps = 20;                         ///< left-Riemann points
  std::string scoring = "paper";          ///< paper or reference
  std::string objective = "probability";  ///< probability or logit
  int topK = 1;                           ///< neurons kept per layer
  double enhance = 2.0;                   ///< the enhance test's factor (and Shift-click's)
};

struct LibSettings {
  std::int64_t rows = 128;  ///< ModelSession::kLibRows
  bool centre = false;
  double tau = 1e-15;
  bool relativeTau = false;
  bool edges = true;
  bool ablationCurves = true;
  /// An activation store of this model (the node layers' hooks and hook_logits, all positions)
  /// to read the Gram matrices from; empty: from the rows.
  std::string gramRecording;
};

/// Recording the evaluation set's activations into an HDF5 activation store, as `record` does.
struct RecordSettings {
  std::string path;                ///< the store to write; an existing file is refused
  std::vector<std::string> hooks;  ///< hook name patterns, e.g. "blocks.*.hook_resid_post"
  std::string positions = "all";   ///< "all", "last" or "0,5,7"
  std::int64_t rows = 0;           ///< the evaluation set's first rows (0: all of them)
  bool float16 = false;            ///< store float16 instead of float32
  std::int64_t batchSize = 32;
};

struct RecordSummary {
  std::string path;
  std::int64_t rows = 0;  ///< examples in the store
  std::int64_t bytes = 0;
  double seconds = 0.0;
  std::vector<std::string> hooks;
};

/// Direct logit attribution of one input: along u = e_answer - e_foil (foil: the runner-up) or
/// u = e_answer alone.
struct DlaSettings {
  std::int64_t answer = -1;  ///< -1: the top prediction
  bool foil = true;          ///< subtract the runner-up's logit (else the answer's logit alone)
};

/// Activation patching of the current input (clean) against a corrupted input of equal length.
struct PatchingSettings {
  std::vector<std::int64_t> corrupted;
  bool noising = false;    ///< patch corrupted into clean (else clean into corrupted)
  bool byPosition = true;  ///< also patch the residual stream (resid_pre) by layer and position
};

/// Per head and per layer direct logit attribution of one input's top prediction.
struct LogitAttribution {
  std::string title;
  std::string direction;        ///< e.g. "logit[58] - logit[12]"
  double directionLogit = 0.0;  ///< u^T logits of the forward pass
  double constant = 0.0;        ///< u^T (W_U beta + b_U)
  double completenessError = 0.0;
  std::vector<std::string> paths;    ///< "embed", "attn 0", "mlp 0", ...
  std::vector<double> pathDla;       ///< per path; with the constant they sum to directionLogit
  Eigen::MatrixXd heads;             ///< [L, max H] DLA of each head; NaN where there is none
  std::vector<double> biasDla;       ///< [L] DLA of each attention output bias b_O
  std::vector<double> attentionDla;  ///< [L] per layer: attention sublayer
  std::vector<double> mlpDla;        ///< [L] per layer: MLP sublayer (0 without one)
};

/// Activation patching of every head (and, optionally, the residual stream by position).
struct HeadPatching {
  std::string title;
  std::string metric;     ///< e.g. "logit[58] - logit[12] at position 8"
  std::string direction;  ///< "denoising" or "noising"
  double cleanMetric = 0.0;
  double corruptedMetric = 0.0;
  bool scored = false;              ///< |M_c - M_r| >= 1e-8: the scores mean something
  Eigen::MatrixXd heads;            ///< [L, max H] scores; NaN where there is no head
  std::vector<std::string> tokens;  ///< the clean input's tokens
  Eigen::MatrixXd positions;        ///< [L, T] resid_pre scores; 0 rows when not asked for
};

/// Head divergence (docs/analyses.md, "analyze head-divergence") of the current input, or the
/// current image, against a "without" branch: the input minus positions [removeBegin,
/// removeEnd), or the replacement `without` (any length) when it is not empty; image models
/// compare with a blank image.
struct DivergenceSettings {
  std::vector<std::int64_t> without;
  std::int64_t removeBegin = 0;
  std::int64_t removeEnd = 0;
  std::string blank = "mean";  ///< image models: mean (each channel's own mean) or zero
  double alpha = 2.0;          ///< the reinforcement factor of the selected heads' z
  std::vector<int> layers;     ///< L_r; empty: 1 and the last ceil(7L/16)
  bool lockstep = true;
};

struct HeadDivergence {
  std::string title;
  std::string without;  ///< what the "without" branch is, in words
  analysis::HeadDivergenceResult result;
  hooks::MaskSet reinforcement;  ///< a scale entry (alpha) per selected head: the VHR mask
};

/// Memory vs context heads and PH3 pruning ("analyze memory-heads") on the conflict examples of
/// a JSON-lines file in the command line's format.
struct MemoryHeadSettings {
  std::string examples;           ///< the file
  std::string rankBy = "effect";  ///< effect or dla
  std::string mode = "context";   ///< context (prune memory heads) or memory
  bool filter = true;
  bool frozenNorm = false;
  std::vector<int> kGrid{1, 3, 5, 7, 9, 15};
  double findFraction = 0.5;  ///< of the examples without a split, the share that finds heads
  std::int64_t batchSize = 8;
};

struct MemoryHeads {
  std::string title;
  analysis::MemoryHeadResult result;
  hooks::MaskSet pruning;  ///< the chosen k heads, zero-ablated
};

/// Attribution patching ("analyze attribution-patching") of the current input (clean) against
/// a corrupted input of equal length.
struct AttributionPatchingSettings {
  std::vector<std::int64_t> corrupted;
  bool noising = false;
  bool byPosition = true;  ///< also the residual stream (resid_pre) by layer and position
  bool compare = false;    ///< also activation patching of every head, and their correlation
};

struct AttributionPatching {
  HeadPatching estimate;                    ///< the first-order estimate, as headPatching's
  Eigen::MatrixXd activationHeads;          ///< [L, max H] with `compare`; 0 rows otherwise
  analysis::PatchingComparison comparison;  ///< the estimate against activation patching
};

/// Path patching ("analyze path-patching") between the current input (clean) and a corrupted
/// input; senders and receivers in the command line's syntax.
struct PathPatchingSettings {
  std::vector<std::int64_t> corrupted;
  std::string senders;               ///< "0.1,0.2+0.3,1.mlp"; empty or "all": every head alone
  std::string receivers = "logits";  ///< "logits,1.0.k,1.0.q+1.1.q,1.mlp"
  bool throughMlps = false;
  bool frozenNorm = false;
  bool denoising = false;  ///< noising by default, as the algorithm is written
};

struct PathPatching {
  std::string title;
  std::vector<std::string> tokens;  ///< the clean input's tokens
  analysis::PathPatchingResult result;
  /// Per receiver group, S of every single-head sender as [L, max H] (NaN where no sender is
  /// that head alone); empty when no sender set is a single head.
  std::vector<Eigen::MatrixXd> headGrids;
};

class ModelSession {
 public:
  /// Loads a model folder or builtin:NAME with the loader the command line uses. A built-in
  /// model with a manifest also gets its test set (the first kEvalRows rows) for metrics.
  static std::unique_ptr<ModelSession> open(const std::string& folderOrBuiltin, Progress& progress,
                                            const std::string& device = "cpu");
  ~ModelSession();
  ModelSession(const ModelSession&) = delete;
  ModelSession& operator=(const ModelSession&) = delete;

  /// Whether this build's libtorch sees a CUDA device (the device menu asks before offering it).
  static bool cudaAvailable();

  /// Rows of the evaluation set the live metrics use (the whole set when it is smaller).
  static constexpr std::int64_t kEvalRows = 512;
  /// Rows of the evaluation set the Local Interaction Basis uses by default: tens of seconds on
  /// two cores for the built-in models.
  static constexpr std::int64_t kLibRows = 128;

  const ModelSummary& summary() const { return m_summary; }
  const std::string& device() const { return m_device; }
  bool hasDataset() const { return m_dataset != nullptr; }
  bool isLanguageModel() const;
  /// Whether the model reads images (patches) rather than tokens.
  bool isImageModel() const;
  /// How a token id reads: its text from the model's tokenizer, else the number.
  std::string tokenLabel(std::int64_t id) const;
  /// Whether the model folder has a tokenizer (prompts can then be typed as text).
  bool hasTokenizer() const { return m_tokenizer != nullptr; }
  /// The prompt's token ids (with the tokenizer's prefix token where it adds one). ConfigError
  /// without a tokenizer, FormatError for text that is not UTF-8. Cheap: no model runs.
  std::vector<std::int64_t> encode(const std::string& text) const;
  /// A token sequence worth showing first (part of the first evaluation row), or a short
  /// default when there is no dataset.
  const std::vector<std::int64_t>& exampleInput() const { return m_example; }

  /// Numeric health (models/numeric_health.h) for the live predictions and metrics: on, the
  /// first hook point that produces NaN or Inf stops the job with a NumericError naming it.
  /// On by default; may be switched from any thread (read when a job starts its forward).
  void setCheckNumerics(bool on) { m_checkNumerics = on; }
  bool checkNumerics() const { return m_checkNumerics; }

  /// The k most likely next tokens after `ids` with `masks` applied. ConfigError for ids out
  /// of the vocabulary, an empty or too long sequence, or a model that is not a language model.
  std::vector<Prediction> topPredictions(const std::vector<std::int64_t>& ids,
                                         const hooks::MaskSet& masks, int k, Progress& progress);

  /// Accuracy, loss and logit difference on the evaluation set (its first kEvalRows rows) with
  /// `masks` applied; mean ablations use means over the same rows, computed once and kept.
  LiveMetrics metrics(const hooks::MaskSet& masks, Progress& progress);

  /// Full, masked and compacted model side by side, each timed on a batch of `latencyBatch`
  /// rows. The compacted row is absent (with the reason) when the mask is not all zero
  /// ablations.
  PruningTable comparePruning(const hooks::MaskSet& masks, Progress& progress,
                              std::int64_t latencyBatch = 8);

  /// Image models: makes row `row` of the evaluation set the image every analysis of one
  /// example reads, and returns it with its top `k` classes, masks applied. ConfigError for a
  /// model that does not read images, without an evaluation set, or for a row outside it (the
  /// current image stays then).
  ImageInput chooseImageRow(std::int64_t row, const hooks::MaskSet& masks, int k,
                            Progress& progress);
  /// Image models: reads a PNG, JPEG or binary PPM/PGM file, preprocesses it as the model's
  /// images are (preprocessor_config.json for RGB models; for the one-channel digits models the
  /// digits set's 17 grey levels, a square image shrunk to the model's size), and makes it the
  /// current image. IoError, FormatError or ConfigError naming the file and what to do for a
  /// file that does not read or does not fit; the current image stays then.
  ImageInput openImageFile(const std::string& path, const hooks::MaskSet& masks, int k,
                           Progress& progress);
  /// The current image (row 0 until another is chosen) with its top `k` classes, masks applied.
  ImageInput imageInput(const hooks::MaskSet& masks, int k, Progress& progress);

  /// Replaces the evaluation set by the one `spec` names (a generator such as
  /// "induction:rows=256", a shipped set, a .jsonl prompt file, a text corpus or an image
  /// folder). ConfigError or IoError for a spec that does not open; the old set stays then.
  /// The current image becomes row 0 of the new set.
  void setDataset(const std::string& spec, Progress& progress);

  /// Mask files: written with this model's fingerprint, and checked against it when read
  /// (ConfigError naming what differs for a mask made for another model).
  void saveMask(const std::string& path, const hooks::MaskSet& masks, Progress& progress);
  hooks::MaskSet loadMask(const std::string& path, Progress& progress);
  /// Writes the compacted model (the masked heads and neurons removed) as a checkpoint folder
  /// that the loader opens. ConfigError when the mask holds more than zero ablations.
  void exportPruned(const std::string& folder, const hooks::MaskSet& masks, Progress& progress);

  /// Every head's attention pattern at `layer` for `ids` (language models) or for the current
  /// image (image models), masks applied.
  LayerAttention attention(const std::vector<std::int64_t>& ids, int layer,
                           const hooks::MaskSet& masks, Progress& progress);
  /// Integrated gradients (by default Gauss-Legendre, 31 intervals; the default baseline) of
  /// the top prediction for `ids` (language models) or the current image, masks applied.
  InputAttribution integratedGradients(const std::vector<std::int64_t>& ids,
                                       const hooks::MaskSet& masks, Progress& progress,
                                       const IgSettings& settings = {});
  /// Layer importance (1 - input/output cosine similarity of every block, attention and MLP
  /// sublayer) on `settings.rows` evaluation rows (256), and the drop curve: accuracy with the
  /// least important sublayers of `settings.target` (attention) skipped one after another (up
  /// to 8). Of the model without interventions.
  analysis::LayerSimilarityResult layerImportance(Progress& progress,
                                                  const LayerImportanceSettings& settings = {});
  /// Linear CKA between every pair of residual-stream points h_0..h_L over 256 evaluation rows
  /// (the last position of language models, the class token of image models).
  analysis::CkaResult residualCka(Progress& progress, const CkaSettings& settings = {});
  /// The accuracy drop on the evaluation set when each head alone is zero-ablated (or
  /// mean-ablated) on top of `masks`.
  HeadScores headAblation(const hooks::MaskSet& masks, Progress& progress,
                          const HeadAblationSettings& settings = {});
  /// Layer-wise relevance propagation of the top prediction for `ids` (language models) or the
  /// current image, masks applied; `rules` unset: the model kind's default rules.
  InputRelevance relevance(const std::vector<std::int64_t>& ids, const hooks::MaskSet& masks,
                           Progress& progress,
                           const std::optional<RelevanceRuleSettings>& rules = std::nullopt);
  /// The model kind's default relevance rules (AttnLRP and the epsilon rule for language models,
  /// CP-LRP with gamma for image models). Reads the configuration only: safe on any thread.
  RelevanceRuleSettings defaultRelevanceRules() const;
  /// Relevance over a reference set taken from the evaluation set (10 examples per class for
  /// class labels; the first 64 rows for next-token targets), then the pruning curves of `unit`
  /// on the evaluation slice (kEvalRows rows), of the model without interventions. ConfigError
  /// for a set without targets or a model without such components.
  RelevancePruningCurves relevancePruning(PruneUnit unit, Progress& progress,
                                          const RelevancePruningSettings& settings = {});
  /// The mask of one curve point: the floor(rate x total) least relevant components of
  /// `curves.scores`, zero-ablated. No model runs (safe on the GUI thread). ConfigError for a
  /// rate outside [0, 1].
  static hooks::MaskSet pruningMask(const RelevancePruningCurves& curves, double rate);
  /// The influential neuron path (one neuron per MLP layer, 20 Riemann points, paper scoring,
  /// target probability) for `ids` at its last token (language models) or the class token of
  /// the current image, masks applied. ConfigError for a model without MLPs.
  NeuronPathSummary neuronPath(const std::vector<std::int64_t>& ids, const hooks::MaskSet& masks,
                               Progress& progress, const NeuronPathSettings& settings = {});
  /// The Local Interaction Basis (analyze lib's default node layers: every block's resid_pre
  /// and resid_mid, the last resid_post, the output) on the first `rows` rows of the evaluation
  /// set, of the model without interventions: Lambda and the Gram spectrum per node layer, the
  /// edges and the LIB / PCA node-ablation curves. The bases and Gram matrices are left empty
  /// (lambda has one entry per kept direction). ConfigError for a set without targets or with
  /// rows of different lengths.
  analysis::LibResult localInteractionBasis(std::int64_t rows, Progress& progress);
  /// The same with the dialog's options (rows, centring, truncation, edges, curves).
  analysis::LibResult localInteractionBasis(const LibSettings& settings, Progress& progress);

  /// Records the evaluation set's activations at the hooks matching `settings.hooks` into a new
  /// activation store, of the model without interventions (the store names the checkpoint it
  /// came from). Cancelled: the finished batches stay in the store, which `record --resume`
  /// completes. ConfigError for no dataset, a pattern matching no hook or an existing file.
  RecordSummary recordActivations(const RecordSettings& settings, Progress& progress);
  /// Direct logit attribution (docs/analyses.md, "analyze dla") of the top prediction for `ids`
  /// (language models) or the current image, masks applied: per path, per head
  /// and per attention output bias, the paths and the constant adding up to u^T logits.
  LogitAttribution logitAttribution(const std::vector<std::int64_t>& ids,
                                    const hooks::MaskSet& masks, Progress& progress,
                                    const DlaSettings& settings = {});
  /// Activation patching of every head (hook_z, all positions) between `clean` and
  /// `settings.corrupted` (language models, equal lengths), masks applied to both runs. The
  /// metric is logit[answer] - logit[foil] at the last position: the answer the clean run's top
  /// prediction, the foil the corrupted run's (none when they agree). ConfigError for an image
  /// model or inputs of different lengths.
  HeadPatching headPatching(const std::vector<std::int64_t>& clean, const hooks::MaskSet& masks,
                            const PatchingSettings& settings, Progress& progress);

  /// The per-head analyses of app/gui/model_session_head_scores.cpp. Head divergence of `ids`
  /// (language models) or of the current image against a blank one, masks applied.
  HeadDivergence headDivergence(const std::vector<std::int64_t>& ids, const hooks::MaskSet& masks,
                                const DivergenceSettings& settings, Progress& progress);
  /// Memory and context heads of the model without interventions. ConfigError for a model that
  /// is not a language model, or naming the file and line of a bad example.
  MemoryHeads memoryHeads(const MemoryHeadSettings& settings, Progress& progress);
  /// Attribution patching of every head (and of resid_pre by position), with the metric
  /// headPatching uses, masks applied. ConfigError for an image model or unequal lengths.
  AttributionPatching attributionPatching(const std::vector<std::int64_t>& clean,
                                          const hooks::MaskSet& masks,
                                          const AttributionPatchingSettings& settings,
                                          Progress& progress);
  /// Path patching S[sender set, receiver group], with the metric headPatching uses, masks
  /// applied. ConfigError for an image model or senders and receivers that do not parse or
  /// that the model lacks.
  PathPatching pathPatching(const std::vector<std::int64_t>& clean, const hooks::MaskSet& masks,
                            const PathPatchingSettings& settings, Progress& progress);

 private:
  ModelSession();

  /// The checkpoint's identity (its weights' digest), computed once: stores and mask files are
  /// checked against it.
  const data::ModelIdentity& identity(Progress& progress);
  const models::ModelFingerprint& fingerprint(Progress& progress);
  const data::Dataset& requireDataset() const;
  analysis::EvalOptions evalOptions() const;
  /// Means over the evaluation slice when `masks` has mean ablations, else null.
  const hooks::AblationMeans* meansFor(const hooks::MaskSet& masks, Progress& progress);
  /// ConfigError for ids this language model cannot take (out of the vocabulary, too many).
  void checkIds(const std::vector<std::int64_t>& ids) const;
  /// The clean and corrupted token inputs of a patching analysis (`analysis`, its command
  /// `command`): a language model, both inputs valid ids, the corrupted one given; with
  /// `sameLength`, of the input's length. ConfigError saying what to do otherwise.
  void checkPatchingPair(const std::vector<std::int64_t>& clean,
                         const std::vector<std::int64_t>& corrupted, const std::string& analysis,
                         const std::string& command, bool sameLength) const;
  /// The input an analysis of one example reads: `ids` (checked) for language models, the
  /// current image for image models.
  models::ModelInput singleInput(const std::vector<std::int64_t>& ids) const;
  /// The current image as the model reads it: pixels [1, C, H, W].
  models::ModelInput currentImage() const;
  /// How the analyses' titles name the current image, e.g. "row 3" or "digit.png".
  std::string imageName() const;
  /// The pixels of `input` ([1, C, H, W]) scaled to 0..255 for display, row-major RGB.
  static void displayImage(const models::ModelInput& input, int& width, int& height,
                           std::vector<std::uint8_t>& rgb);
  /// `input` with its top `k` classes, masks applied; the caller fills in where it came from.
  ImageInput describeImage(const models::ModelInput& input, const hooks::MaskSet& masks, int k,
                           Progress& progress);

  std::unique_ptr<models::Transformer> m_model;
  std::unique_ptr<data::Tokenizer> m_tokenizer;
  std::unique_ptr<data::Dataset> m_dataset;
  std::string m_datasetSpec;
  std::string m_folder;  ///< the resolved model folder
  std::string m_device;
  ModelSummary m_summary;
  std::vector<std::int64_t> m_example;
  /// The current image: row m_imageRow of the evaluation set, or, when m_imageFile is set, that
  /// file's preprocessed pixels [C, H, W]. Read and written by jobs only (one at a time).
  std::int64_t m_imageRow = 0;
  std::string m_imageFile;
  std::vector<float> m_imagePixels;
  std::unique_ptr<analysis::AblationMeansCache> m_means;
  std::unique_ptr<data::ModelIdentity> m_identity;
  std::unique_ptr<models::ModelFingerprint> m_fingerprint;
  std::atomic<bool> m_checkNumerics{true};
};

}  // namespace cs::gui
