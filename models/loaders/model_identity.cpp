// Identity of a model folder for stores and reports.
#include "models/loaders/model_identity.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"
#include "models/loaders/checkpoint_files.h"
#include "models/loaders/hf_loader.h"

namespace cs::models {

data::ModelIdentity identifyModelFolder(const std::filesystem::path& folder, Progress& progress) {
  data::ModelIdentity identity;
  identity.family = readHfConfig(folder).family;
  std::ifstream config(folder / "config.json", std::ios::binary);
  std::stringstream text;
  text << config.rdbuf();
  identity.configJson = text.str();
  progress.setStage("computing the weights digest");
  identity.weightsSha256 = sha256OfFiles(CheckpointFiles::open(folder).paths(), progress);
  identity.sourceFolder = std::filesystem::absolute(folder).lexically_normal().string();
  return identity;
}

}  // namespace cs::models
