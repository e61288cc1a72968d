// Reading teaching presets. Every check names where it failed as "<origin>: step N ("title"),
// action M (do): field 'x': what is wrong", so that whoever edits a preset finds the spot at once.
#include "app/gui/demo_preset.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

#include "core/error.h"
#include "core/resources.h"

namespace cs::gui {

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Token ids, rows, layers and component indices above these are typos, not real models.
constexpr std::int64_t kMaxId = std::numeric_limits<std::int32_t>::max();
constexpr int kMaxLayer = 9999;
constexpr int kMaxComponentIndex = 999999;
constexpr std::size_t kMaxIdChars = 64;
constexpr std::size_t kMaxSourceChars = 1000;
// nlohmann parses iteratively but the options are passed on to code that may not.
constexpr int kMaxNesting = 32;

struct Named {
  const char* name;
  int value;
};

constexpr Named kActions[] = {
    {"load_model", static_cast<int>(DemoActionKind::LoadModel)},
    {"input", static_cast<int>(DemoActionKind::Input)},
    {"mask", static_cast<int>(DemoActionKind::Mask)},
    {"unmask_all", static_cast<int>(DemoActionKind::UnmaskAll)},
    {"analysis", static_cast<int>(DemoActionKind::Analysis)},
    {"show", static_cast<int>(DemoActionKind::Show)},
};
constexpr Named kAnalyses[] = {
    {"head-ablation", static_cast<int>(DemoAnalysis::HeadAblation)},
    {"patching", static_cast<int>(DemoAnalysis::Patching)},
    {"attention", static_cast<int>(DemoAnalysis::Attention)},
    {"ig", static_cast<int>(DemoAnalysis::IntegratedGradients)},
    {"dla", static_cast<int>(DemoAnalysis::DirectLogitAttribution)},
    {"similarity", static_cast<int>(DemoAnalysis::Similarity)},
    {"neuron-ablation", static_cast<int>(DemoAnalysis::NeuronAblation)},
};
constexpr Named kViews[] = {
    {"attention", static_cast<int>(DemoView::Attention)},
    {"head_grid", static_cast<int>(DemoView::HeadGrid)},
    {"metrics", static_cast<int>(DemoView::Metrics)},
    {"chart", static_cast<int>(DemoView::Chart)},
    {"token_attribution", static_cast<int>(DemoView::TokenAttribution)},
    {"image_attribution", static_cast<int>(DemoView::ImageAttribution)},
    {"predictions", static_cast<int>(DemoView::Predictions)},
};

template <std::size_t N>
const char* nameOf(const Named (&table)[N], int value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <std::size_t N>
std::string namesOf(const Named (&table)[N]) {
  std::string text;
  for (const auto& entry : table) text += (text.empty() ? "" : ", ") + std::string(entry.name);
  return text;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ConfigError(where + ": " + what);
}

std::string typeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "true/false";
    case json::value_t::string:
      return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "an object";
    default:
      return "something else";
  }
}

std::string fieldWhere(const std::string& where, std::string_view key) {
  return where + ": field '" + std::string(key) + "'";
}

// Code points, not bytes: the bounds are about how much text a reader sees.
std::size_t charCount(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Deeply nested documents are refused before parsing; strings are skipped so that brackets
// inside texts do not count.
void checkNesting(const std::string& text, const std::string& origin) {
  int depth = 0;
  bool inString = false;
  bool escaped = false;
  for (const char c : text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) {
        fail(origin, "nested more than " + std::to_string(kMaxNesting) + " levels deep");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

void checkKnownFields(const json& object, const std::string& where,
                      std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto k : known) list += (list.empty() ? "'" : ", '") + std::string(k) + "'";
    fail(fieldWhere(where, key), "unknown field (expected " + list + ")");
  }
}

const json& requireField(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail(where, std::string("missing field '") + key + "'");
  return *it;
}

void checkText(const std::string& text, const std::string& where, std::size_t maxChars,
               bool multiline) {
  if (text.empty()) fail(where, "must not be empty");
  const auto chars = charCount(text);
  if (chars > maxChars) {
    fail(where, "is " + std::to_string(chars) + " characters long; at most " +
                    std::to_string(maxChars) + " are allowed");
  }
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && !(multiline && (c == '\n' || c == '\t'))) {
      fail(where, multiline ? "holds a control character" : "must be one line");
    }
  }
}

std::string readString(const json& value, const std::string& where, std::size_t maxChars,
                       bool multiline = false) {
  if (!value.is_string()) fail(where, "must be a string, not " + typeName(value));
  auto text = value.get<std::string>();
  checkText(text, where, maxChars, multiline);
  return text;
}

std::string readStringField(const json& object, const char* key, const std::string& where,
                            std::size_t maxChars, bool multiline = false) {
  return readString(requireField(object, key, where), fieldWhere(where, key), maxChars, multiline);
}

std::int64_t readIndex(const json& value, const std::string& where, std::int64_t max) {
  if (value.is_number_float()) fail(where, "must be a whole number, not " + value.dump());
  if (!value.is_number_integer()) fail(where, "must be a number, not " + typeName(value));
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(max)) {
      fail(where, std::to_string(n) + " is too large (at most " + std::to_string(max) + ")");
    }
    return static_cast<std::int64_t>(n);
  }
  const auto n = value.get<std::int64_t>();
  if (n < 0) fail(where, std::to_string(n) + " is negative; it must be 0 or more");
  if (n > max)
    fail(where, std::to_string(n) + " is too large (at most " + std::to_string(max) + ")");
  return n;
}

const json& requireArray(const json& value, const std::string& where, std::size_t maxItems) {
  if (!value.is_array()) fail(where, "must be a list, not " + typeName(value));
  if (value.size() > maxItems) {
    fail(where, "has " + std::to_string(value.size()) + " entries; at most " +
                    std::to_string(maxItems) + " are allowed");
  }
  return value;
}

template <std::size_t N>
int readName(const json& object, const char* key, const std::string& where, const Named (&table)[N],
             const char* what) {
  const auto name = readStringField(object, key, where, 64);
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
  }
  fail(fieldWhere(where, key),
       "unknown " + std::string(what) + " '" + name + "' (known: " + namesOf(table) + ")");
}

// "L12H3" -> {12, 3}. Only this exact spelling: layer and index in decimal, capital letters.
DemoComponent parseComponent(const std::string& name, bool neuron, const std::string& where) {
  const char letter = neuron ? 'N' : 'H';
  const char other = neuron ? 'H' : 'N';
  const std::string kind = neuron ? "an MLP neuron" : "a head";
  const std::string example = neuron ? "L0N12 for layer 0, neuron 12" : "L0H3 for layer 0, head 3";
  auto bad = [&]() {
    fail(where, "'" + name + "' is not " + kind + " name; write L<layer>" + letter +
                    "<index>, e.g. " + example);
  };
  const auto split = name.find_first_of("HN", 1);
  if (name.size() < 4 || name[0] != 'L' || split == std::string::npos) bad();
  if (name[split] == other) {
    fail(where, "'" + name + "' names " + (neuron ? "a head" : "an MLP neuron") + ", not " + kind +
                    "; list it under \"" + (neuron ? "heads" : "neurons") + "\"");
  }
  auto number = [&](std::string_view digits, int max) {
    if (digits.empty() || digits.size() > 6) bad();
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      bad();
    }
    const int value = std::stoi(std::string(digits));
    if (value > max) bad();
    return value;
  };
  const std::string_view text(name);
  return {number(text.substr(1, split - 1), kMaxLayer),
          number(text.substr(split + 1), kMaxComponentIndex)};
}

std::vector<DemoComponent> readComponents(const json& action, const char* key, bool neuron,
                                          const std::string& where) {
  std::vector<DemoComponent> components;
  const auto it = action.find(key);
  if (it == action.end()) return components;
  const auto field = fieldWhere(where, key);
  const auto& list = requireArray(*it, field, kDemoMaxComponents);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto itemWhere = field + " entry " + std::to_string(i);
    const auto name = readString(list[i], itemWhere, 16);
    const auto component = parseComponent(name, neuron, itemWhere);
    if (std::find(components.begin(), components.end(), component) != components.end()) {
      fail(itemWhere, "'" + name + "' is listed twice");
    }
    components.push_back(component);
  }
  return components;
}

DemoAction readInput(const json& action, const std::string& where) {
  checkKnownFields(action, where, {"do", "ids", "text", "dataset_row"});
  const int given = static_cast<int>(action.contains("ids")) +
                    static_cast<int>(action.contains("text")) +
                    static_cast<int>(action.contains("dataset_row"));
  if (given != 1) fail(where, "give exactly one of 'ids', 'text' or 'dataset_row'");
  DemoAction a;
  a.kind = DemoActionKind::Input;
  if (const auto it = action.find("ids"); it != action.end()) {
    a.inputKind = DemoInputKind::Ids;
    const auto field = fieldWhere(where, "ids");
    const auto& list = requireArray(*it, field, kDemoMaxInputIds);
    if (list.empty()) fail(field, "must hold at least one token id");
    for (std::size_t i = 0; i < list.size(); ++i) {
      a.ids.push_back(readIndex(list[i], field + " entry " + std::to_string(i), kMaxId));
    }
  } else if (const auto it = action.find("text"); it != action.end()) {
    a.inputKind = DemoInputKind::Text;
    a.text = readString(*it, fieldWhere(where, "text"), kDemoMaxInputTextChars, true);
  } else {
    a.inputKind = DemoInputKind::DatasetRow;
    a.datasetRow = readIndex(action.at("dataset_row"), fieldWhere(where, "dataset_row"), kMaxId);
  }
  return a;
}

DemoAction readAction(const json& action, const std::string& where) {
  if (!action.is_object())
    fail(where, "must be an object with a \"do\" field, not " + typeName(action));
  const auto kind = static_cast<DemoActionKind>(readName(action, "do", where, kActions, "action"));
  const auto here = where + " (" + nameOf(kActions, static_cast<int>(kind)) + ")";
  DemoAction a;
  a.kind = kind;
  switch (kind) {
    case DemoActionKind::LoadModel:
      checkKnownFields(action, here, {"do", "source"});
      a.source = readStringField(action, "source", here, kMaxSourceChars);
      break;
    case DemoActionKind::Input:
      a = readInput(action, here);
      break;
    case DemoActionKind::Mask:
      checkKnownFields(action, here, {"do", "heads", "neurons"});
      a.heads = readComponents(action, "heads", false, here);
      a.neurons = readComponents(action, "neurons", true, here);
      if (a.heads.empty() && a.neurons.empty()) {
        fail(here,
             "names no head and no neuron; list some under \"heads\" or \"neurons\" (or use "
             "\"unmask_all\" to clear the masks)");
      }
      break;
    case DemoActionKind::UnmaskAll:
      checkKnownFields(action, here, {"do"});
      break;
    case DemoActionKind::Analysis:
      checkKnownFields(action, here, {"do", "name", "options"});
      a.analysis = static_cast<DemoAnalysis>(readName(action, "name", here, kAnalyses, "analysis"));
      if (const auto it = action.find("options"); it != action.end()) {
        if (!it->is_object()) {
          fail(fieldWhere(here, "options"), "must be an object, not " + typeName(*it));
        }
        a.options = *it;
      }
      break;
    case DemoActionKind::Show:
      a.view = static_cast<DemoView>(readName(action, "view", here, kViews, "view"));
      if (a.view == DemoView::Attention) {
        checkKnownFields(action, here, {"do", "view", "layer", "head"});
        a.layer = static_cast<int>(
            readIndex(requireField(action, "layer", here), fieldWhere(here, "layer"), kMaxLayer));
        a.head = static_cast<int>(readIndex(requireField(action, "head", here),
                                            fieldWhere(here, "head"), kMaxComponentIndex));
      } else {
        checkKnownFields(action, here, {"do", "view"});
      }
      break;
  }
  return a;
}

DemoStep readStep(const json& step, const std::string& where) {
  if (!step.is_object()) fail(where, "must be an object, not " + typeName(step));
  checkKnownFields(step, where, {"title", "text", "actions"});
  DemoStep s;
  s.title = readStringField(step, "title", where, kDemoMaxTitleChars);
  const auto named = where + " (\"" + s.title + "\")";
  s.text = readStringField(step, "text", named, kDemoMaxStepTextChars, true);
  if (const auto it = step.find("actions"); it != step.end()) {
    const auto field = fieldWhere(named, "actions");
    const auto& list = requireArray(*it, field, kDemoMaxActionsPerStep);
    for (std::size_t i = 0; i < list.size(); ++i) {
      s.actions.push_back(readAction(list[i], named + ", action " + std::to_string(i + 1)));
    }
  }
  return s;
}

}  // namespace

DemoPreset parseDemoPreset(const std::string& jsonText, const std::string& origin) {
  if (jsonText.size() > kDemoMaxFileBytes) {
    fail(origin, "is " + std::to_string(jsonText.size()) +
                     " bytes; a demo preset may have at most " + std::to_string(kDemoMaxFileBytes));
  }
  checkNesting(jsonText, origin);
  json root;
  try {
    root = json::parse(jsonText);
  } catch (const json::exception& e) {
    fail(origin, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!root.is_object()) fail(origin, "must hold a JSON object, not " + typeName(root));

  const auto& format = requireField(root, "format", origin);
  if (!format.is_string() || format.get<std::string>() != kDemoFormat) {
    fail(fieldWhere(origin, "format"),
         "is " + format.dump() + "; this version of circuitscope reads \"" + kDemoFormat + "\"");
  }
  checkKnownFields(root, origin, {"format", "id", "title", "summary", "model", "steps"});

  DemoPreset preset;
  preset.origin = origin;
  preset.id = readStringField(root, "id", origin, kMaxIdChars);
  if (!std::all_of(preset.id.begin(), preset.id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      })) {
    fail(fieldWhere(origin, "id"),
         "'" + preset.id + "' may hold only lower-case letters, digits and '-'");
  }
  preset.title = readStringField(root, "title", origin, kDemoMaxTitleChars);
  preset.summary = readStringField(root, "summary", origin, kDemoMaxSummaryChars, true);
  preset.model = readStringField(root, "model", origin, kMaxSourceChars);

  const auto stepsWhere = fieldWhere(origin, "steps");
  const auto& steps = requireField(root, "steps", origin);
  if (!steps.is_array()) fail(stepsWhere, "must be a list, not " + typeName(steps));
  if (steps.empty() || steps.size() > static_cast<std::size_t>(kDemoMaxSteps)) {
    fail(stepsWhere, "has " + std::to_string(steps.size()) + " steps; a demo needs 1 to " +
                         std::to_string(kDemoMaxSteps));
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    preset.steps.push_back(readStep(steps[i], origin + ": step " + std::to_string(i + 1)));
  }
  return preset;
}

DemoPreset loadDemoPreset(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw IoError("cannot read demo preset " + file.string() +
                  ": not a file; check the path and that the file exists");
  }
  const auto size = fs::file_size(file, ec);
  if (!ec && size > kDemoMaxFileBytes) {
    fail(file.string(), "is " + std::to_string(size) + " bytes; a demo preset may have at most " +
                            std::to_string(kDemoMaxFileBytes));
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    throw IoError("cannot read demo preset " + file.string() + "; check that it is readable");
  }
  return parseDemoPreset(text.str(), file.string());
}

DemoCatalog listDemoPresets(const fs::path& folder) {
  DemoCatalog catalog;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
  }
  if (ec) {
    catalog.errors.push_back("cannot list demo presets in " + folder.string() + ": " +
                             ec.message());
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> ids;
  for (const auto& file : files) {
    try {
      auto preset = loadDemoPreset(file);
      if (!ids.insert(preset.id).second) {
        catalog.errors.push_back(file.string() + ": id '" + preset.id +
                                 "' is already used by another preset; skipped");
        continue;
      }
      catalog.presets.push_back(std::move(preset));
    } catch (const Error& e) {
      catalog.errors.push_back(e.what());
    }
  }
  std::stable_sort(catalog.presets.begin(), catalog.presets.end(),
                   [](const DemoPreset& a, const DemoPreset& b) { return a.title < b.title; });
  return catalog;
}

DemoCatalog listDemoPresets() {
  fs::path folder;
  try {
    folder = resourcePath("demos");
  } catch (const Error& e) {
    return {{}, {e.what()}};
  }
  return listDemoPresets(folder);
}

const char* demoActionName(DemoActionKind kind) { return nameOf(kActions, static_cast<int>(kind)); }
const char* demoAnalysisName(DemoAnalysis analysis) {
  return nameOf(kAnalyses, static_cast<int>(analysis));
}
const char* demoViewName(DemoView view) { return nameOf(kViews, static_cast<int>(view)); }

std::string demoComponentName(const DemoComponent& component, bool neuron) {
  return "L" + std::to_string(component.layer) + (neuron ? "N" : "H") +
         std::to_string(component.index);
}

std::string describeDemoAction(const DemoAction& action) {
  std::string line = demoActionName(action.kind);
  auto list = [](const auto& items, auto toText) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + toText(item);
    return text;
  };
  switch (action.kind) {
    case DemoActionKind::LoadModel:
      return "load " + action.source;
    case DemoActionKind::Input:
      if (action.inputKind == DemoInputKind::Ids) {
        return "input ids " + list(action.ids, [](std::int64_t id) { return std::to_string(id); });
      }
      if (action.inputKind == DemoInputKind::Text) return "input text \"" + action.text + "\"";
      return "input test-set row " + std::to_string(action.datasetRow);
    case DemoActionKind::Mask: {
      line = "mask";
      if (!action.heads.empty()) {
        line += " heads " + list(action.heads, [](const DemoComponent& c) {
                  return demoComponentName(c, false);
                });
      }
      if (!action.neurons.empty()) {
        line +=
            (action.heads.empty() ? " neurons " : "; neurons ") +
            list(action.neurons, [](const DemoComponent& c) { return demoComponentName(c, true); });
      }
      return line;
    }
    case DemoActionKind::UnmaskAll:
      return "unmask all";
    case DemoActionKind::Analysis:
      line = std::string("analysis ") + demoAnalysisName(action.analysis);
      if (!action.options.empty()) line += " " + action.options.dump();
      return line;
    case DemoActionKind::Show:
      line = std::string("show ") + demoViewName(action.view);
      if (action.view == DemoView::Attention) {
        line += " " + demoComponentName({action.layer, action.head}, false);
      }
      return line;
  }
  return line;
}

}  // namespace cs::gui
