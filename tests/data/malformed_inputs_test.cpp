// The malformed-input corpus of tests/data/bad: every case of cases.json is one test that calls
// the named loader on a bad file and expects the named circuitscope error with the given text.
// A crash, std::bad_alloc, a raw library exception or a silent success fails the case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <typeinfo>

#include "core/error.h"
#include "data/image.h"
#include "data/prompt_dataset.h"
#include "data/safetensors.h"
#include "data/store/activation_store_reader.h"
#include "data/store/results_reader.h"
#include "data/tokenizer.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_file.h"
#include "support/test_support.h"

namespace cs {
namespace {

namespace fs = std::filesystem;

struct BadInput {
  std::string name;
  std::string loader;
  std::string path;  ///< relative to tests/data/bad
  std::string error;
  std::string message;
};

/// gtest prints parameters in failure reports; the case name says it all.
void PrintTo(const BadInput& c, std::ostream* os) { *os << c.name << " (" << c.path << ")"; }

/// The cases of the manifest. An unreadable manifest gives one case that fails saying why (an
/// exception here would abort the binary before any test runs).
std::vector<BadInput> corpus() {
  std::vector<BadInput> out;
  try {
    std::ifstream in(test::dataPath("bad/cases.json"));
    const auto manifest = nlohmann::json::parse(in);
    for (const auto& c : manifest.at("cases")) {
      out.push_back({c.at("name"), c.at("loader"), c.at("path"), c.at("error"), c.at("message")});
    }
  } catch (const std::exception& e) {
    out = {{"ManifestUnreadable", "manifest", "cases.json", "none", e.what()}};
  }
  return out;
}

/// The fingerprint and config the mask cases are checked against: tests/data/hf/gpt2-tiny.
const std::pair<models::ModelFingerprint, models::TransformerConfig>& gpt2Tiny() {
  static const auto model = [] {
    const auto folder = test::dataPath("hf/gpt2-tiny");
    return std::make_pair(models::fingerprintOfFolder(folder), models::readHfConfig(folder));
  }();
  return model;
}

const std::map<std::string, std::function<void(const fs::path&)>>& loaders() {
  static const std::map<std::string, std::function<void(const fs::path&)>> table = {
      {"safetensors", [](const fs::path& p) { (void)data::SafetensorsFile::open(p); }},
      {"hf_model", [](const fs::path& p) { (void)models::loadHfModel(p); }},
      {"hf_config", [](const fs::path& p) { (void)models::readHfConfig(p); }},
      {"tokenizer", [](const fs::path& p) { (void)data::loadTokenizer(p); }},
      {"mask_file", [](const fs::path& p) { (void)models::readMaskFile(p); }},
      {"mask_for_gpt2_tiny",
       [](const fs::path& p) {
         const auto& [fingerprint, config] = gpt2Tiny();
         (void)models::loadMaskFile(p, fingerprint, config);
       }},
      {"prompt_lines", [](const fs::path& p) { (void)data::readPromptLines(p); }},
      {"image", [](const fs::path& p) { (void)data::decodeImage(p); }},
      {"activation_store", [](const fs::path& p) { data::ActivationStoreReader reader(p); }},
      {"result_table", [](const fs::path& p) { (void)data::readResultTable(p, "corpus", "run"); }},
  };
  return table;
}

/// The most derived project error class of `e`, as the manifest spells it.
std::string errorKind(const Error& e) {
  if (dynamic_cast<const IoError*>(&e)) return "IoError";
  if (dynamic_cast<const FormatError*>(&e)) return "FormatError";
  if (dynamic_cast<const ShapeError*>(&e)) return "ShapeError";
  if (dynamic_cast<const ConfigError*>(&e)) return "ConfigError";
  if (dynamic_cast<const NumericError*>(&e)) return "NumericError";
  if (dynamic_cast<const Cancelled*>(&e)) return "Cancelled";
  return "Error";
}

class MalformedInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(MalformedInput, IsRefusedWithAClearProjectError) {
  const auto& c = GetParam();
  const auto loader = loaders().find(c.loader);
  ASSERT_NE(loader, loaders().end())
      << c.name << ": unknown loader '" << c.loader << "' (" << c.message << ")";
  const auto path = test::dataPath("bad/" + c.path);
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run tests/data/bad/generate.py";
  try {
    loader->second(path);
  } catch (const Error& e) {
    EXPECT_EQ(errorKind(e), c.error) << "message: " << e.what();
    EXPECT_THAT(e.what(), ::testing::HasSubstr(c.message));
    return;
  } catch (const std::bad_alloc&) {
    FAIL() << "std::bad_alloc: a size from the file was allocated before it was checked";
  } catch (const std::exception& e) {
    FAIL() << "a raw " << typeid(e).name() << " leaked: " << e.what();
  }
  FAIL() << "accepted without an error; expected " << c.error << " with '" << c.message << "'";
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedInput, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<BadInput>& info) {
                           return info.param.name;
                         });

TEST(MalformedInputCorpus, HasAtLeastThirtyUniquelyNamedCasesOverEveryLoader) {
  const auto cases = corpus();
  EXPECT_GE(cases.size(), 30u);
  std::set<std::string> names, used;
  for (const auto& c : cases) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case " << c.name;
    used.insert(c.loader);
  }
  for (const auto& [name, fn] : loaders()) EXPECT_TRUE(used.count(name)) << name << " has no case";
}

}  // namespace
}  // namespace cs
