#include "analysis/path_patching_nodes.h"

#include <sstream>

#include "core/error.h"

namespace cs::analysis {

namespace {

std::string trimmed(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream s(text);
  for (std::string part; std::getline(s, part, separator);) parts.push_back(trimmed(part));
  return parts;
}

int parseIndex(const std::string& text, const std::string& whole, bool sender) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError(sender ? "senders: '" + whole + "' is not LAYER.HEAD or LAYER.mlp"
                           : "receivers: '" + whole +
                                 "' is not logits, LAYER.HEAD.q (or .k, .v, .qkv) or LAYER.mlp");
}

}  // namespace

// "0.1,0.2+0.3,1.mlp": sets separated by commas, the members of one set joined by '+'.
std::vector<std::vector<PathNode>> parsePathSenders(const std::string& text) {
  std::vector<std::vector<PathNode>> sets;
  const auto all = trimmed(text);
  if (all.empty() || all == "all") return sets;
  for (const auto& setText : split(all, ',')) {
    std::vector<PathNode> set;
    for (const auto& node : split(setText, '+')) {
      const auto parts = split(node, '.');
      if (parts.size() != 2) parseIndex("", node, true);
      const int layer = parseIndex(parts[0], node, true);
      set.push_back({layer, parts[1] == "mlp" ? -1 : parseIndex(parts[1], node, true)});
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

// "logits,1.0.k,1.0.q+1.1.q,1.mlp".
std::vector<std::vector<PathReceiver>> parsePathReceivers(const std::string& text) {
  std::vector<std::vector<PathReceiver>> groups;
  const auto all = trimmed(text);
  if (all.empty()) return groups;
  for (const auto& groupText : split(all, ',')) {
    std::vector<PathReceiver> group;
    for (const auto& r : split(groupText, '+')) {
      if (r == "logits") {
        group.push_back({});
        continue;
      }
      const auto parts = split(r, '.');
      if (parts.size() == 2 && parts[1] == "mlp") {
        group.push_back({ReceiverInput::Mlp, parseIndex(parts[0], r, false), -1});
        continue;
      }
      if (parts.size() != 3) parseIndex("", r, false);
      ReceiverInput input = ReceiverInput::QueryKeyValue;
      if (parts[2] == "q") {
        input = ReceiverInput::Query;
      } else if (parts[2] == "k") {
        input = ReceiverInput::Key;
      } else if (parts[2] == "v") {
        input = ReceiverInput::Value;
      } else if (parts[2] != "qkv") {
        parseIndex("", r, false);
      }
      group.push_back({input, parseIndex(parts[0], r, false), parseIndex(parts[1], r, false)});
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace cs::analysis
