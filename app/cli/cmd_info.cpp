// `info MODEL_DIR [--json]`: what a model is, its hook points, and this machine's GEMM speed.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "app/cli/commands.h"
#include "core/gemm_speed.h"
#include "core/threads.h"
#include "data/dtype.h"
#include "data/json_document.h"
#include "hooks/hook_point.h"
#include "models/loaders/checkpoint_files.h"

namespace cs::cli {

namespace {

std::string join(const std::vector<int>& values) {
  std::set<int> distinct(values.begin(), values.end());
  if (distinct.size() == 1) return std::to_string(*distinct.begin());
  std::string s;
  for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
  return s;
}

nlohmann::json describe(const std::string& folder, const models::Transformer& model,
                        const GemmSpeed& gemm) {
  const auto& c = model.config();
  std::set<std::string> storedDtypes;
  const auto files = models::CheckpointFiles::open(folder);
  for (const auto& name : files.names())
    storedDtypes.insert(data::dtypeDisplayName(files.entry(name).dtype));
  std::vector<std::string> hookNames;
  for (const auto& p : model.hookPoints()) hookNames.push_back(hooks::hookName(p));
  nlohmann::json j{
      {"folder", folder},
      {"family", c.family},
      {"model_type", c.modelType},
      {"n_layers", c.nLayers},
      {"n_heads", c.nHeads},
      {"n_kv_heads", c.nKvHeads},
      {"d_model", c.dModel},
      {"d_head", c.dHead},
      {"d_mlp", c.dMlp},
      {"norm", c.norm == models::NormKind::LayerNorm ? "layernorm"
               : c.norm == models::NormKind::RmsNorm ? "rmsnorm"
                                                     : "none"},
      {"positions", c.positions == models::PositionKind::Learned  ? "learned"
                    : c.positions == models::PositionKind::Rotary ? "rotary"
                                                                  : "none"},
      {"activation", models::activationName(c.activation)},
      {"gated_mlp", c.gatedMlp},
      {"tied_embeddings", c.tiedEmbeddings},
      {"parameters", model.weights().parameterCount()},
      {"stored_dtypes", storedDtypes},
      {"dtype", data::dtypeDisplayName(model.dtype())},
      {"device", model.device().str()},
      {"hook_points", hookNames},
      {"gemm_gflops", gemm.gflops},
      {"gemm_size", gemm.size},
      {"threads", gemm.threads},
  };
  // A model trained by `train` (the built-in ones) says how and how well.
  const auto manifest = std::filesystem::path(folder) / "manifest.json";
  if (std::filesystem::is_regular_file(manifest)) {
    const auto m = data::readJsonFile(manifest.string(), 1 << 20);
    nlohmann::json training;
    for (const char* key : {"recipe", "seed", "steps", "train_accuracy", "test_accuracy",
                            "test_dataset", "first_half_accuracy"}) {
      if (m.is_object() && m.contains(key)) training[key] = m[key];
    }
    j["training"] = training;
  }
  if (c.head == models::HeadKind::Classifier) {
    j["n_classes"] = c.nClasses;
    j["image_size"] = c.imageSize;
    j["patch_size"] = c.patchSize;
    j["n_channels"] = c.nChannels;
  } else {
    j["d_vocab"] = c.dVocab;
    j["n_ctx"] = c.nCtx;
  }
  return j;
}

void printText(const nlohmann::json& j, const models::Transformer& model) {
  const auto& c = model.config();
  std::cout << "model        " << j["folder"].get<std::string>() << "\n"
            << "family       " << c.family << " (model_type " << c.modelType << ")\n"
            << "layers       " << c.nLayers << "\n"
            << "heads        " << join(c.nHeads) << " query, " << join(c.nKvHeads)
            << " key/value, width " << c.dHead << "\n"
            << "d_model      " << c.dModel << "\n"
            << "d_mlp        " << join(c.dMlp) << (c.gatedMlp ? " (gated)" : "") << ", "
            << models::activationName(c.activation) << "\n";
  if (c.head == models::HeadKind::Classifier) {
    std::cout << "classes      " << c.nClasses << " (image " << c.imageSize << "x" << c.imageSize
              << ", patch " << c.patchSize << ", " << c.nChannels << " channels)\n";
  } else {
    std::cout << "vocabulary   " << c.dVocab << ", context " << c.nCtx << "\n";
  }
  std::string stored;
  for (const auto& d : j["stored_dtypes"])
    stored += (stored.empty() ? "" : ", ") + d.get<std::string>();
  if (j.contains("training")) {
    const auto& t = j["training"];
    auto shown = [&t](const char* key) -> std::string {
      if (!t.contains(key)) return "?";
      const auto& v = t[key];
      if (v.is_number_float()) {
        char text[32];
        std::snprintf(text, sizeof text, "%.4f", v.get<double>());
        return text;
      }
      return v.is_string() ? v.get<std::string>() : v.dump();
    };
    std::cout << "trained      recipe " << shown("recipe") << ", seed " << shown("seed") << ", "
              << shown("steps") << " steps; accuracy train " << shown("train_accuracy") << ", test "
              << shown("test_accuracy");
    if (t.contains("first_half_accuracy"))
      std::cout << " (unrepeated first half " << shown("first_half_accuracy") << ")";
    std::cout << "\n";
  }
  std::cout << "parameters   " << j["parameters"].get<int64_t>() << "\n"
            << "dtype        " << j["dtype"].get<std::string>() << " on "
            << j["device"].get<std::string>() << " (stored " << stored << ")\n";
  std::cout << "hook points  " << j["hook_points"].size() << ":";
  std::set<std::string> blockSuffixes;
  std::vector<std::string> blockOrder;
  for (const auto& name : j["hook_points"]) {
    const auto n = name.get<std::string>();
    const auto parsed = hooks::parseHookName(n);
    if (parsed && parsed->layer >= 0) {
      const auto suffix = n.substr(n.find('.', 7) + 1);
      if (blockSuffixes.insert(suffix).second) blockOrder.push_back(suffix);
    } else {
      std::cout << " " << n;
    }
  }
  std::cout << "\n";
  if (c.nLayers > 0) {
    std::cout << "  per block  blocks.{0.." << c.nLayers - 1 << "}.{";
    for (std::size_t i = 0; i < blockOrder.size(); ++i)
      std::cout << (i ? "," : "") << blockOrder[i];
    std::cout << "}\n";
  }
  std::cout << "matmul       " << std::fixed << std::setprecision(1)
            << j["gemm_gflops"].get<double>() << " GFLOP/s (" << j["gemm_size"].get<int>()
            << "^3 float32, " << j["threads"].get<int>() << " threads)\n";
}

}  // namespace

void addInfoCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("info", "describe a model folder and this machine's speed");
  auto folder = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  addModelFolderOption(cmd, *folder, "Hugging Face model folder")->required();
  cmd->add_flag("--json", *json, "print one JSON object");
  cmd->callback([&options, folder, json] {
    configureThreads(options.threads);
    auto model = loadModel(*folder, options);
    const auto gemm = measureGemmSpeed();
    const auto j = describe(*folder, *model, gemm);
    if (*json) {
      std::cout << j.dump(2) << "\n";
    } else {
      printText(j, *model);
    }
  });
}

}  // namespace cs::cli
