// Locating and opening the safetensors files of a checkpoint folder.
#include "models/loaders/checkpoint_files.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "data/json_document.h"

namespace cs::models {

namespace fs = std::filesystem;

namespace {
constexpr std::uintmax_t kMaxIndexBytes = 64u << 20;

nlohmann::json readIndex(const fs::path& path) {
  return data::readJsonFile(path.string(), kMaxIndexBytes);
}

// A shard name must be a plain file name in the folder: no directories, no "..".
void checkShardName(const std::string& name, const fs::path& index) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name == "." || name == ".." || fs::path(name).extension() != ".safetensors") {
    throw FormatError(index.string() + ": shard name \"" + name +
                      "\" is not a .safetensors file name in the model folder");
  }
}
}  // namespace

CheckpointFiles CheckpointFiles::open(const fs::path& folder) {
  CheckpointFiles files;
  const auto single = folder / "model.safetensors";
  const auto index = folder / "model.safetensors.index.json";
  if (fs::exists(single)) {
    files.m_files.push_back(data::SafetensorsFile::open(single));
    for (const auto& e : files.m_files[0].entries()) files.m_where[e.name] = 0;
    return files;
  }
  if (fs::exists(index)) {
    const auto json = readIndex(index);
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object()) {
      throw FormatError(index.string() + ": no \"weight_map\" object");
    }
    std::map<std::string, std::size_t> shardIndex;
    std::map<std::string, std::string> claimed;  // tensor -> shard the index names
    for (const auto& [tensor, shard] : json["weight_map"].items()) {
      if (!shard.is_string())
        throw FormatError(index.string() + ": weight_map entry for '" + tensor +
                          "' is not a file name");
      const auto name = shard.get<std::string>();
      checkShardName(name, index);
      claimed[tensor] = name;
      if (!shardIndex.count(name)) {
        shardIndex[name] = files.m_files.size();
        files.m_files.push_back(data::SafetensorsFile::open(folder / name));
      }
    }
    for (const auto& [tensor, shard] : claimed) {
      const auto i = shardIndex[shard];
      if (!files.m_files[i].contains(tensor)) {
        throw FormatError(index.string() + ": says tensor '" + tensor + "' is in " + shard +
                          ", but that file does not hold it");
      }
    }
    for (std::size_t i = 0; i < files.m_files.size(); ++i) {
      for (const auto& e : files.m_files[i].entries()) {
        if (files.m_where.count(e.name)) {
          throw FormatError(folder.string() + ": tensor '" + e.name + "' is stored in two shards");
        }
        files.m_where[e.name] = i;
      }
    }
    return files;
  }
  for (const char* pickle :
       {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth"}) {
    if (fs::exists(folder / pickle)) {
      throw FormatError(
          folder.string() + " holds only " + pickle +
          ", a pickle checkpoint, which circuitscope never executes: convert it to "
          "safetensors (in Python: model.save_pretrained(dir, safe_serialization=True))");
    }
  }
  throw IoError(folder.string() +
                ": no model.safetensors or model.safetensors.index.json found; point at a Hugging "
                "Face model folder");
}

std::vector<std::string> CheckpointFiles::names() const {
  std::vector<std::string> out;
  out.reserve(m_where.size());
  for (const auto& [name, i] : m_where) out.push_back(name);
  return out;
}

const data::SafetensorsEntry& CheckpointFiles::entry(const std::string& name) const {
  const auto it = m_where.find(name);
  if (it == m_where.end()) throw FormatError("checkpoint has no tensor '" + name + "'");
  return m_files[it->second].entry(name);
}

at::Tensor CheckpointFiles::tensor(const std::string& name) const {
  const auto it = m_where.find(name);
  if (it == m_where.end()) throw FormatError("checkpoint has no tensor '" + name + "'");
  return m_files[it->second].tensor(name);
}

std::string CheckpointFiles::fileOf(const std::string& name) const {
  const auto it = m_where.find(name);
  return it == m_where.end() ? std::string() : m_files[it->second].path().filename().string();
}

std::vector<std::filesystem::path> CheckpointFiles::paths() const {
  std::vector<std::filesystem::path> out;
  for (const auto& file : m_files) out.push_back(file.path());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
  return out;
}

}  // namespace cs::models
