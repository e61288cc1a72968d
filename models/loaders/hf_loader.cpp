// Hugging Face folder loading: config -> architecture -> validated tensors -> canonical weights.
#include "models/loaders/hf_loader.h"

#include "core/torch_api.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/shape_text.h"
#include "data/json_document.h"
#include "models/arch/arch.h"
#include "models/loaders/checkpoint_files.h"

namespace cs::models {

namespace fs = std::filesystem;

namespace {
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

nlohmann::json readConfigJson(const fs::path& folder) {
  if (!fs::is_directory(folder)) {
    throw IoError(folder.string() + " is not a folder; point at a Hugging Face model folder");
  }
  auto j = data::readJsonFile((folder / "config.json").string(), kMaxConfigBytes);
  if (!j.is_object()) throw FormatError((folder / "config.json").string() + ": not a JSON object");
  return j;
}

const ArchDefinition& archOf(const nlohmann::json& j) {
  const auto it = j.find("model_type");
  if (it == j.end() || !it->is_string()) {
    throw ConfigError("config.json has no \"model_type\"; supported: " + supportedModelTypes());
  }
  return archForModelType(it->get<std::string>());
}
}  // namespace

TransformerConfig readHfConfig(const fs::path& folder) {
  try {
    const auto j = readConfigJson(folder);
    auto config = archOf(j).parseConfig(j);
    config.validate();
    return config;
  } catch (const Error&) {
    rethrowWithContext("loading " + folder.string());
  }
}

std::unique_ptr<Transformer> loadHfModel(const fs::path& folder, const LoadOptions& options,
                                         Progress& progress) {
  try {
    const auto j = readConfigJson(folder);
    const auto& arch = archOf(j);
    auto config = arch.parseConfig(j);
    config.validate();
    progress.setStage("reading checkpoint");
    const auto files = CheckpointFiles::open(folder);

    std::map<std::string, std::string> stored;  // spec name -> stored name
    for (const auto& name : files.names()) {
      if (arch.ignorable(name)) continue;
      stored[arch.normalizeName(name)] = name;
    }
    const auto specs = arch.tensorSpecs(config);
    std::map<std::string, const HfTensorSpec*> byName;
    for (const auto& spec : specs) byName[spec.name] = &spec;
    for (const auto& [name, original] : stored) {
      if (!byName.count(name)) {
        throw FormatError(files.fileOf(original) + ": unexpected tensor '" + original + "' for a " +
                          config.modelType + " model with this config.json (" +
                          std::to_string(config.nLayers) +
                          " layers); the checkpoint and config do not match");
      }
    }
    for (const auto& spec : specs) {
      const auto it = stored.find(spec.name);
      if (it == stored.end()) {
        if (spec.optional) continue;
        throw FormatError("checkpoint is missing tensor '" + spec.name + "' (expected " +
                          shapeText(spec.shape) + ")");
      }
      const auto& e = files.entry(it->second);
      if (e.shape != spec.shape) {
        throw ShapeError(files.fileOf(it->second) + ": tensor '" + it->second + "': expected " +
                         shapeText(spec.shape) + ", got " + shapeText(e.shape));
      }
      if (!at::isFloatingType(e.dtype)) {
        throw FormatError(files.fileOf(it->second) + ": tensor '" + it->second + "' has dtype " +
                          c10::toString(e.dtype) + "; weights must be F32, F16, BF16 or F64");
      }
    }

    progress.setStage("converting weights");
    std::size_t done = 0;
    const auto total = static_cast<double>(specs.size());
    const TensorGetter get = [&](const std::string& name) {
      progress.check();
      const auto it = stored.find(name);
      if (it == stored.end()) throw FormatError("checkpoint is missing tensor '" + name + "'");
      // tensor() is already a copy the model owns: later changes to the file cannot reach it.
      auto t = files.tensor(it->second).to(options.device, options.dtype);
      progress.setFraction(static_cast<double>(++done) / total);
      return t;
    };
    auto weights = arch.mapWeights(config, get);
    return std::make_unique<Transformer>(std::move(config), std::move(weights));
  } catch (const Error&) {
    rethrowWithContext("loading " + folder.string());
  } catch (const c10::Error& e) {
    throw Error("loading " + folder.string() + ": " + e.what_without_backtrace());
  }
}

}  // namespace cs::models
