// Dataset specifications as users type them on the command line, e.g.
// "induction:rows=256,half=20,vocab=128,seed=0" or "modadd:p=113". See docs/datasets.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace cs::data {

/// What some datasets need from the model they will be evaluated on.
struct DatasetContext {
  std::filesystem::path modelFolder;  ///< its tokenizer, for prompt sets and text corpora
  std::int64_t contextLength = 0;     ///< window length for text corpora
  int imageSize = 224;  ///< image side when the folder has no preprocessor_config.json
  std::vector<std::string> classLabels;  ///< id2label, for image folders
};

/// Builds the dataset a spec names: a generator ("induction:...", "modadd:...", "ioi:..."), a
/// shipped set ("digits-test"), a prompt file (.jsonl), a text corpus (.txt) or an image
/// folder (one subfolder per class). ConfigError
/// naming the spec and the valid forms otherwise.
std::unique_ptr<Dataset> openDataset(const std::string& spec, const DatasetContext& context = {});

}  // namespace cs::data
