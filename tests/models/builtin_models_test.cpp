// builtin:NAME resolution: shipped names resolve to resources/models/NAME, plain paths pass
// through, an unknown name is an error listing the available ones, and CIRCUITSCOPE_RESOURCES
// decides where the names come from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "core/error.h"
#include "core/resources.h"
#include "models/loaders/builtin_models.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

// Sets CIRCUITSCOPE_RESOURCES for one test and restores it.
class ResourcesEnv {
 public:
  explicit ResourcesEnv(const std::string& value) {
    if (const char* old = std::getenv(kResourcesEnv)) m_old = old;
    ::setenv(kResourcesEnv, value.c_str(), 1);
  }
  ~ResourcesEnv() {
    if (m_old) {
      ::setenv(kResourcesEnv, m_old->c_str(), 1);
    } else {
      ::unsetenv(kResourcesEnv);
    }
  }

 private:
  std::optional<std::string> m_old;
};

TEST(BuiltinModels, ShippedNamesResolveToTheirResourceFolders) {
  const auto names = builtinModelNames();
  for (const std::string expected : {"induction", "modadd", "digits-vit"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  const auto folder = resolveModelFolder("builtin:induction");
  EXPECT_EQ(folder, resourcePath("models/induction"));
  EXPECT_TRUE(std::filesystem::is_regular_file(folder / "config.json"));
  EXPECT_TRUE(std::filesystem::is_regular_file(folder / "model.safetensors"));
}

TEST(BuiltinModels, PlainPathsPassThrough) {
  EXPECT_EQ(resolveModelFolder("some/folder"), std::filesystem::path("some/folder"));
  EXPECT_EQ(resolveModelFolder("builtin"), std::filesystem::path("builtin"));
}

TEST(BuiltinModels, UnknownNameListsTheAvailableOnes) {
  const auto message = test::messageOf<ConfigError>([] { resolveModelFolder("builtin:gpt5"); });
  EXPECT_NE(message.find("'gpt5'"), std::string::npos) << message;
  EXPECT_NE(message.find("induction"), std::string::npos) << message;
  EXPECT_NE(message.find("modadd"), std::string::npos) << message;
}

TEST(BuiltinModels, NamesComeFromTheResourcesFolderInUse) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "models/tiny");
  std::filesystem::create_directories(dir / "models/not-a-model");  // no config.json
  std::ofstream(dir / "models/tiny/config.json") << "{}";
  ResourcesEnv env(dir.path().string());
  EXPECT_EQ(builtinModelNames(), std::vector<std::string>{"tiny"});
  EXPECT_EQ(resolveModelFolder("builtin:tiny"), dir.path() / "models/tiny");
  const auto message = test::messageOf<ConfigError>([] { resolveModelFolder("builtin:x"); });
  EXPECT_NE(message.find("available: tiny"), std::string::npos) << message;
}

}  // namespace
}  // namespace cs::models
