// Mask files: exact round trips, the exact text of one small file, refusal of a mask made for
// another model (other family, other weights) with a message naming what differs, clear errors
// for every kind of malformed document, and the copy kept inside an HDF5 store.
#include "models/mask_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "data/store/activation_store_reader.h"
#include "data/store/activation_store_writer.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

namespace fs = std::filesystem;
using hooks::AblationMode;
using hooks::MaskComponent;
using hooks::MaskEntry;
using hooks::MaskSet;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

struct LoadedModel {
  TransformerConfig config;
  ModelFingerprint fingerprint;
};

LoadedModel loadFixture(const fs::path& folder) {
  return {readHfConfig(folder), fingerprintOfFolder(folder)};
}

const LoadedModel& gpt2Tiny() {
  static const auto model = loadFixture(test::dataPath("hf/gpt2-tiny"));
  return model;
}

const LoadedModel& llamaTiny() {
  static const auto model = loadFixture(test::dataPath("hf/llama-tiny"));
  return model;
}

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Every component under every mode it can take, with scale factors that do not survive a
// round trip through fewer than 17 significant digits.
MaskSet everyKindOfEntry() {
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, AblationMode::Zero});
  masks.set({MaskComponent::Head, 1, 3, AblationMode::Mean});
  masks.set({MaskComponent::Head, 1, 0, AblationMode::Resample});
  masks.set({MaskComponent::Head, 0, 2, AblationMode::Scale, 1.0 / 3.0});
  masks.set({MaskComponent::Neuron, 0, 255, AblationMode::Zero});
  masks.set({MaskComponent::Neuron, 1, 17, AblationMode::Mean});
  masks.set({MaskComponent::Neuron, 1, 18, AblationMode::Resample});
  masks.set({MaskComponent::Neuron, 0, 7, AblationMode::Scale, -2.5e-7});
  masks.set({MaskComponent::AttnSublayer, 0, -1, AblationMode::Zero});
  masks.set({MaskComponent::AttnSublayer, 1, -1, AblationMode::Scale, 0.1});
  masks.set({MaskComponent::MlpSublayer, 0, -1, AblationMode::Mean});
  masks.set({MaskComponent::MlpSublayer, 1, -1, AblationMode::Resample});
  masks.set({MaskComponent::Block, 0, -1, AblationMode::Scale, 3.141592653589793});
  masks.set({MaskComponent::Block, 1, -1, AblationMode::Zero});
  return masks;
}

// ---- round trips and content ----------------------------------------------------------------

TEST(MaskFile, RoundTripKeepsEveryComponentModeAndScaleExactly) {
  test::TempDir dir;
  const auto& model = gpt2Tiny();
  const auto masks = everyKindOfEntry();
  saveMaskFile(dir / "mask.json", masks, model.fingerprint, "all kinds");
  EXPECT_FALSE(fs::exists(dir / "mask.json.tmp"));
  const auto loaded = loadMaskFile(dir / "mask.json", model.fingerprint, model.config);
  EXPECT_EQ(loaded, masks);
  const auto back = loaded.find(MaskComponent::Neuron, 0, 7);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->value, -2.5e-7);  // bit-exact, not approximately

  const auto document = readMaskFile(dir / "mask.json");
  EXPECT_EQ(document.description, "all kinds");
  EXPECT_EQ(document.model, model.fingerprint);
  EXPECT_EQ(maskFromJson(maskToJson(masks, model.fingerprint), model.fingerprint, model.config),
            masks);
}

TEST(MaskFile, EmptyMaskRoundTrips) {
  test::TempDir dir;
  const auto& model = gpt2Tiny();
  saveMaskFile(dir / "empty.json", {}, model.fingerprint);
  EXPECT_TRUE(loadMaskFile(dir / "empty.json", model.fingerprint, model.config).empty());
}

TEST(MaskFile, SmallMaskHasExactlyTheDocumentedText) {
  test::TempDir dir;
  ModelFingerprint model;
  model.family = "gpt2";
  model.modelType = "gpt2";
  model.configSha256 = std::string(64, 'a');
  model.weightsSha256 = std::string(64, 'b');
  model.nLayers = 2;
  model.nHeads = {4, 4};
  model.dMlp = {256, 256};
  MaskSet masks;
  masks.set({MaskComponent::Head, 1, 2, AblationMode::Zero});
  masks.set({MaskComponent::MlpSublayer, 0, -1, AblationMode::Scale, 0.5});
  saveMaskFile(dir / "small.json", masks, model, "two entries");
  const std::string a(64, 'a'), b(64, 'b');
  std::string expectedText = R"({
  "format": "circuitscope-mask",
  "version": 1,
  "description": "two entries",
  "model": {
    "family": "gpt2",
    "model_type": "gpt2",
    "config_sha256": "AAA",
    "weights_sha256": "BBB",
    "n_layers": 2,
    "n_heads": [4, 4],
    "d_mlp": [256, 256]
  },
  "entries": [
    {"component": "head", "layer": 1, "index": 2, "mode": "zero", "hook": "blocks.1.attn.hook_z", "hf_module": "transformer.h.1.attn.c_proj"},
    {"component": "mlp", "layer": 0, "mode": "scale", "value": 0.5, "hook": "blocks.0.hook_mlp_out", "hf_module": "transformer.h.0.mlp"}
  ]
}
)";
  expectedText.replace(expectedText.find("AAA"), 3, a);
  expectedText.replace(expectedText.find("BBB"), 3, b);
  EXPECT_EQ(readText(dir / "small.json"), expectedText);
  // The same content as a JSON value (key order aside).
  const json expected = {{"format", "circuitscope-mask"},
                         {"version", 1},
                         {"description", "two entries"},
                         {"model",
                          {{"family", "gpt2"},
                           {"model_type", "gpt2"},
                           {"config_sha256", a},
                           {"weights_sha256", b},
                           {"n_layers", 2},
                           {"n_heads", {4, 4}},
                           {"d_mlp", {256, 256}}}},
                         {"entries",
                          {{{"component", "head"},
                            {"layer", 1},
                            {"index", 2},
                            {"mode", "zero"},
                            {"hook", "blocks.1.attn.hook_z"},
                            {"hf_module", "transformer.h.1.attn.c_proj"}},
                           {{"component", "mlp"},
                            {"layer", 0},
                            {"mode", "scale"},
                            {"value", 0.5},
                            {"hook", "blocks.0.hook_mlp_out"},
                            {"hf_module", "transformer.h.0.mlp"}}}}};
  EXPECT_EQ(json(maskToJson(masks, model, "two entries")), expected);
  EXPECT_EQ(json::parse(readText(dir / "small.json")), expected);
}

TEST(MaskFile, HookNamesAndHuggingFaceModulesPerFamily) {
  const MaskEntry head{MaskComponent::Head, 3, 1};
  const MaskEntry neuron{MaskComponent::Neuron, 3, 9};
  const MaskEntry attn{MaskComponent::AttnSublayer, 3};
  const MaskEntry mlp{MaskComponent::MlpSublayer, 3};
  const MaskEntry block{MaskComponent::Block, 3};
  EXPECT_EQ(maskHookName(head), "blocks.3.attn.hook_z");
  EXPECT_EQ(maskHookName(neuron), "blocks.3.mlp.hook_post");
  EXPECT_EQ(maskHookName(attn), "blocks.3.hook_attn_out");
  EXPECT_EQ(maskHookName(mlp), "blocks.3.hook_mlp_out");
  EXPECT_EQ(maskHookName(block), "blocks.3.hook_resid_post");

  using Row = std::array<std::string, 5>;  // head, neuron, attn, mlp, block
  auto paths = [&](const std::string& family) {
    Row row;
    const MaskEntry* entries[] = {&head, &neuron, &attn, &mlp, &block};
    for (int i = 0; i < 5; ++i) row[i] = hfModulePath(family, *entries[i]).value_or("(none)");
    return row;
  };
  EXPECT_EQ(paths("gpt2"), (Row{"transformer.h.3.attn.c_proj", "transformer.h.3.mlp.c_proj",
                                "transformer.h.3.attn", "transformer.h.3.mlp", "transformer.h.3"}));
  EXPECT_EQ(paths("llama"),
            (Row{"model.layers.3.self_attn.o_proj", "model.layers.3.mlp.down_proj",
                 "model.layers.3.self_attn", "model.layers.3.mlp", "model.layers.3"}));
  EXPECT_EQ(paths("vit"), (Row{"vit.encoder.layer.3.attention.output.dense",
                               "vit.encoder.layer.3.output.dense", "vit.encoder.layer.3.attention",
                               "vit.encoder.layer.3.output.dense", "vit.encoder.layer.3"}));
  EXPECT_EQ(paths("circuitscope"), (Row{"(none)", "(none)", "(none)", "(none)", "(none)"}));
}

TEST(MaskFile, FamiliesWithoutHuggingFaceNamesWriteNullAndRefuseAName) {
  ModelFingerprint model{"circuitscope", "circuitscope", "", "", 1, {2}, {8}};
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, AblationMode::Zero});
  auto document = json(maskToJson(masks, model));
  EXPECT_TRUE(document["entries"][0]["hf_module"].is_null());
  EXPECT_TRUE(document["model"]["config_sha256"].is_null());
  EXPECT_TRUE(document["model"]["weights_sha256"].is_null());
  EXPECT_EQ(parseMaskDocument(document, "m.json").masks, masks);
  document["entries"][0]["hf_module"] = "model.layers.0.self_attn.o_proj";
  EXPECT_THAT(test::messageOf<FormatError>([&] { parseMaskDocument(document, "m.json"); }),
              HasSubstr("m.json: entries[0].hf_module must be null"));
}

TEST(MaskFile, ExportRefusesEntriesNoFileCanHold) {
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, AblationMode::Scale, std::nan("")});
  EXPECT_THAT(
      test::messageOf<ConfigError>([&] { (void)maskToJson(masks, gpt2Tiny().fingerprint); }),
      HasSubstr("head 0.1: the scale factor is not a finite number"));
  MaskSet noIndex;
  noIndex.set({MaskComponent::Neuron, 0, -1, AblationMode::Zero});
  EXPECT_THAT(
      test::messageOf<ConfigError>([&] { (void)maskToJson(noIndex, gpt2Tiny().fingerprint); }),
      HasSubstr("the index is missing"));
}

// ---- fingerprints ---------------------------------------------------------------------------

TEST(MaskFile, FingerprintOfAFolder) {
  const auto& f = gpt2Tiny().fingerprint;
  EXPECT_EQ(f.family, "gpt2");
  EXPECT_EQ(f.modelType, "gpt2");
  EXPECT_EQ(f.nLayers, 2);
  EXPECT_EQ(f.nHeads, (std::vector<int>{4, 4}));
  EXPECT_EQ(f.dMlp, (std::vector<int>{256, 256}));
  EXPECT_EQ(f.configSha256.size(), 64u);
  EXPECT_EQ(f.weightsSha256.size(), 64u);
  // What Python computes (docs/masks.md): sha256(json.dumps(config, sort_keys=True,
  // separators=(",", ":"), ensure_ascii=False)); the Llama config holds floats such as 10000.0.
  EXPECT_EQ(f.configSha256, "b61d47b634e65681023ca58949f179e065d5ac628fde5aaab3b77d43d5f3e1c8");
  EXPECT_EQ(llamaTiny().fingerprint.configSha256,
            "68df880823d82328c5791d97a3a19f59bd95f71592e8cde11da95d2ad78447f8");
  // A single model.safetensors: what sha256sum prints.
  EXPECT_EQ(f.weightsSha256, "00b02ade8ae735ce0faef060c4d5d9644fe21dbad0b9e7f32918ca16efdf9c47");
}

TEST(MaskFile, ConfigDigestIgnoresWhitespaceAndKeyOrder) {
  test::TempDir dir;
  test::copyModelFolder(test::dataPath("hf/gpt2-tiny"), dir / "m");
  const auto config = json::parse(readText(dir / "m" / "config.json"));
  writeText(dir / "m" / "config.json", config.dump());  // compact, keys sorted
  EXPECT_EQ(fingerprintOfFolder(dir / "m"), gpt2Tiny().fingerprint);

  auto changed = config;
  changed["layer_norm_epsilon"] = 1e-6;
  writeText(dir / "m" / "config.json", changed.dump(4));
  EXPECT_NE(fingerprintOfFolder(dir / "m").configSha256, gpt2Tiny().fingerprint.configSha256);
}

TEST(MaskFile, InMemoryModelsHaveNoDigests) {
  const auto f = fingerprintOf(gpt2Tiny().config, data::ModelIdentity{});
  EXPECT_EQ(f.configSha256, "");
  EXPECT_EQ(f.weightsSha256, "");
  EXPECT_EQ(f.nHeads, gpt2Tiny().fingerprint.nHeads);
}

// ---- masks for other models ------------------------------------------------------------------

TEST(MaskFile, MaskForAnotherFamilyIsRefusedNamingEveryDifference) {
  test::TempDir dir;
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, AblationMode::Zero});
  saveMaskFile(dir / "gpt2.json", masks, gpt2Tiny().fingerprint);
  const auto& llama = llamaTiny();
  const auto message = test::messageOf<ConfigError>(
      [&] { (void)loadMaskFile(dir / "gpt2.json", llama.fingerprint, llama.config); });
  EXPECT_THAT(message, HasSubstr("gpt2.json: the mask was made for a different model"));
  EXPECT_THAT(message, HasSubstr("family \"gpt2\" there, \"llama\" here"));
  EXPECT_THAT(message, HasSubstr("model_type \"gpt2\" there, \"llama\" here"));
  EXPECT_THAT(message,
              HasSubstr("config.json sha256 " + gpt2Tiny().fingerprint.configSha256.substr(0, 12) +
                        "… there, " + llama.fingerprint.configSha256.substr(0, 12) + "… here"));
  EXPECT_THAT(message, HasSubstr("weights sha256"));
  EXPECT_THAT(message, HasSubstr("MLP widths [256, 256] there, [96, 96] here"));
  EXPECT_THAT(message, Not(HasSubstr("heads per layer")));  // both have 4 and 4
  EXPECT_THAT(message, HasSubstr("Load the model it was made for"));
}

TEST(MaskFile, SameArchitectureWithOtherWeightsIsRefusedUnlessTheDigestIsCleared) {
  test::TempDir dir;
  test::copyModelFolder(test::dataPath("hf/gpt2-tiny"), dir / "changed");
  {
    // The last byte of the data area changes: one weight differs.
    std::fstream file(dir / "changed" / "model.safetensors",
                      std::ios::binary | std::ios::in | std::ios::out);
    file.seekg(-1, std::ios::end);
    char c = 0;
    file.get(c);
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(c ^ 0x01));
  }
  const auto changed = loadFixture(dir / "changed");
  EXPECT_EQ(changed.fingerprint.configSha256, gpt2Tiny().fingerprint.configSha256);
  ASSERT_NE(changed.fingerprint.weightsSha256, gpt2Tiny().fingerprint.weightsSha256);

  MaskSet masks;
  masks.set({MaskComponent::Neuron, 1, 200, AblationMode::Zero});
  saveMaskFile(dir / "mask.json", masks, gpt2Tiny().fingerprint);
  const auto message = test::messageOf<ConfigError>(
      [&] { (void)loadMaskFile(dir / "mask.json", changed.fingerprint, changed.config); });
  EXPECT_THAT(message,
              HasSubstr("(weights sha256 " + gpt2Tiny().fingerprint.weightsSha256.substr(0, 12) +
                        "… there, " + changed.fingerprint.weightsSha256.substr(0, 12) + "… here)"));
  EXPECT_THAT(message, Not(HasSubstr("family")));
  EXPECT_THAT(message, Not(HasSubstr("config.json")));
  EXPECT_THAT(message, HasSubstr("set \"weights_sha256\" to null"));

  // Clearing the digest by hand is the deliberate way to accept other weights.
  auto document = json::parse(readText(dir / "mask.json"));
  document["model"]["weights_sha256"] = nullptr;
  writeText(dir / "mask.json", document.dump(2));
  EXPECT_EQ(loadMaskFile(dir / "mask.json", changed.fingerprint, changed.config), masks);
}

TEST(MaskFile, OtherLayerOrHeadCountsAreNamed) {
  auto fewer = gpt2Tiny().fingerprint;
  fewer.nLayers = 1;
  fewer.nHeads = {4};
  fewer.dMlp = {256};
  fewer.configSha256.clear();
  fewer.weightsSha256.clear();
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 0, AblationMode::Zero});
  const auto document = json(maskToJson(masks, gpt2Tiny().fingerprint));
  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { (void)maskFromJson(document, fewer, gpt2Tiny().config, "m"); }),
              HasSubstr("(n_layers 2 there, 1 here)"));
  auto pruned = gpt2Tiny().fingerprint;
  pruned.nHeads = {4, 3};
  pruned.configSha256.clear();
  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { (void)maskFromJson(document, pruned, gpt2Tiny().config, "m"); }),
              HasSubstr("(heads per layer [4, 4] there, [4, 3] here)"));
}

TEST(MaskFile, EntriesAreCheckedAgainstTheLoadedConfigToo) {
  // A document whose fingerprint has no digests and claims more heads than the loaded model has
  // gets through the fingerprint only if the counts agree; validateMasks still guards the
  // config the masks will be applied to.
  auto claimed = gpt2Tiny().fingerprint;
  claimed.configSha256.clear();
  claimed.weightsSha256.clear();
  auto config = gpt2Tiny().config;
  config.nHeads = {4, 2};  // the fingerprint says 4, 4
  MaskSet masks;
  masks.set({MaskComponent::Head, 1, 3, AblationMode::Mean});
  const auto document = json(maskToJson(masks, claimed));
  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { (void)maskFromJson(document, claimed, config, "m.json"); }),
              HasSubstr("m.json: mask entry head 1.3: layer 1 has 2 heads"));
}

// ---- malformed documents -------------------------------------------------------------------

json validDocument() {
  MaskSet masks;
  masks.set({MaskComponent::Head, 0, 1, AblationMode::Zero});
  masks.set({MaskComponent::Neuron, 1, 5, AblationMode::Scale, 2.0});
  masks.set({MaskComponent::Block, 1, -1, AblationMode::Mean});
  return json(maskToJson(masks, gpt2Tiny().fingerprint));
}

struct Malformed {
  std::string name;
  std::function<void(json&)> edit;
  std::string message;
};

TEST(MaskFile, MalformedDocumentsAreRefusedWithTheFieldAndEntryNamed) {
  const std::vector<Malformed> cases{
      {"not an object",
       [](json& d) {
         d = json::array({1, 2});
       },
       "m.json: not a mask file"},
      {"wrong format", [](json& d) { d["format"] = "circuitscope.activations"; },
       "m.json: not a circuitscope mask (\"format\" is \"circuitscope.activations\", expected "
       "\"circuitscope-mask\")"},
      {"no format", [](json& d) { d.erase("format"); }, "m.json: format is missing"},
      {"newer version", [](json& d) { d["version"] = 2; },
       "m.json: mask format version 2 was written by a newer circuitscope (this one reads up to "
       "version 1); update circuitscope"},
      {"version as text", [](json& d) { d["version"] = "1"; },
       "m.json: version must be an integer, got \"1\""},
      {"version zero", [](json& d) { d["version"] = 0; }, "m.json: version is 0, out of range"},
      {"unknown key", [](json& d) { d["comment"] = "x"; },
       "m.json: key \"comment\" is not part of the mask format"},
      {"missing model", [](json& d) { d.erase("model"); }, "m.json: model is missing"},
      {"missing family", [](json& d) { d["model"].erase("family"); },
       "m.json: model.family is missing"},
      {"short digest", [](json& d) { d["model"]["weights_sha256"] = "abc"; },
       "m.json: model.weights_sha256 must be 64 lower-case hex digits or null, got \"abc\""},
      {"heads list too short", [](json& d) { d["model"]["n_heads"] = {4}; },
       "m.json: model.n_heads has 1 values; n_layers is 2"},
      {"negative width", [](json& d) { d["model"]["d_mlp"][1] = -1; },
       "m.json: model.d_mlp[1] is -1, out of range"},
      {"entries not an array", [](json& d) { d["entries"] = json::object(); },
       "m.json: entries must be an array, got an object"},
      {"entry not an object", [](json& d) { d["entries"][1] = 3; },
       "m.json: entries[1] must be an object, got 3"},
      {"missing mode", [](json& d) { d["entries"][1].erase("mode"); },
       "m.json: entries[1].mode is missing"},
      {"unknown mode", [](json& d) { d["entries"][0]["mode"] = "ablate"; },
       "m.json: entries[0].mode \"ablate\" is not one of zero, mean, resample, scale"},
      {"unknown component", [](json& d) { d["entries"][0]["component"] = "heads"; },
       "m.json: entries[0].component \"heads\" is not one of head, neuron, attn, mlp, block"},
      {"layer as text", [](json& d) { d["entries"][2]["layer"] = "1"; },
       "m.json: entries[2].layer must be an integer, got \"1\""},
      {"fractional layer", [](json& d) { d["entries"][2]["layer"] = 1.5; },
       "m.json: entries[2].layer must be an integer, got 1.5"},
      {"layer out of range", [](json& d) { d["entries"][2]["layer"] = 2; },
       "m.json: entries[2].layer is 2 but the model has layers 0 to 1"},
      {"head out of range", [](json& d) { d["entries"][0]["index"] = 4; },
       "m.json: entries[0].index is 4 but layer 0 of the model has 4 heads"},
      {"neuron out of range", [](json& d) { d["entries"][1]["index"] = 256; },
       "m.json: entries[1].index is 256 but layer 1 of the model has 256 MLP neurons"},
      {"negative index", [](json& d) { d["entries"][0]["index"] = -1; },
       "m.json: entries[0].index is -1, out of range"},
      {"missing index", [](json& d) { d["entries"][0].erase("index"); },
       "m.json: entries[0].index is missing (a head needs one)"},
      {"index on a block", [](json& d) { d["entries"][2]["index"] = 0; },
       "m.json: entries[2].index is not allowed: a block entry takes no index"},
      {"missing scale value", [](json& d) { d["entries"][1].erase("value"); },
       "m.json: entries[1].value is missing"},
      {"scale value as text", [](json& d) { d["entries"][1]["value"] = "2"; },
       "m.json: entries[1].value must be a finite number, got \"2\""},
      {"value without scale", [](json& d) { d["entries"][0]["value"] = 0.5; },
       "m.json: entries[0].value is only allowed with mode \"scale\""},
      {"unknown entry key", [](json& d) { d["entries"][0]["indx"] = 1; },
       "m.json: entries[0].indx is not part of the mask format"},
      {"duplicate target",
       [](json& d) {
         auto again = d["entries"][0];
         again["mode"] = "mean";
         d["entries"].push_back(again);
       },
       "m.json: entries[3] targets head 0.1 again (entries[0] already does); keep one of them"},
      {"hook disagrees", [](json& d) { d["entries"][0]["hook"] = "blocks.1.attn.hook_z"; },
       "m.json: entries[0].hook is \"blocks.1.attn.hook_z\" but a head 0.1 acts on "
       "\"blocks.0.attn.hook_z\"; fix one of them"},
      {"hook of another kind", [](json& d) { d["entries"][1]["hook"] = "blocks.1.mlp.hook_pre"; },
       "m.json: entries[1].hook is \"blocks.1.mlp.hook_pre\" but a neuron 1.5 acts on "
       "\"blocks.1.mlp.hook_post\""},
      {"hf_module disagrees", [](json& d) { d["entries"][2]["hf_module"] = "transformer.h.0"; },
       "m.json: entries[2].hf_module is \"transformer.h.0\" but a block 1 of a gpt2 model is "
       "\"transformer.h.1\""},
      {"description not text", [](json& d) { d["description"] = 5; },
       "m.json: description must be a string, got 5"},
  };
  const auto& model = gpt2Tiny();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto document = validDocument();
    c.edit(document);
    EXPECT_THAT(test::messageOf<FormatError>([&] {
                  (void)maskFromJson(document, model.fingerprint, model.config, "m.json");
                }),
                HasSubstr(c.message));
  }
  // Informative fields may be left out or nulled by hand.
  auto document = validDocument();
  document["entries"][0].erase("hook");
  document["entries"][0].erase("hf_module");
  document["entries"][1]["hf_module"] = nullptr;
  EXPECT_EQ(maskFromJson(document, model.fingerprint, model.config).size(), 3u);
}

TEST(MaskFile, UnreadableFilesAreRefusedClearly) {
  test::TempDir dir;
  const auto& model = gpt2Tiny();
  auto load = [&](const fs::path& path) {
    (void)loadMaskFile(path, model.fingerprint, model.config);
  };
  EXPECT_THAT(test::messageOf<IoError>([&] { load(dir / "absent.json"); }),
              HasSubstr("absent.json"));
  writeText(dir / "bad.json", "{\"format\": \"circuitscope-mask\", ");
  EXPECT_THAT(test::messageOf<FormatError>([&] { load(dir / "bad.json"); }),
              HasSubstr("bad.json: not valid JSON"));
  writeText(dir / "deep.json", std::string(100, '[') + std::string(100, ']'));
  EXPECT_THAT(test::messageOf<FormatError>([&] { load(dir / "deep.json"); }),
              HasSubstr("deep.json: JSON is nested more than 8 levels deep"));
}

// ---- inside an HDF5 store ------------------------------------------------------------------

void writeSmallStore(const fs::path& path) {
  data::StoreLayout layout;
  layout.model = {"gpt2", "{}", gpt2Tiny().fingerprint.weightsSha256, "tiny"};
  layout.dataset = "test";
  layout.positions = "all";
  layout.activations = {{"blocks.0.hook_resid_post", {2}, "example,d_model", at::kFloat}};
  auto writer = data::ActivationStoreWriter::open(path, layout, {}, data::StoreOpenMode::Create);
  data::StoreBatch batch;
  batch.activations.push_back(at::ones({3, 2}));
  writer->write(batch);
  writer->markComplete();
}

TEST(MaskFile, StoreCopyRoundTripsAndIsCheckedLikeAFile) {
  test::TempDir dir;
  const auto store = dir / "store.h5";
  writeSmallStore(store);
  const auto& model = gpt2Tiny();
  const auto masks = everyKindOfEntry();
  EXPECT_TRUE(listStoreMasks(store).empty());
  saveMaskToStore(store, "circuit", masks, model.fingerprint, "found by patching");
  saveMaskToStore(store, "ablate-all", {}, model.fingerprint);
  EXPECT_EQ(listStoreMasks(store), (std::vector<std::string>{"ablate-all", "circuit"}));
  EXPECT_EQ(loadMaskFromStore(store, "circuit", model.fingerprint, model.config), masks);

  {
    // The store is still a store.
    const data::ActivationStoreReader reader(store);
    EXPECT_EQ(reader.rows(), 3);
  }

  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { saveMaskToStore(store, "circuit", {}, model.fingerprint); }),
              HasSubstr("already holds /masks/circuit"));
  saveMaskToStore(store, "circuit", {}, model.fingerprint, "", /*replace=*/true);
  EXPECT_TRUE(loadMaskFromStore(store, "circuit", model.fingerprint, model.config).empty());

  const auto& llama = llamaTiny();
  EXPECT_THAT(test::messageOf<ConfigError>([&] {
                (void)loadMaskFromStore(store, "ablate-all", llama.fingerprint, llama.config);
              }),
              HasSubstr("store.h5 /masks/ablate-all: the mask was made for a different model"));
  EXPECT_THAT(test::messageOf<ConfigError>([&] {
                (void)loadMaskFromStore(store, "missing", model.fingerprint, model.config);
              }),
              HasSubstr("(documents in /masks: ablate-all, circuit)"));
}

}  // namespace
}  // namespace cs::models
