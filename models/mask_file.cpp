// Mask documents: writing (keys in a fixed, readable order, one entry per line), strict parsing
// of untrusted input, and the comparison with the loaded model. docs/masks.md is the schema.
#include "models/mask_file.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/sha256.h"
#include "data/atomic_file.h"
#include "data/json_document.h"
#include "data/store/store_documents.h"
#include "hooks/hook_point.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "models/mask_application.h"

namespace cs::models {

using hooks::AblationMode;
using hooks::HookKind;
using hooks::MaskComponent;
using hooks::MaskEntry;
using nlohmann::json;

namespace {

// Deep enough for the schema (root -> entries -> entry), far from any stack limit.
constexpr int kMaxDepth = 8;
constexpr std::int64_t kMaxLayers = 1 << 16;
constexpr std::int64_t kMaxWidth = std::int64_t{1} << 30;

// ---- writing -------------------------------------------------------------------------------

json hashOrNull(const std::string& digest) { return digest.empty() ? json(nullptr) : json(digest); }

nlohmann::ordered_json modelToJson(const ModelFingerprint& m) {
  nlohmann::ordered_json j;
  j["family"] = m.family;
  j["model_type"] = m.modelType;
  j["config_sha256"] = hashOrNull(m.configSha256);
  j["weights_sha256"] = hashOrNull(m.weightsSha256);
  j["n_layers"] = m.nLayers;
  j["n_heads"] = m.nHeads;
  j["d_mlp"] = m.dMlp;
  return j;
}

void checkExportable(const MaskEntry& e) {
  const auto what = "cannot save mask entry " + hooks::describeTarget(e);
  if (e.layer < 0) throw ConfigError(what + ": the layer is negative");
  if (hooks::componentHasIndex(e.component) ? e.index < 0 : e.index != -1)
    throw ConfigError(what + (e.index < 0 ? ": the index is missing" : ": it takes no index"));
  if (e.mode == AblationMode::Scale && !std::isfinite(e.value))
    throw ConfigError(what + ": the scale factor is not a finite number");
}

nlohmann::ordered_json entryToJson(const MaskEntry& e, const std::string& family) {
  nlohmann::ordered_json j;
  j["component"] = std::string(hooks::componentName(e.component));
  j["layer"] = e.layer;
  if (hooks::componentHasIndex(e.component)) j["index"] = e.index;
  j["mode"] = std::string(hooks::modeName(e.mode));
  if (e.mode == AblationMode::Scale) j["value"] = e.value;
  j["hook"] = maskHookName(e);
  const auto module = hfModulePath(family, e);
  j["hf_module"] = module ? json(*module) : json(nullptr);
  return j;
}

// One value on one line, with a space after each ':' and ','.
std::string inlineText(const nlohmann::ordered_json& value) {
  std::string text;
  if (value.is_array()) {
    for (const auto& v : value) text += (text.empty() ? "" : ", ") + inlineText(v);
    return "[" + text + "]";
  }
  if (value.is_object()) {
    for (const auto& [k, v] : value.items())
      text += (text.empty() ? "" : ", ") + nlohmann::ordered_json(k).dump() + ": " + inlineText(v);
    return "{" + text + "}";
  }
  return value.dump();
}

// The file's text: one line per key of the document and of "model", one line per entry, so that a
// mask of thousands of neurons stays readable and diffs line by line. Layout is not part of the
// format.
std::string maskText(const hooks::MaskSet& masks, const ModelFingerprint& model,
                     const std::string& description) {
  const auto document = maskToJson(masks, model, description);
  // Members of an object or array, one per line at `indent`.
  auto lines = [](const nlohmann::ordered_json& container, const std::string& indent) {
    std::string text;
    for (auto it = container.begin(); it != container.end(); ++it) {
      text += text.empty() ? "\n" : ",\n";
      text += indent;
      if (container.is_object()) text += nlohmann::ordered_json(it.key()).dump() + ": ";
      text += inlineText(it.value());
    }
    return text.empty() ? text : text + "\n";
  };
  std::string text;
  for (const auto& [key, value] : document.items()) {
    text += text.empty() ? "{\n" : ",\n";
    text += "  " + nlohmann::ordered_json(key).dump() + ": ";
    if (key == "model") {
      text += "{" + lines(value, "    ") + "  }";
    } else if (key == "entries") {
      text += value.empty() ? "[]" : "[" + lines(value, "    ") + "  ]";
    } else {
      text += inlineText(value);
    }
  }
  return text + "\n}\n";
}

// ---- parsing -------------------------------------------------------------------------------

// Collects the context of one document for messages: "<where>: <field> ...".
struct Reader {
  std::string where;

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw FormatError(where + ": " + field + " " + problem);
  }

  const json& require(const json& object, const std::string& key, const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end()) fail(field, "is missing");
    return *it;
  }

  void onlyKeys(const json& object, const std::set<std::string>& allowed,
                const std::string& field) const {
    for (const auto& [key, value] : object.items()) {
      if (allowed.count(key)) continue;
      std::string list;
      for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + k;
      const auto name = key.size() > 40 ? key.substr(0, 37) + "..." : key;
      fail(field.empty() ? "key \"" + name + "\"" : field + "." + name,
           "is not part of the mask format (allowed here: " + list + ")");
    }
  }

  std::string string(const json& value, const std::string& field) const {
    if (!value.is_string()) fail(field, "must be a string, got " + data::describeJsonValue(value));
    return value.get<std::string>();
  }

  std::int64_t integer(const json& value, const std::string& field, std::int64_t lo,
                       std::int64_t hi) const {
    if (!value.is_number_integer())
      fail(field, "must be an integer, got " + data::describeJsonValue(value));
    std::optional<std::int64_t> v;
    if (value.is_number_unsigned()) {
      const auto u = value.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        v = static_cast<std::int64_t>(u);
    } else {
      v = value.get<std::int64_t>();
    }
    if (!v || *v < lo || *v > hi)
      fail(field, "is " + data::describeJsonValue(value) + ", out of range (" + std::to_string(lo) +
                      " to " + std::to_string(hi) + ")");
    return *v;
  }

  // A hex SHA-256 digest or null (null: not checked on import).
  std::string digest(const json& value, const std::string& field) const {
    if (value.is_null()) return "";
    const auto text = string(value, field);
    const bool hex =
        text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex)
      fail(field,
           "must be 64 lower-case hex digits or null, got " + data::describeJsonValue(value));
    return text;
  }

  std::vector<int> perLayer(const json& value, const std::string& field, std::int64_t layers,
                            std::int64_t hi) const {
    if (!value.is_array())
      fail(field, "must be an array of integers, got " + data::describeJsonValue(value));
    if (static_cast<std::int64_t>(value.size()) != layers)
      fail(field, "has " + std::to_string(value.size()) + " values; n_layers is " +
                      std::to_string(layers));
    std::vector<int> out;
    for (std::size_t i = 0; i < value.size(); ++i)
      out.push_back(
          static_cast<int>(integer(value[i], field + "[" + std::to_string(i) + "]", 0, hi)));
    return out;
  }
};

ModelFingerprint parseModel(const Reader& r, const json& j) {
  const std::string f = "model";
  if (!j.is_object()) r.fail(f, "must be an object, got " + data::describeJsonValue(j));
  r.onlyKeys(
      j,
      {"family", "model_type", "config_sha256", "weights_sha256", "n_layers", "n_heads", "d_mlp"},
      f);
  ModelFingerprint m;
  m.family = r.string(r.require(j, "family", f + ".family"), f + ".family");
  if (m.family.empty() || m.family.size() > 64)
    r.fail(f + ".family",
           "must be 1 to 64 characters, got " + data::describeJsonValue(j.at("family")));
  m.modelType = r.string(r.require(j, "model_type", f + ".model_type"), f + ".model_type");
  if (m.modelType.size() > 64)
    r.fail(f + ".model_type",
           "must be at most 64 characters, got " + data::describeJsonValue(j.at("model_type")));
  m.configSha256 =
      r.digest(r.require(j, "config_sha256", f + ".config_sha256"), f + ".config_sha256");
  m.weightsSha256 =
      r.digest(r.require(j, "weights_sha256", f + ".weights_sha256"), f + ".weights_sha256");
  m.nLayers = static_cast<int>(
      r.integer(r.require(j, "n_layers", f + ".n_layers"), f + ".n_layers", 1, kMaxLayers));
  m.nHeads =
      r.perLayer(r.require(j, "n_heads", f + ".n_heads"), f + ".n_heads", m.nLayers, kMaxWidth);
  m.dMlp = r.perLayer(r.require(j, "d_mlp", f + ".d_mlp"), f + ".d_mlp", m.nLayers, kMaxWidth);
  return m;
}

MaskEntry parseEntry(const Reader& r, const json& j, const std::string& f,
                     const ModelFingerprint& model) {
  if (!j.is_object()) r.fail(f, "must be an object, got " + data::describeJsonValue(j));
  r.onlyKeys(j, {"component", "layer", "index", "mode", "value", "hook", "hf_module"}, f);
  MaskEntry e;
  const auto componentText =
      r.string(r.require(j, "component", f + ".component"), f + ".component");
  const auto component = hooks::parseComponent(componentText);
  if (!component)
    r.fail(f + ".component", data::describeJsonValue(j.at("component")) +
                                 " is not one of head, neuron, attn, mlp, block");
  e.component = *component;
  e.layer =
      static_cast<int>(r.integer(r.require(j, "layer", f + ".layer"), f + ".layer", 0, kMaxLayers));
  if (e.layer >= model.nLayers)
    r.fail(f + ".layer", "is " + std::to_string(e.layer) + " but the model has layers 0 to " +
                             std::to_string(model.nLayers - 1));
  const bool hasIndex = j.contains("index");
  if (hooks::componentHasIndex(e.component)) {
    if (!hasIndex) r.fail(f + ".index", "is missing (a " + componentText + " needs one)");
    e.index = static_cast<int>(r.integer(j.at("index"), f + ".index", 0, kMaxWidth));
    const bool head = e.component == MaskComponent::Head;
    const int n = head ? model.nHeads[e.layer] : model.dMlp[e.layer];
    if (e.index >= n)
      r.fail(f + ".index", "is " + std::to_string(e.index) + " but layer " +
                               std::to_string(e.layer) + " of the model has " + std::to_string(n) +
                               (head ? " heads" : " MLP neurons"));
  } else if (hasIndex) {
    r.fail(f + ".index", "is not allowed: a " + componentText + " entry takes no index");
  }
  const auto modeText = r.string(r.require(j, "mode", f + ".mode"), f + ".mode");
  const auto mode = hooks::parseMode(modeText);
  if (!mode)
    r.fail(f + ".mode",
           data::describeJsonValue(j.at("mode")) + " is not one of zero, mean, resample, scale");
  e.mode = *mode;
  if (e.mode == AblationMode::Scale) {
    const auto& value = r.require(j, "value", f + ".value");
    if (!value.is_number() || !std::isfinite(value.get<double>()))
      r.fail(f + ".value", "must be a finite number, got " + data::describeJsonValue(value));
    e.value = value.get<double>();
  } else if (j.contains("value")) {
    r.fail(f + ".value", "is only allowed with mode \"scale\"");
  }
  // hook and hf_module are informative, but a hand edit that changes one and not the other
  // fields would make the file say two things; refuse it.
  if (const auto it = j.find("hook"); it != j.end()) {
    const auto hook = r.string(*it, f + ".hook");
    if (hook != maskHookName(e))
      r.fail(f + ".hook", "is " + data::describeJsonValue(*it) + " but a " +
                              hooks::describeTarget(e) + " acts on \"" + maskHookName(e) +
                              "\"; fix one of them");
  }
  if (const auto it = j.find("hf_module"); it != j.end() && !it->is_null()) {
    const auto module = r.string(*it, f + ".hf_module");
    const auto expected = hfModulePath(model.family, e);
    if (!expected)
      r.fail(f + ".hf_module",
             "must be null: family \"" + model.family + "\" has no Hugging Face module names");
    if (module != *expected)
      r.fail(f + ".hf_module", "is " + data::describeJsonValue(*it) + " but a " +
                                   hooks::describeTarget(e) + " of a " + model.family +
                                   " model is \"" + *expected + "\"; fix one of them");
  }
  return e;
}

std::string shortDigest(const std::string& digest) { return digest.substr(0, 12) + "…"; }

std::string listText(const std::vector<int>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i)
    text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

}  // namespace

// ---- fingerprints and names ------------------------------------------------------------------

ModelFingerprint fingerprintOf(const TransformerConfig& config,
                               const data::ModelIdentity& identity) {
  ModelFingerprint f;
  f.family = config.family;
  f.modelType = config.modelType;
  if (!identity.configJson.empty()) {
    const auto parsed = data::parseJsonDocument(identity.configJson, "config.json");
    // dump() writes objects with sorted keys and no spaces: one text per parsed document.
    f.configSha256 = sha256OfBytes(parsed.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  f.weightsSha256 = identity.weightsSha256;
  f.nLayers = config.nLayers;
  f.nHeads = config.nHeads;
  f.dMlp = config.dMlp;
  return f;
}

ModelFingerprint fingerprintOfFolder(const std::filesystem::path& folder, Progress& progress) {
  return fingerprintOf(readHfConfig(folder), identifyModelFolder(folder, progress));
}

std::string maskHookName(const MaskEntry& entry) {
  switch (entry.component) {
    case MaskComponent::Head:
      return hooks::hookName(HookKind::Z, entry.layer);
    case MaskComponent::Neuron:
      return hooks::hookName(HookKind::MlpPost, entry.layer);
    case MaskComponent::AttnSublayer:
      return hooks::hookName(HookKind::AttnOut, entry.layer);
    case MaskComponent::MlpSublayer:
      return hooks::hookName(HookKind::MlpOut, entry.layer);
    case MaskComponent::Block:
      return hooks::hookName(HookKind::ResidPost, entry.layer);
  }
  throw ConfigError("unknown mask component");
}

std::optional<std::string> hfModulePath(const std::string& family, const MaskEntry& entry) {
  // {layer prefix, head, neuron, attn, mlp} per family; a block is the layer prefix itself.
  struct Names {
    const char *prefix, *head, *neuron, *attn, *mlp;
  };
  static const std::map<std::string, Names> kNames{
      {"gpt2", {"transformer.h.", "attn.c_proj", "mlp.c_proj", "attn", "mlp"}},
      {"llama", {"model.layers.", "self_attn.o_proj", "mlp.down_proj", "self_attn", "mlp"}},
      // ViTOutput adds the residual itself, so the MLP's own output is that of output.dense.
      {"vit",
       {"vit.encoder.layer.", "attention.output.dense", "output.dense", "attention",
        "output.dense"}},
  };
  const auto it = kNames.find(family);
  if (it == kNames.end()) return std::nullopt;
  const auto& n = it->second;
  const auto block = n.prefix + std::to_string(entry.layer);
  switch (entry.component) {
    case MaskComponent::Head:
      return block + "." + n.head;
    case MaskComponent::Neuron:
      return block + "." + n.neuron;
    case MaskComponent::AttnSublayer:
      return block + "." + n.attn;
    case MaskComponent::MlpSublayer:
      return block + "." + n.mlp;
    case MaskComponent::Block:
      return block;
  }
  return std::nullopt;
}

// ---- documents -------------------------------------------------------------------------------

nlohmann::ordered_json maskToJson(const hooks::MaskSet& masks, const ModelFingerprint& model,
                                  const std::string& description) {
  nlohmann::ordered_json document;
  document["format"] = kMaskFormatName;
  document["version"] = kMaskFormatVersion;
  if (!description.empty()) document["description"] = description;
  document["model"] = modelToJson(model);
  document["entries"] = nlohmann::ordered_json::array();
  for (const auto& e : masks.entries()) {
    checkExportable(e);
    document["entries"].push_back(entryToJson(e, model.family));
  }
  return document;
}

MaskDocument parseMaskDocument(const json& document, const std::string& where) {
  const Reader r{where};
  if (!document.is_object())
    throw FormatError(where + ": not a mask file (the document is " +
                      data::describeJsonValue(document) + ", not an object)");
  const auto& format = r.require(document, "format", "format");
  if (!format.is_string() || format.get<std::string>() != kMaskFormatName)
    throw FormatError(where + ": not a circuitscope mask (\"format\" is " +
                      data::describeJsonValue(format) + ", expected \"" + kMaskFormatName + "\")");
  const auto version = r.integer(r.require(document, "version", "version"), "version", 1,
                                 std::numeric_limits<std::int64_t>::max());
  if (version > kMaskFormatVersion)
    throw FormatError(where + ": mask format version " + std::to_string(version) +
                      " was written by a newer circuitscope (this one reads up to version " +
                      std::to_string(kMaskFormatVersion) + "); update circuitscope");
  r.onlyKeys(document, {"format", "version", "description", "model", "entries"}, "");

  MaskDocument out;
  if (const auto it = document.find("description"); it != document.end())
    out.description = r.string(*it, "description");
  out.model = parseModel(r, r.require(document, "model", "model"));
  const auto& entries = r.require(document, "entries", "entries");
  if (!entries.is_array())
    r.fail("entries", "must be an array, got " + data::describeJsonValue(entries));
  std::map<std::tuple<MaskComponent, int, int>, std::size_t> seen;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto field = "entries[" + std::to_string(i) + "]";
    const auto e = parseEntry(r, entries[i], field, out.model);
    const auto [it, inserted] = seen.emplace(std::tuple(e.component, e.layer, e.index), i);
    if (!inserted)
      r.fail(field, "targets " + hooks::describeTarget(e) + " again (entries[" +
                        std::to_string(it->second) + "] already does); keep one of them");
    out.masks.set(e);
  }
  return out;
}

void checkMaskFitsModel(const MaskDocument& mask, const ModelFingerprint& loaded,
                        const TransformerConfig& config, const std::string& where) {
  const auto& m = mask.model;
  std::vector<std::string> differences;
  auto differ = [&](const std::string& what, const std::string& there, const std::string& here) {
    differences.push_back(what + " " + there + " there, " + here + " here");
  };
  if (m.family != loaded.family)
    differ("family", "\"" + m.family + "\"", "\"" + loaded.family + "\"");
  if (m.modelType != loaded.modelType)
    differ("model_type", "\"" + m.modelType + "\"", "\"" + loaded.modelType + "\"");
  const bool configDiffers = !m.configSha256.empty() && !loaded.configSha256.empty() &&
                             m.configSha256 != loaded.configSha256;
  if (configDiffers)
    differ("config.json sha256", shortDigest(m.configSha256), shortDigest(loaded.configSha256));
  const bool weightsDiffer = !m.weightsSha256.empty() && !loaded.weightsSha256.empty() &&
                             m.weightsSha256 != loaded.weightsSha256;
  if (weightsDiffer)
    differ("weights sha256", shortDigest(m.weightsSha256), shortDigest(loaded.weightsSha256));
  if (m.nLayers != loaded.nLayers) {
    differ("n_layers", std::to_string(m.nLayers), std::to_string(loaded.nLayers));
  } else {
    if (m.nHeads != loaded.nHeads)
      differ("heads per layer", listText(m.nHeads), listText(loaded.nHeads));
    if (m.dMlp != loaded.dMlp) differ("MLP widths", listText(m.dMlp), listText(loaded.dMlp));
  }
  if (!differences.empty()) {
    std::string text;
    for (const auto& d : differences) text += (text.empty() ? "" : "; ") + d;
    const bool onlyWeights = weightsDiffer && differences.size() == 1;
    throw ConfigError(
        where + ": the mask was made for a different model than the one loaded (" + text + "). " +
        (onlyWeights ? "Load the checkpoint it was made for, or, to apply it to these weights on "
                       "purpose, set \"weights_sha256\" to null in the mask file"
                     : "Load the model it was made for"));
  }
  // Mean ablations need reference means that are given only when the mask is applied; here
  // their targets are checked like those of zero ablations.
  // (MaskSet::set is linear in the set's size: only mean entries go through it.)
  hooks::MaskSet ranges = mask.masks;
  for (auto e : mask.masks.entries()) {
    if (e.mode != AblationMode::Mean) continue;
    e.mode = AblationMode::Zero;
    ranges.set(e);
  }
  try {
    validateMasks(config, ranges);
  } catch (const Error&) {
    rethrowWithContext(where);
  }
}

hooks::MaskSet maskFromJson(const json& document, const ModelFingerprint& loaded,
                            const TransformerConfig& config, const std::string& where) {
  auto mask = parseMaskDocument(document, where);
  checkMaskFitsModel(mask, loaded, config, where);
  return std::move(mask.masks);
}

// ---- files and stores ----------------------------------------------------------------------

void saveMaskFile(const std::filesystem::path& path, const hooks::MaskSet& masks,
                  const ModelFingerprint& model, const std::string& description) {
  const auto text = maskText(masks, model, description);
  data::writeTextFileAtomically(path, text);
}

MaskDocument readMaskFile(const std::filesystem::path& path) {
  const auto document = data::readJsonFile(path.string(), kMaxMaskFileBytes, kMaxDepth);
  return parseMaskDocument(document, path.string());
}

hooks::MaskSet loadMaskFile(const std::filesystem::path& path, const ModelFingerprint& loaded,
                            const TransformerConfig& config) {
  auto mask = readMaskFile(path);
  checkMaskFitsModel(mask, loaded, config, path.string());
  return std::move(mask.masks);
}

void saveMaskToStore(const std::filesystem::path& storePath, const std::string& name,
                     const hooks::MaskSet& masks, const ModelFingerprint& model,
                     const std::string& description, bool replace) {
  data::writeStoreDocument(storePath, kStoreMaskGroup, name, maskText(masks, model, description),
                           replace);
}

hooks::MaskSet loadMaskFromStore(const std::filesystem::path& storePath, const std::string& name,
                                 const ModelFingerprint& loaded, const TransformerConfig& config) {
  const auto where = storePath.string() + " /" + kStoreMaskGroup + "/" + name;
  const auto text = data::readStoreDocument(storePath, kStoreMaskGroup, name);
  return maskFromJson(data::parseJsonDocument(text, where, kMaxDepth), loaded, config, where);
}

std::vector<std::string> listStoreMasks(const std::filesystem::path& storePath) {
  return data::listStoreDocuments(storePath, kStoreMaskGroup);
}

}  // namespace cs::models
