// What `demo` found, as plain data (std + Eigen + analysis result structs), and the writer that
// turns it into report.html with PNG figures drawn by the viewers library. No libtorch here: the
// report library links Qt and the viewers only.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/results/eval_result.h"
#include "analysis/results/head_ablation_result.h"
#include "analysis/results/latency_result.h"
#include "analysis/results/pruning_report.h"

namespace cs::report {

/// One built-in model evaluated on its recipe's test set.
struct ModelSummary {
  std::string name;
  std::string description;
  analysis::EvalResult eval;
  analysis::LatencyResult latency;
  double manifestTestAccuracy = 0.0;  ///< what the shipped manifest states
};

/// One single-head pruning experiment on the induction model.
struct HeadExperiment {
  std::string label;  ///< e.g. "head 1.2"
  int layer = 0;
  int head = 0;
  analysis::PruningReport pruning;  ///< full / masked / compacted
  std::string maskFile;             ///< file name inside the output folder
};

struct DemoReport {
  std::string toolVersion;
  std::string created;  ///< UTC time, ISO 8601
  int threads = 0;
  double seconds = 0.0;  ///< the whole demo

  // The activation store recorded from the induction model.
  std::string storeFile;  ///< file name inside the output folder
  std::string storeDataset;
  std::int64_t storeRows = 0;
  std::vector<std::string> storeHooks;
  double storeMegabytes = 0.0;

  std::vector<ModelSummary> models;

  analysis::HeadAblationResult headAblation;  ///< induction model, one head ablated at a time
  HeadExperiment hurtful;   ///< the head whose removal hurts induction accuracy most
  HeadExperiment harmless;  ///< a head whose removal does not

  /// Attention pattern [query, key] of an induction head (the last layer's head whose removal
  /// hurts most) on one repeated sequence, with the tokens as labels.
  int patternLayer = 0;
  int patternHead = 0;
  Eigen::MatrixXd pattern;
  std::vector<std::string> patternTokens;
};

/// Writes the figures (PNG) and report.html into `folder`; returns the files written (names
/// relative to the folder), report.html last.
std::vector<std::string> writeDemoReport(const DemoReport& report,
                                         const std::filesystem::path& folder);

}  // namespace cs::report
