// The main window: the model tree with its interventions, the token input with the top next
// tokens, the prune-and-patch panel (interventions, full / masked / compacted metrics, the
// accuracy-vs-latency chart), analyses shown in viewer docks, jobs and log. Every model call runs
// as a job; this class keeps state and shows results. Settings (geometry, dock layout, recent
// models, device) persist through QSettings.
#pragma once

#include <QHash>
#include <QMainWindow>
#include <QPointer>
#include <QStringList>
#include <QVariantMap>

#include <memory>
#include <optional>
#include <vector>

#include "app/gui/analysis_options_dialog.h"
#include "app/gui/demo_preset.h"
#include "app/gui/job_runner.h"
#include "app/gui/model_session.h"
#include "hooks/mask_set.h"

class QAction;
class QDockWidget;
class QLabel;
class QLineEdit;
class QMenu;
class QMessageBox;
class QPlainTextEdit;
class QSpinBox;
class QTimer;
class QTreeWidget;

namespace cs::viewers {
class HeadGridView;
class TokenAttributionView;
}  // namespace cs::viewers

namespace cs::gui {

class DemoPanel;
class InterventionStack;
class ModelTree;
class PrunePanel;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  /// Starts loading `model` (a folder or builtin:NAME) at once.
  explicit MainWindow(const QString& model = QStringLiteral("builtin:induction"),
                      QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Loads a model on a job; the current one stays in use until the new one is ready, and stays
  /// when loading fails.
  void openModel(const QString& folderOrBuiltin);
  /// Replaces the input (comma- or space-separated token ids) and recomputes the predictions.
  void setInputIds(const QString& text);
  /// Replaces the input by a text prompt (models whose folder has a tokenizer): its tokens
  /// become the ids.
  void setPrompt(const QString& text);
  /// Replaces the evaluation set (a dataset spec or a file); the old one stays on failure. Image
  /// models go back to its row 0.
  void openDataset(const QString& spec);
  /// Image models: makes row `row` of the evaluation set the current image, the one the Input
  /// panel shows with its top classes and every analysis of one example reads. A row outside
  /// the set is refused with an error; the current image stays then.
  void setImageRow(std::int64_t row);
  /// Image models: reads an image file (PNG, JPEG, binary PPM or PGM), preprocessed as the
  /// model's images are, as the current image. Errors (unreadable file, wrong size) are shown
  /// and the current image stays.
  void openImage(const QString& path);
  /// The current image as last shown (image models); unset before the first one arrives.
  const std::optional<ImageInput>& currentImage() const { return m_image; }
  /// Mask files and the pruned checkpoint, on jobs; errors go to the log and an error box.
  void exportMask(const QString& path);
  void importMask(const QString& path);
  void exportPruned(const QString& folder);
  /// Times the full, masked and compacted model and adds a point to the trade-off chart.
  void measurePruning();
  /// Shows every head of `layer` for the current input, `head` selected.
  void showAttention(int layer, int head);
  /// The accuracy drop of each head, as a layers x heads grid: click a head for its attention,
  /// Ctrl-click to mask or restore it.
  void runHeadAblation(const HeadAblationSettings& settings = {});
  /// Integrated gradients of the top prediction: tokens coloured by attribution (language
  /// models) or a pixel overlay on the current image (image models).
  void runIntegratedGradients(const IgSettings& settings = {});
  /// Per-layer importance bars and the drop curve; the residual-stream CKA heatmap.
  void runLayerImportance(const LayerImportanceSettings& settings = {});
  void runResidualCka(const CkaSettings& settings = {});
  /// Layer-wise relevance propagation of the top prediction (current input, or the current
  /// image): input relevance, the per-layer conservation chart, head and neuron relevance.
  /// `rules` unset: the model kind's default rules.
  void runRelevance(const std::optional<RelevanceRuleSettings>& rules = std::nullopt);
  /// Relevance over the evaluation set, then accuracy against the pruning rate (relevance,
  /// random and magnitude orders) of the model without interventions. A chosen point becomes
  /// the live mask with "Apply as mask" (one undoable step).
  void runRelevancePruning(PruneUnit unit, const RelevancePruningSettings& settings = {});
  /// The influential neuron path of the current input (or the current image): click a neuron
  /// to zero-ablate it, Shift-click to enhance it, click again to restore it.
  void runNeuronPath(const NeuronPathSettings& settings = {});
  /// The Local Interaction Basis of the model without interventions on the first `rows` rows of
  /// the evaluation set: the interaction graph with a threshold slider, the Lambda and Gram
  /// spectra, and the LIB-vs-PCA node-ablation curves, in the "libDock" dock.
  void runLocalInteractionBasis(std::int64_t rows = ModelSession::kLibRows);
  void runLocalInteractionBasis(const LibSettings& settings);
  /// Direct logit attribution of the top prediction (current input, or the current image):
  /// a head grid and per-layer bars (attention, MLP) in the "dlaDock" dock.
  void runLogitAttribution(const DlaSettings& settings = {});
  /// Activation patching of every head between the current input (clean) and
  /// `settings.corrupted`, as a head grid, and of the residual stream by layer and position,
  /// in the "patchingDock" dock. Language models only.
  void runHeadPatching(const PatchingSettings& settings);
  /// The per-head analyses of main_window_head_analyses.cpp, each in its own dock with head
  /// grids that open attention on click and mask on Ctrl-click. Head divergence of the current
  /// input (or image) against its "without" branch, with a button that adds the selected heads'
  /// reinforcement to the interventions ("divergenceDock").
  void runHeadDivergence(const DivergenceSettings& settings);
  /// Memory and context heads on a conflict examples file, with PH3 pruning's chosen heads
  /// offered as a mask ("memoryHeadsDock"). Language models only.
  void runMemoryHeads(const MemoryHeadSettings& settings);
  /// Attribution patching of every head between the current input and `settings.corrupted`
  /// ("attributionPatchingDock"). Language models only.
  void runAttributionPatching(const AttributionPatchingSettings& settings);
  /// Path patching S[sender, receiver] between the current input and `settings.corrupted`: a
  /// head grid of the senders per receiver group and the whole matrix ("pathPatchingDock").
  /// Language models only.
  void runPathPatching(const PathPatchingSettings& settings);

  /// Whether the Analyses menu asks for options first (on by default). Off, each entry runs
  /// with the remembered options (or the defaults), as the tests and scripted runs need.
  void setAskOptions(bool ask) { m_askOptions = ask; }
  bool asksOptions() const { return m_askOptions; }
  /// The options of `analysis`: from its dialog (nullopt when cancelled) or, without asking,
  /// the remembered values.
  std::optional<QVariantMap> askOptions(const QString& analysis, const QString& title,
                                        std::vector<OptionField> fields);
  /// Opens an HDF5 activation store in the activations browser (also one still being
  /// written: the browser refreshes every second). Errors go to an error box.
  void openRecording(const QString& path);
  /// Records the evaluation set into a new activation store as a job (File > Record
  /// activations); the finished store opens in the activations browser.
  void recordActivations(const RecordSettings& settings);
  /// Opens a teaching preset in the Demo panel and loads its model.
  void openDemo(const DemoPreset& preset);
  /// Carries out the actions of step `index` of the open preset, one after another.
  void runDemoStep(int index);
  /// Saves the figure of a viewer dock ("attentionDock", "headGridDock", "attributionDock",
  /// "layersDock", "ckaDock", "recordingDock", "relevanceDock", "pruningCurveDock",
  /// "neuronPathDock", "libDock", "dlaDock", "patchingDock") as PNG or SVG (by the file's
  /// extension), drawn as it is on screen. False, with an error shown, when there is no such figure
  /// or no file.
  bool exportFigure(const QString& dockName, const QString& path);
  /// CPU or CUDA ("cpu", "cuda"); reloads the model there.
  void setDevice(const QString& device);

  JobRunner& jobs() { return m_runner; }
  InterventionStack& interventions() { return *m_interventions; }
  PrunePanel& prunePanel() { return *m_prune; }
  bool hasModel() const { return m_session != nullptr; }
  /// Token ids from "1, 2, 3" or "1 2 3"; empty with `error` set when a piece is not an id or
  /// there is none.
  static std::vector<std::int64_t> parseTokenIds(const QString& text, QString& error);
  /// "1, 2, 3": ids as parseTokenIds reads them back.
  static QString tokenIdsText(const std::vector<std::int64_t>& ids);
  const hooks::MaskSet& masks() const;
  std::optional<double> baselineAccuracy() const;
  std::optional<double> maskedAccuracy() const;
  const std::vector<Prediction>& predictions() const { return m_predictions; }
  const QString& device() const { return m_device; }
  /// Whether live predictions and metrics stop at the first NaN or Inf (on by default; saved).
  bool checksNumerics() const { return m_checkNumerics; }
  void setCheckNumerics(bool on);
  QStringList recentModels() const;

 Q_SIGNALS:
  void modelLoaded();
  void modelLoadFailed(const QString& message);
  void predictionsUpdated();
  /// An image model's current image arrived in the Input panel (predictionsUpdated follows).
  void imageShown();
  void metricsUpdated();
  void pruningMeasured();
  void datasetOpened();
  void maskExported(const QString& path);
  void prunedExported(const QString& folder);
  void attentionShown(int layer);
  void headScoresShown();
  void attributionShown();
  void layerChartsShown();
  void ckaShown();
  void relevanceShown();
  void pruningCurveShown();
  void neuronPathShown();
  void libShown();
  void logitAttributionShown();
  void patchingShown();
  void headDivergenceShown();
  void memoryHeadsShown();
  void attributionPatchingShown();
  void pathPatchingShown();
  void recordingOpened(const QString& path);
  void demoStepFinished();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void buildDemoMenu();
  void continueDemo();
  void stopDemo();
  void buildPanels();
  void fillRecentMenu();
  void restoreSettings();
  void saveSettings() const;
  void rememberModel(const QString& source);
  void showModel();
  void onMasksChanged();
  void refreshPredictions();
  void refreshMetrics();
  /// The image input of the Input panel (main_window_image_input.cpp): its widgets, the File
  /// menu's Open image action, which widgets the model kind shows, and the current image.
  QWidget* buildImageInput();
  void addOpenImageAction(QMenu* file);
  void addRecordAction(QMenu* file);
  void askRecording();
  void showInputKind();
  void refreshImage();
  void showImage(ImageInput image);
  /// The input box's token ids; an error text instead when it does not parse.
  std::vector<std::int64_t> currentIds(QString& error) const;
  /// The ids an analysis of the current input takes (none for image models, which read the
  /// current image); false after
  /// showing the error when the input box does not parse.
  bool inputIdsForAnalysis(std::vector<std::int64_t>& ids);
  void markMaskedHeads();
  /// The relevance analyses' docks, built from their results (main_window_relevance.cpp).
  QWidget* relevancePanel(InputRelevance relevance);
  QWidget* pruningCurvePanel(RelevancePruningCurves curves);
  QWidget* neuronPathPanel(NeuronPathSummary path);
  /// The Local Interaction Basis dock, built from its result (main_window_lib.cpp).
  QWidget* libPanel(analysis::LibResult lib);
  /// The attribution docks (main_window_attribution.cpp).
  QWidget* logitAttributionPanel(LogitAttribution dla);
  QWidget* patchingPanel(HeadPatching patching);
  /// The Analyses menu (main_window_menus.cpp); each entry asks for its analysis' options, then
  /// runs it (the ask functions sit next to the run functions).
  void buildAnalysesMenu();
  void askHeadAblation();
  void askIntegratedGradients();
  void askLayerImportance();
  void askResidualCka();
  void askRelevance();
  void askRelevancePruning(PruneUnit unit);
  void askNeuronPath();
  void askLocalInteractionBasis();
  void askLogitAttribution();
  void askHeadPatching();
  /// The per-head analyses (main_window_head_analyses.cpp).
  void askHeadDivergence();
  void askMemoryHeads();
  void askAttributionPatching();
  void askPathPatching();
  /// The corrupted-input field of the patching dialog of `analysis` (`title` in messages),
  /// starting from the input remembered for it, else from activation patching's, else from the
  /// current input (a remembered input of another length is dropped); false after showing the
  /// error for an image model (`command`: the CLI command to use instead) or an input box that
  /// does not parse.
  bool corruptedField(const QString& analysis, const QString& title, const QString& command,
                      OptionField& field);
  /// The ids of the accepted corrupted-input field; false after showing the error when they do
  /// not parse.
  bool corruptedIds(const QVariantMap& values, std::vector<std::int64_t>& ids);
  QWidget* headDivergencePanel(HeadDivergence divergence);
  QWidget* memoryHeadsPanel(MemoryHeads heads);
  QWidget* attributionPatchingPanel(AttributionPatching patching);
  QWidget* pathPatchingPanel(PathPatching patching);
  /// Click: zero-ablate the neuron (again: restore it); Shift-click: scale it by `factor`.
  void toggleNeuron(int layer, std::int64_t neuron, bool enhance, double factor);
  void showChips();
  QDockWidget* viewerDock(const QString& name, const QString& title, QWidget* widget);
  void onJobStarted(int id, const QString& name);
  void onJobEnded(int id, JobState state, const QString& message);
  void log(const QString& line);
  void showError(const QString& message);
  QString askDataset();

  JobRunner m_runner;
  std::shared_ptr<ModelSession> m_session;
  InterventionStack* m_interventions = nullptr;
  std::optional<LiveMetrics> m_full;
  std::optional<LiveMetrics> m_masked;
  std::vector<Prediction> m_predictions;
  QString m_device = QStringLiteral("cpu");
  bool m_checkNumerics = true;
  QHash<int, QString> m_jobNames;
  int m_loadJob = 0;
  int m_predictJob = 0;
  int m_metricsJob = 0;
  int m_measureJob = 0;
  int m_viewJob = 0;
  int m_pruningJob = 0;  // its own id: a long curve is not cancelled by a quick view
  int m_libJob = 0;      // likewise for the Local Interaction Basis
  int m_imageJob = 0;    // choosing an image: never cancelled, so analyses after it read it

  ModelTree* m_tree = nullptr;
  PrunePanel* m_prune = nullptr;
  QLineEdit* m_promptEdit = nullptr;
  QLabel* m_promptLabel = nullptr;
  QLabel* m_idsLabel = nullptr;
  QLineEdit* m_idsEdit = nullptr;
  viewers::TokenAttributionView* m_chips = nullptr;
  QLabel* m_inputStatus = nullptr;
  QLabel* m_predictionTitle = nullptr;
  QTreeWidget* m_predictionList = nullptr;
  QWidget* m_imageInput = nullptr;
  QSpinBox* m_imageRowSpin = nullptr;
  QLabel* m_imageRows = nullptr;
  QLabel* m_imageView = nullptr;
  QLabel* m_imageCaption = nullptr;
  QAction* m_openImageAction = nullptr;
  std::optional<ImageInput> m_image;
  QLabel* m_metricsLabel = nullptr;
  QPlainTextEdit* m_log = nullptr;
  QTimer* m_inputDelay = nullptr;
  QTimer* m_measureDelay = nullptr;
  QMenu* m_recentMenu = nullptr;
  QPointer<QMessageBox> m_errorBox;
  QHash<QString, QDockWidget*> m_viewerDocks;
  QPointer<viewers::HeadGridView> m_headGrid;
  DemoPanel* m_demoPanel = nullptr;
  std::vector<DemoAction> m_demoQueue;
  QMetaObject::Connection m_demoWait;
  bool m_demoRunning = false;
  bool m_askOptions = true;
};

}  // namespace cs::gui
