// Teaching presets: the shipped ones parse and fit the built-in models they name (layers, heads,
// neurons, vocabulary, context), and malformed ones are refused with a message that names the
// file, the step and the field.
#include "app/gui/demo_preset.h"

#include <QTemporaryDir>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/loaders/builtin_models.h"

namespace cs::gui {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// What a built-in model's config.json says about the components a preset may name.
struct ModelShape {
  int layers = 0;
  std::vector<int> heads;
  std::vector<int> neurons;
  std::int64_t vocabulary = 0;
  std::int64_t context = 0;
  bool image = false;
};

ModelShape shapeOf(const std::string& source) {
  std::ifstream in(models::resolveModelFolder(source) / "config.json");
  const auto config = json::parse(in);
  ModelShape shape;
  shape.layers = config.at("n_layers").get<int>();
  for (int l = 0; l < shape.layers; ++l) {
    shape.heads.push_back(
        config.at("attn_skipped").at(l).get<bool>() ? 0 : config.at("n_heads").at(l).get<int>());
    shape.neurons.push_back(
        config.at("mlp_skipped").at(l).get<bool>() ? 0 : config.at("d_mlp").at(l).get<int>());
  }
  shape.vocabulary = config.at("d_vocab").get<std::int64_t>();
  shape.context = config.at("n_ctx").get<std::int64_t>();
  shape.image = config.at("input").get<std::string>() == "patches";
  return shape;
}

bool isBuiltin(const std::string& source) {
  const std::string prefix = models::kBuiltinPrefix;
  if (source.rfind(prefix, 0) != 0) return false;
  const auto names = models::builtinModelNames();
  return std::find(names.begin(), names.end(), source.substr(prefix.size())) != names.end();
}

TEST(DemoPreset, ShippedPresetsParseAndFitTheirBuiltinModels) {
  const auto catalog = listDemoPresets();
  for (const auto& error : catalog.errors) ADD_FAILURE() << error;
  ASSERT_GE(catalog.presets.size(), 3u);

  std::vector<std::string> ids;
  for (const auto& preset : catalog.presets) {
    SCOPED_TRACE(preset.origin);
    ids.push_back(preset.id);
    ASSERT_TRUE(isBuiltin(preset.model)) << preset.model;
    auto model = preset.model;
    auto shape = shapeOf(model);
    for (std::size_t s = 0; s < preset.steps.size(); ++s) {
      const auto& step = preset.steps[s];
      SCOPED_TRACE("step " + std::to_string(s + 1) + " " + step.title);
      EXPECT_GE(step.text.size(), 80u) << "a text a teacher can read out";
      for (const auto& action : step.actions) {
        SCOPED_TRACE(describeDemoAction(action));
        switch (action.kind) {
          case DemoActionKind::LoadModel:
            ASSERT_TRUE(isBuiltin(action.source)) << action.source;
            model = action.source;
            shape = shapeOf(model);
            break;
          case DemoActionKind::Input:
            if (action.inputKind == DemoInputKind::Ids) {
              ASSERT_FALSE(shape.image);
              EXPECT_LE(static_cast<std::int64_t>(action.ids.size()), shape.context);
              for (const auto id : action.ids) EXPECT_LT(id, shape.vocabulary);
            } else if (action.inputKind == DemoInputKind::DatasetRow) {
              EXPECT_TRUE(shape.image) << "rows are for image models; token models take ids";
              EXPECT_LT(action.datasetRow, 360) << "the digits test split has 360 images";
            } else {
              ADD_FAILURE() << "the built-in models have no tokenizer for text input";
            }
            break;
          case DemoActionKind::Mask:
            for (const auto& h : action.heads) {
              ASSERT_LT(h.layer, shape.layers);
              EXPECT_LT(h.index, shape.heads[h.layer]);
            }
            for (const auto& n : action.neurons) {
              ASSERT_LT(n.layer, shape.layers);
              EXPECT_LT(n.index, shape.neurons[n.layer]);
            }
            break;
          case DemoActionKind::Show:
            if (action.view == DemoView::Attention) {
              ASSERT_LT(action.layer, shape.layers);
              EXPECT_LT(action.head, shape.heads[action.layer]);
            }
            if (action.view == DemoView::ImageAttribution) {
              EXPECT_TRUE(shape.image);
            }
            if (action.view == DemoView::TokenAttribution) {
              EXPECT_FALSE(shape.image);
            }
            break;
          case DemoActionKind::Analysis:
            if (action.analysis == DemoAnalysis::NeuronAblation) {
              EXPECT_GT(*std::max_element(shape.neurons.begin(), shape.neurons.end()), 0);
            }
            break;
          case DemoActionKind::UnmaskAll:
            break;
        }
      }
    }
  }
  for (const char* id : {"induction-heads", "modular-addition", "digits-vit"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
  for (std::size_t i = 1; i < catalog.presets.size(); ++i) {
    EXPECT_LE(catalog.presets[i - 1].title, catalog.presets[i].title);
  }
}

// A small valid preset; each malformed case below changes one thing in it.
json validDocument() {
  return json::parse(R"({
    "format": "circuitscope-demo/1",
    "id": "test-demo",
    "title": "Test demo",
    "summary": "A preset for the tests.",
    "model": "builtin:induction",
    "steps": [
      {"title": "Load", "text": "Load the model.",
       "actions": [{"do": "load_model", "source": "builtin:induction"},
                   {"do": "input", "ids": [7, 42, 13]}]},
      {"title": "Prune", "text": "Prune two heads and a neuron.",
       "actions": [{"do": "mask", "heads": ["L0H0", "L12H3"], "neurons": ["L1N512"]},
                   {"do": "analysis", "name": "ig", "options": {"steps": 31, "baseline": "black"}},
                   {"do": "show", "view": "attention", "layer": 1, "head": 0},
                   {"do": "input", "dataset_row": 3},
                   {"do": "input", "text": "Hello"},
                   {"do": "unmask_all"},
                   {"do": "show", "view": "metrics"}]}
    ]
  })");
}

TEST(DemoPreset, ParsesEveryFieldOfAValidPreset) {
  const auto preset = parseDemoPreset(validDocument().dump(), "test.json");
  EXPECT_EQ(preset.origin, "test.json");
  EXPECT_EQ(preset.id, "test-demo");
  EXPECT_EQ(preset.title, "Test demo");
  EXPECT_EQ(preset.model, "builtin:induction");
  ASSERT_EQ(preset.steps.size(), 2u);
  const auto& load = preset.steps[0].actions;
  ASSERT_EQ(load.size(), 2u);
  EXPECT_EQ(load[0].kind, DemoActionKind::LoadModel);
  EXPECT_EQ(load[0].source, "builtin:induction");
  EXPECT_EQ(load[1].inputKind, DemoInputKind::Ids);
  EXPECT_EQ(load[1].ids, (std::vector<std::int64_t>{7, 42, 13}));

  const auto& prune = preset.steps[1].actions;
  ASSERT_EQ(prune.size(), 7u);
  EXPECT_EQ(prune[0].kind, DemoActionKind::Mask);
  EXPECT_EQ(prune[0].heads, (std::vector<DemoComponent>{{0, 0}, {12, 3}}));
  EXPECT_EQ(prune[0].neurons, (std::vector<DemoComponent>{{1, 512}}));
  EXPECT_EQ(prune[1].analysis, DemoAnalysis::IntegratedGradients);
  EXPECT_EQ(prune[1].options.at("steps"), 31);
  EXPECT_EQ(prune[1].options.at("baseline"), "black");
  EXPECT_EQ(prune[2].view, DemoView::Attention);
  EXPECT_EQ(prune[2].layer, 1);
  EXPECT_EQ(prune[2].head, 0);
  EXPECT_EQ(prune[3].inputKind, DemoInputKind::DatasetRow);
  EXPECT_EQ(prune[3].datasetRow, 3);
  EXPECT_EQ(prune[4].inputKind, DemoInputKind::Text);
  EXPECT_EQ(prune[4].text, "Hello");
  EXPECT_EQ(prune[5].kind, DemoActionKind::UnmaskAll);
  EXPECT_EQ(prune[6].view, DemoView::Metrics);
  EXPECT_EQ(prune[6].layer, -1);

  EXPECT_EQ(describeDemoAction(prune[0]), "mask heads L0H0, L12H3; neurons L1N512");
  EXPECT_EQ(describeDemoAction(prune[2]), "show attention L1H0");
  EXPECT_EQ(describeDemoAction(load[1]), "input ids 7, 42, 13");
}

struct MalformedCase {
  const char* name;
  std::function<std::string()> text;
  std::vector<std::string> expected;  // substrings of the message
};

std::function<std::string()> edited(std::function<void(json&)> edit) {
  return [edit]() {
    auto doc = validDocument();
    edit(doc);
    return doc.dump();
  };
}

json& action(json& doc, int step, int index) { return doc["steps"][step]["actions"][index]; }

std::vector<MalformedCase> malformedCases() {
  return {
      {"bad format",
       edited([](json& d) { d["format"] = "circuitscope-demo/2"; }),
       {"field 'format'", "circuitscope-demo/2", "reads \"circuitscope-demo/1\""}},
      {"missing format", edited([](json& d) { d.erase("format"); }), {"missing field 'format'"}},
      {"unknown action",
       edited([](json& d) { action(d, 1, 1)["do"] = "explode"; }),
       {"step 2 (\"Prune\"), action 2", "field 'do'", "unknown action 'explode'", "load_model"}},
      {"bad component name",
       edited([](json& d) { action(d, 1, 0)["heads"][1] = "L0X0"; }),
       {"step 2", "action 1 (mask)", "field 'heads' entry 1", "'L0X0' is not a head name",
        "e.g. L0H3"}},
      {"lower-case component",
       edited([](json& d) { action(d, 1, 0)["heads"][0] = "l0h0"; }),
       {"'l0h0' is not a head name"}},
      {"neuron under heads",
       edited([](json& d) { action(d, 1, 0)["heads"][0] = "L0N3"; }),
       {"'L0N3' names an MLP neuron", "list it under \"neurons\""}},
      {"component with trailing text",
       edited([](json& d) { action(d, 1, 0)["neurons"][0] = "L1N5x"; }),
       {"field 'neurons' entry 0", "'L1N5x' is not an MLP neuron name"}},
      {"missing text",
       edited([](json& d) { d["steps"][0].erase("text"); }),
       {"step 1 (\"Load\")", "missing field 'text'"}},
      {"empty text",
       edited([](json& d) { d["steps"][1]["text"] = ""; }),
       {"step 2 (\"Prune\")", "field 'text'", "must not be empty"}},
      {"negative id",
       edited([](json& d) { action(d, 0, 1)["ids"][2] = -4; }),
       {"step 1 (\"Load\"), action 2 (input)", "field 'ids' entry 2", "-4 is negative"}},
      {"negative dataset row",
       edited([](json& d) { action(d, 1, 3)["dataset_row"] = -1; }),
       {"field 'dataset_row'", "negative"}},
      {"fractional id",
       edited([](json& d) { action(d, 0, 1)["ids"][0] = 1.5; }),
       {"field 'ids' entry 0", "whole number"}},
      {"too many steps",
       edited([](json& d) {
         while (d["steps"].size() < 51) d["steps"].push_back(d["steps"][0]);
       }),
       {"field 'steps'", "51 steps", "1 to 50"}},
      {"no steps", edited([](json& d) { d["steps"] = json::array(); }), {"0 steps"}},
      {"title of the wrong type",
       edited([](json& d) { d["title"] = 3; }),
       {"field 'title'", "must be a string, not a number"}},
      {"steps of the wrong type",
       edited([](json& d) { d["steps"] = "one"; }),
       {"field 'steps'", "must be a list, not a string"}},
      {"ids of the wrong type",
       edited([](json& d) { action(d, 0, 1)["ids"] = "7, 42"; }),
       {"field 'ids'", "must be a list, not a string"}},
      {"layer of the wrong type",
       edited([](json& d) { action(d, 1, 2)["layer"] = "1"; }),
       {"action 3 (show)", "field 'layer'", "must be a number, not a string"}},
      {"attention view without a head",
       edited([](json& d) { action(d, 1, 2).erase("head"); }),
       {"action 3 (show)", "missing field 'head'"}},
      {"unknown view",
       edited([](json& d) { action(d, 1, 6)["view"] = "hologram"; }),
       {"field 'view'", "unknown view 'hologram'", "head_grid"}},
      {"unknown analysis",
       edited([](json& d) { action(d, 1, 1)["name"] = "astrology"; }),
       {"field 'name'", "unknown analysis 'astrology'", "neuron-ablation"}},
      {"options not an object",
       edited([](json& d) { action(d, 1, 1)["options"] = json::array(); }),
       {"field 'options'", "must be an object"}},
      {"misspelt field",
       edited([](json& d) { d["steps"][0]["acitons"] = json::array(); }),
       {"step 1", "field 'acitons'", "unknown field"}},
      {"two inputs in one action",
       edited([](json& d) { action(d, 0, 1)["text"] = "7 42"; }),
       {"action 2 (input)", "exactly one of 'ids', 'text' or 'dataset_row'"}},
      {"empty mask",
       edited([](json& d) {
         action(d, 1, 0) = json{{"do", "mask"}};
       }),
       {"action 1 (mask)", "names no head and no neuron"}},
      {"step text too long",
       edited([](json& d) { d["steps"][0]["text"] = std::string(kDemoMaxStepTextChars + 1, 'a'); }),
       {"step 1", "field 'text'", "1501 characters long", "at most 1500"}},
      {"title over two lines",
       edited([](json& d) { d["steps"][1]["title"] = "Pr\nune"; }),
       {"step 2", "field 'title'", "must be one line"}},
      {"bad preset id",
       edited([](json& d) { d["id"] = "Induction Heads"; }),
       {"field 'id'", "lower-case letters"}},
      {"not JSON",
       []() { return std::string(R"({"format": "circuitscope-demo/1", )"); },
       {"not valid JSON"}},
      {"not an object", []() { return std::string("[1, 2]"); }, {"must hold a JSON object"}},
      {"deeply nested options",
       []() {
         auto doc = validDocument();
         action(doc, 1, 1)["options"] = json::object();
         auto text = doc.dump();
         const auto at = text.find("\"options\":{") + 11;
         return text.insert(at, "\"deep\":" + std::string(40, '[') + std::string(40, ']'));
       },
       {"nested more than 32 levels"}},
  };
}

TEST(DemoPreset, MalformedPresetsGiveConfigErrorsThatNameTheProblem) {
  const auto cases = malformedCases();
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto text = c.text();
    try {
      parseDemoPreset(text, "bad-demo.json");
      ADD_FAILURE() << "accepted: " << text.substr(0, 300);
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("bad-demo.json: ", 0), 0u) << message;
      for (const auto& part : c.expected) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
      }
    }
  }
}

TEST(DemoPreset, TheValidDocumentOfTheMalformedCasesIsAccepted) {
  // Guards the cases above: each must fail because of its own edit.
  EXPECT_NO_THROW(parseDemoPreset(validDocument().dump(), "good.json"));
  auto doc = validDocument();
  doc["steps"][0].erase("actions");
  EXPECT_TRUE(parseDemoPreset(doc.dump(), "good.json").steps[0].actions.empty());
}

TEST(DemoPreset, UnreadableFileIsAnIoErrorNamingIt) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  const auto missing = fs::path(dir.path().toStdString()) / "missing.json";
  try {
    loadDemoPreset(missing);
    FAIL() << "loaded a missing file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(loadDemoPreset(fs::path(dir.path().toStdString())), IoError);
}

TEST(DemoPreset, ListingSkipsAndReportsBrokenFiles) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  const fs::path folder = dir.path().toStdString();
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(folder / name) << text;
  };
  auto second = validDocument();
  second["id"] = "another";
  second["title"] = "Another demo";
  write("b.json", validDocument().dump());
  write("a.json", second.dump());
  write("broken.json", "{ \"format\": ");
  write("same-id.json", validDocument().dump());
  write("notes.txt", "not a preset");

  const auto catalog = listDemoPresets(folder);
  ASSERT_EQ(catalog.presets.size(), 2u);
  EXPECT_EQ(catalog.presets[0].title, "Another demo");
  EXPECT_EQ(catalog.presets[1].title, "Test demo");
  ASSERT_EQ(catalog.errors.size(), 2u);
  EXPECT_NE(catalog.errors[0].find("broken.json"), std::string::npos) << catalog.errors[0];
  EXPECT_NE(catalog.errors[0].find("not valid JSON"), std::string::npos) << catalog.errors[0];
  EXPECT_NE(catalog.errors[1].find("same-id.json"), std::string::npos) << catalog.errors[1];
  EXPECT_NE(catalog.errors[1].find("already used"), std::string::npos) << catalog.errors[1];

  const auto none = listDemoPresets(folder / "no-such-folder");
  EXPECT_TRUE(none.presets.empty());
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_NE(none.errors[0].find("no-such-folder"), std::string::npos) << none.errors[0];
}

}  // namespace
}  // namespace cs::gui
