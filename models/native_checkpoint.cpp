// Writes a Transformer as a circuitscope checkpoint folder. The tensors written are checked
// against the specs the loader will check (models/arch/native.cpp), so a folder that saves is a
// folder that loads.
#include "models/native_checkpoint.h"

#include "core/torch_api.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/shape_text.h"
#include "data/atomic_file.h"
#include "data/safetensors.h"
#include "models/arch/arch.h"

namespace cs::models {

namespace fs = std::filesystem;

namespace {

// float32 unless the model is float64 or a 16-bit float, which are kept as they are.
at::ScalarType storedType(at::ScalarType type) {
  switch (type) {
    case at::kDouble:
    case at::kHalf:
    case at::kBFloat16:
      return type;
    default:
      return at::kFloat;
  }
}

std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    default:
      return "float32";
  }
}

// The model's tensors in spec order, cast for storage; ShapeError when the weights and the
// config disagree on which tensors exist or their shapes.
std::vector<std::pair<std::string, at::Tensor>> tensorsToWrite(const Transformer& model) {
  const auto specs = nativeArch().tensorSpecs(model.config());
  std::map<std::string, at::Tensor> byName;
  for (auto& [name, t] : model.weights().namedTensors()) byName.emplace(name, t);
  const auto type = storedType(model.dtype());
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& spec : specs) {
    const auto it = byName.find(spec.name);
    if (it == byName.end()) {
      throw ShapeError("cannot export: the model has no tensor " + spec.name +
                       " although its configuration needs one");
    }
    if (it->second.sizes() != at::IntArrayRef(spec.shape)) {
      throw ShapeError("cannot export: tensor " + spec.name + " is " +
                       shapeText(it->second.sizes()) + ", its configuration says " +
                       shapeText(spec.shape));
    }
    out.emplace_back(spec.name, it->second.detach().to(at::kCPU, type));
    byName.erase(it);
  }
  if (!byName.empty()) {
    throw ShapeError("cannot export: tensor " + byName.begin()->first +
                     " is not part of a model with this configuration (e.g. a bias the "
                     "configuration does not declare)");
  }
  return out;
}

}  // namespace

void saveNativeCheckpoint(const Transformer& model, const fs::path& folder,
                          const nlohmann::json* provenance) {
  try {
    model.config().validate();
    at::NoGradGuard noGrad;
    const auto tensors = tensorsToWrite(model);
    auto config = nativeArch().configJson(model.config());
    config["torch_dtype"] = dtypeName(storedType(model.dtype()));
    if (provenance != nullptr && !provenance->is_null()) {
      config["circuitscope_provenance"] = *provenance;
    }
    // Replace invalid UTF-8 (from a provenance string) instead of failing after the weights.
    const auto text = config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw IoError("cannot create " + folder.string() + ": " + ec.message());
    data::writeSafetensors(folder / "model.safetensors", tensors,
                           {{"format", "pt"}, {"producer", "circuitscope"}});
    data::writeTextFileAtomically(folder / "config.json", text);
  } catch (const Error&) {
    rethrowWithContext("saving " + folder.string());
  }
}

}  // namespace cs::models
