// Teaching presets: a guided demo read from resources/demos/*.json ("circuitscope-demo/1"): a
// model, then steps that each hold a text a teacher reads out and the actions the main window
// performs (load a model, set the input, mask, run an analysis, show a view). Files are untrusted
// input: everything is validated here, so the window only ever sees well-formed steps. Plain std
// types and nlohmann::json, no Qt and no libtorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cs::gui {

inline constexpr const char* kDemoFormat = "circuitscope-demo/1";

// Bounds on what a preset file may hold; a file beyond them is refused, not truncated.
inline constexpr std::size_t kDemoMaxFileBytes = 1 << 20;
inline constexpr int kDemoMaxSteps = 50;
inline constexpr int kDemoMaxActionsPerStep = 20;
inline constexpr std::size_t kDemoMaxTitleChars = 100;
inline constexpr std::size_t kDemoMaxSummaryChars = 600;
inline constexpr std::size_t kDemoMaxStepTextChars = 1500;
inline constexpr std::size_t kDemoMaxInputIds = 4096;
inline constexpr std::size_t kDemoMaxInputTextChars = 10000;
inline constexpr std::size_t kDemoMaxComponents = 4096;

enum class DemoActionKind { LoadModel, Input, Mask, UnmaskAll, Analysis, Show };
enum class DemoInputKind { Ids, Text, DatasetRow };
enum class DemoAnalysis {
  HeadAblation,
  Patching,
  Attention,
  IntegratedGradients,
  DirectLogitAttribution,
  Similarity,
  NeuronAblation,
};
enum class DemoView {
  Attention,
  HeadGrid,
  Metrics,
  Chart,
  TokenAttribution,
  ImageAttribution,
  Predictions,
};

/// A head (written LxHy) or an MLP neuron (LxNy) of one layer.
struct DemoComponent {
  int layer = 0;
  int index = 0;  ///< the head or the neuron within the layer
  bool operator==(const DemoComponent&) const = default;
};

/// One action of a step. Only the fields of its kind are set.
struct DemoAction {
  DemoActionKind kind = DemoActionKind::UnmaskAll;
  std::string source;  ///< LoadModel: builtin:NAME or a model folder
  DemoInputKind inputKind = DemoInputKind::Ids;
  std::vector<std::int64_t> ids;       ///< Input/Ids: token ids, each >= 0
  std::string text;                    ///< Input/Text: a prompt for models with a tokenizer
  std::int64_t datasetRow = 0;         ///< Input/DatasetRow: a row of the model's test set
  std::vector<DemoComponent> heads;    ///< Mask: heads to zero-ablate
  std::vector<DemoComponent> neurons;  ///< Mask: MLP neurons to zero-ablate
  DemoAnalysis analysis = DemoAnalysis::Attention;
  nlohmann::json options = nlohmann::json::object();  ///< Analysis: free-form, passed on
  DemoView view = DemoView::Metrics;
  int layer = -1;  ///< Show/Attention: the head's layer (-1 otherwise)
  int head = -1;   ///< Show/Attention: the head (-1 otherwise)
};

struct DemoStep {
  std::string title;
  std::string text;  ///< what the teacher reads out
  std::vector<DemoAction> actions;
};

struct DemoPreset {
  std::string origin;  ///< the file (or text) it was read from, for messages
  std::string id;      ///< lower-case letters, digits and '-'
  std::string title;
  std::string summary;
  std::string model;  ///< builtin:NAME or a model folder, loaded before the first step
  std::vector<DemoStep> steps;
};

/// Presets found in a folder, sorted by title, and one message per file that was skipped.
struct DemoCatalog {
  std::vector<DemoPreset> presets;
  std::vector<std::string> errors;
};

/// Parses and validates a preset. ConfigError naming `origin`, the step, the action and the field
/// for anything malformed: invalid JSON, another format, missing or mistyped fields, unknown
/// fields, "do" values, analyses or views, bad component names, negative ids, 0 or more than
/// kDemoMaxSteps steps, texts over their bounds.
DemoPreset parseDemoPreset(const std::string& jsonText, const std::string& origin);

/// Reads and parses one file: IoError when it cannot be read, ConfigError as parseDemoPreset.
DemoPreset loadDemoPreset(const std::filesystem::path& file);

/// Every *.json in `folder`; a broken file (or a second preset with the same id) is skipped and
/// reported in `errors`.
DemoCatalog listDemoPresets(const std::filesystem::path& folder);
/// The shipped presets: the "demos" folder of the resources (core/resources.h). A missing folder
/// is one error, not an exception.
DemoCatalog listDemoPresets();

/// The JSON names: "head-ablation", "attention" (view), "load_model", ...
const char* demoActionName(DemoActionKind kind);
const char* demoAnalysisName(DemoAnalysis analysis);
const char* demoViewName(DemoView view);
/// "L0H3" or "L1N12".
std::string demoComponentName(const DemoComponent& component, bool neuron);
/// One line for a log: "mask heads L0H0", "input ids 7, 42, 13", "show attention L1H0", ...
std::string describeDemoAction(const DemoAction& action);

}  // namespace cs::gui
