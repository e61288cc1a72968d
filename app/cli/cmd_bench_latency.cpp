// `bench-latency MODEL_DIR [--mask MASK.json] [--batch B] [--tokens T] [--device cpu|cuda]
// [--warmup N] [--runs N] [--json]`: forward latency on random inputs of the requested shape,
// for the full model and, with a mask, for the masked and the compacted model.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "analysis/latency.h"
#include "app/cli/commands.h"
#include "core/device.h"
#include "core/error.h"
#include "core/threads.h"
#include "hooks/mask_set.h"
#include "models/compaction.h"
#include "models/mask_application.h"
#include "models/mask_file.h"

namespace cs::cli {

namespace {

constexpr std::int64_t kDefaultTokens = 128;
constexpr int kMaxCount = 1'000'000;  // bounds the CLI's counts, for readable range errors

struct BenchLatencyArgs {
  std::string folder;
  std::string mask;
  std::string device;  // empty: the global --device
  std::int64_t batch = 1;
  std::int64_t tokens = 0;  // 0: kDefaultTokens, capped at the model's context
  int warmup = 3;
  int runs = 20;
  std::uint64_t seed = 0;
  bool json = false;
};

// The mask --mask names, checked against the loaded model (a mask made for another model is a
// ConfigError that says what differs). Mask files hold no means, so a mask with mean ablations
// cannot be timed here.
hooks::MaskSet loadBenchMasks(const std::string& path, const std::string& folder,
                              const models::Transformer& model, Progress& progress) {
  progress.setStage("fingerprinting the model");
  const auto fingerprint = models::fingerprintOfFolder(folder, progress);
  auto masks = models::loadMaskFile(path, fingerprint, model.config());
  if (masks.needsMeans()) {
    throw ConfigError("--mask " + path +
                      ": the mask mean-ablates some components, and bench-latency has no "
                      "reference dataset to take means from; time a zero-ablation mask instead");
  }
  return masks;
}

struct Row {
  std::string variant;  // "full", "masked", "compacted"
  analysis::LatencyResult result;
};

// Random token ids [B, T] (language models) or pixels [B, C, H, W] (image models), seeded.
models::ModelInput randomInput(const models::TransformerConfig& config, std::int64_t batch,
                               std::int64_t tokens, std::uint64_t seed) {
  torch::manual_seed(seed);
  models::ModelInput input;
  if (config.input == models::InputKind::Patches) {
    input.pixels = torch::randn({batch, config.nChannels, config.imageSize, config.imageSize});
  } else {
    input.tokens = torch::randint(config.dVocab, {batch, tokens}, torch::kLong);
  }
  return input;
}

double mib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::string peakNote(const std::string& kind) {
  if (kind == "rss") return "peak: the process's resident set (kernel high-water mark)";
  if (kind == "rss_sampled")
    return "peak: the process's resident set, sampled every 2 ms (the kernel refused to reset "
           "its high-water mark, so short peaks can be missed)";
  if (kind == "cuda_allocated") return "peak: bytes held by the CUDA caching allocator's tensors";
  return "peak: not available for this device in this libtorch build";
}

nlohmann::ordered_json rowJson(const Row& row) {
  const auto& r = row.result;
  return {{"variant", row.variant},
          {"median_ms", r.medianMs},
          {"p10_ms", r.p10Ms},
          {"p90_ms", r.p90Ms},
          {r.itemUnit + "_per_s", r.itemsPerSecond},
          {"peak_bytes", r.peakBytes},
          {"peak_mib", mib(r.peakBytes)},
          {"peak_kind", r.peakKind},
          {"parameters", r.parameters},
          {"gflops_per_example", r.flopsPerExample / 1e9}};
}

void printTable(const BenchLatencyArgs& args, const std::vector<Row>& rows, int threads,
                const std::string& missing) {
  const auto& first = rows.front().result;
  std::printf("bench-latency  %s on %s, %lld x %lld %s, %d warm-up + %d timed runs, %d threads\n",
              args.folder.c_str(), first.device.c_str(), static_cast<long long>(first.batch),
              static_cast<long long>(first.tokens),
              first.itemUnit == "images" ? "positions" : "tokens", args.warmup, args.runs, threads);
  const std::string rate = first.itemUnit + "/s";
  std::printf("%-10s %10s %10s %10s %12s %10s %12s %10s\n", "variant", "median ms", "p10 ms",
              "p90 ms", rate.c_str(), "peak MiB", "parameters", "GFLOPs/ex");
  for (const auto& row : rows) {
    const auto& r = row.result;
    std::printf("%-10s %10.3f %10.3f %10.3f %12.1f %10.1f %12lld %10.4f\n", row.variant.c_str(),
                r.medianMs, r.p10Ms, r.p90Ms, r.itemsPerSecond, mib(r.peakBytes),
                static_cast<long long>(r.parameters), r.flopsPerExample / 1e9);
  }
  if (!missing.empty()) std::printf("no compacted row: %s\n", missing.c_str());
  std::printf("%s\n", peakNote(first.peakKind).c_str());
}

void benchLatencyCommand(const BenchLatencyArgs& args, const GlobalOptions& global,
                         bool tokensGiven) {
  const int threads = configureThreads(global.threads);
  GlobalOptions options = global;
  if (!args.device.empty()) options.device = args.device;
  chooseDevice(options.device);  // a ConfigError that says so when CUDA is asked for but absent
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();

  std::int64_t tokens = 0;
  if (config.input == models::InputKind::Patches) {
    if (tokensGiven) {
      throw ConfigError("--tokens: " + args.folder +
                        " is an image model; its positions follow from the image size (" +
                        std::to_string(config.nPatches() + 1) + "), so drop --tokens");
    }
  } else {
    tokens = args.tokens > 0
                 ? args.tokens
                 : (config.nCtx > 0 ? std::min<std::int64_t>(kDefaultTokens, config.nCtx)
                                    : kDefaultTokens);
  }
  if (config.positions == models::PositionKind::Learned && config.nCtx > 0 &&
      tokens > config.nCtx) {
    throw ConfigError("--tokens " + std::to_string(tokens) + ": " + args.folder + " knows " +
                      std::to_string(config.nCtx) + " positions; ask for at most that many");
  }
  const auto input = randomInput(config, args.batch, tokens, args.seed);
  const analysis::LatencyOptions latency{args.warmup, args.runs};

  std::vector<Row> rows;
  std::string missing;
  Progress progress;
  {
    ProgressLine line(progress, options);
    std::optional<hooks::MaskSet> masks;
    if (!args.mask.empty()) masks = loadBenchMasks(args.mask, args.folder, *model, progress);
    rows.push_back({"full", analysis::measureLatency(*model, input, latency, progress)});
    if (masks) {
      {
        const models::AppliedMasks applied(*model, *masks);
        rows.push_back({"masked", analysis::measureLatency(*model, input, latency, progress)});
      }
      if (masks->onlyZeroAblations()) {
        auto compacted = models::compactModel(*model, *masks);
        // The full model goes first, so the compacted row's peak is the compacted model's.
        model.reset();
        rows.push_back(
            {"compacted", analysis::measureLatency(*compacted, input, latency, progress)});
      } else {
        missing =
            "the mask holds resample or scale ablations, and compaction can only remove what is "
            "zero-ablated";
      }
    }
  }

  if (args.json) {
    const auto& first = rows.front().result;
    nlohmann::ordered_json j;
    j["model"] = args.folder;
    j["device"] = first.device;
    j["batch"] = first.batch;
    j["tokens"] = first.tokens;
    j["item_unit"] = first.itemUnit;
    j["warmup"] = args.warmup;
    j["runs"] = first.runs;
    j["threads"] = threads;
    j["seed"] = args.seed;
    j["rows"] = nlohmann::ordered_json::array();
    for (const auto& row : rows) j["rows"].push_back(rowJson(row));
    if (!args.mask.empty()) j["mask"] = args.mask;
    if (!missing.empty()) j["compacted_missing"] = missing;
    std::cout << j.dump(2) << "\n";
    return;
  }
  printTable(args, rows, threads, missing);
}

}  // namespace

void addBenchLatencyCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand(
      "bench-latency", "forward latency, throughput and peak memory (full, masked, compacted)");
  auto args = std::make_shared<BenchLatencyArgs>();
  addModelFolderOption(cmd, args->folder, "Hugging Face model folder")->required();
  cmd->add_option("--mask", args->mask,
                  "mask file: adds the masked model and, for zero ablations, the compacted one");
  cmd->add_option("--batch", args->batch, "examples per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxCount));
  auto* tokens = cmd->add_option("--tokens", args->tokens,
                                 "positions per example for language models (default: 128, at "
                                 "most the model's context)")
                     ->check(CLI::Range(1, kMaxCount));
  cmd->add_option("--device", args->device, "cpu, cuda, cuda:N or auto (default: the global one)");
  cmd->add_option("--warmup", args->warmup, "untimed runs first")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxCount));
  cmd->add_option("--runs", args->runs, "timed runs")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxCount));
  cmd->add_option("--seed", args->seed, "seed of the random inputs")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback(
      [&options, args, tokens] { benchLatencyCommand(*args, options, tokens->count() > 0); });
}

}  // namespace cs::cli
