// Dataset specifications as users type them on the command line, e.g.
// "induction:rows=256,half=20,vocab=128,seed=0" or "modadd:p=113". See docs/datasets.md.
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"

namespace cs::data {

/// Builds the dataset a spec names; ConfigError naming the spec and the valid keys otherwise.
std::unique_ptr<Dataset> openDataset(const std::string& spec);

}  // namespace cs::data
