// The sender sets and receiver groups of path patching (docs/analyses.md, "analyze
// path-patching") as the command line and the window write them.
#pragma once

#include <string>
#include <vector>

#include "analysis/path_patching.h"

namespace cs::analysis {

/// "0.1,0.2+0.3,1.mlp": sender sets separated by commas, the nodes of one set joined by '+'
/// (LAYER.HEAD or LAYER.mlp; spaces around them ignored). Empty or "all": no sets (every head
/// alone). ConfigError naming the node that is neither.
std::vector<std::vector<PathNode>> parsePathSenders(const std::string& text);

/// "logits,1.0.k,1.0.q+1.1.q,1.mlp": receiver groups separated by commas, the receivers of one
/// group joined by '+' (logits, LAYER.HEAD.q|k|v|qkv or LAYER.mlp). ConfigError naming the
/// receiver that is none of those.
std::vector<std::vector<PathReceiver>> parsePathReceivers(const std::string& text);

}  // namespace cs::analysis
