// Dispatch from config.json's model_type (or a family name) to its ArchDefinition.
#include <array>

#include "core/error.h"
#include "models/arch/arch.h"

namespace cs::models {

namespace {
std::array<const ArchDefinition*, 4> allArchs() {
  return {&gpt2Arch(), &llamaArch(), &vitArch(), &nativeArch()};
}
}  // namespace

std::string supportedModelTypes() {
  std::string s;
  for (const auto* arch : allArchs()) {
    for (const auto& type : arch->modelTypes) s += (s.empty() ? "" : ", ") + type;
  }
  return s;
}

const ArchDefinition& archForModelType(const std::string& modelType) {
  for (const auto* arch : allArchs()) {
    for (const auto& type : arch->modelTypes) {
      if (type == modelType) return *arch;
    }
  }
  throw ConfigError("model_type \"" + modelType +
                    "\" is not supported; supported: " + supportedModelTypes());
}

const ArchDefinition& archForFamily(const std::string& family) {
  for (const auto* arch : allArchs()) {
    if (arch->family == family) return *arch;
  }
  throw ConfigError("model family \"" + family + "\" is not known (gpt2, llama, vit)");
}

}  // namespace cs::models
