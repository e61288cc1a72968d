// The offline main job end to end: `demo` in a fresh folder exits 0, leaves every promised file
// non-empty, its report references every image it ships (and only images that exist), the
// activation store and mask files are readable, and removing the induction head drops induction
// accuracy by more than 0.3 while the other head chosen barely matters.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "models/mask_file.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DemoCli, WritesTheReportWithEveryFigureAndShowsTheInductionHead) {
  test::TempDir dir;
  const auto out = dir / "demo";
  const auto r = test::runCli({"demo", "--out", out.string(), "--latency-runs", "2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("report: "), std::string::npos) << r.out;

  const auto summary = nlohmann::json::parse(readText(out / "summary.json"));
  std::vector<std::string> promised = summary["files"];
  promised.push_back(summary["store"]["file"]);
  promised.push_back(summary["hurtful"]["mask_file"]);
  promised.push_back(summary["harmless"]["mask_file"]);
  for (const auto& name : promised) {
    ASSERT_TRUE(fs::exists(out / name)) << name;
    EXPECT_GT(fs::file_size(out / name), 0u) << name;
  }

  // Every PNG in the folder is referenced by the report, and every reference exists.
  const auto html = readText(out / "report.html");
  std::set<std::string> referenced;
  const std::regex img("<img src=\"([^\"]+)\"");
  for (std::sregex_iterator it(html.begin(), html.end(), img), end; it != end; ++it) {
    referenced.insert((*it)[1]);
  }
  std::set<std::string> shipped;
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().extension() == ".png") shipped.insert(entry.path().filename().string());
  }
  EXPECT_EQ(referenced, shipped);
  EXPECT_GE(shipped.size(), 3u);

  // Every built-in model was evaluated and reaches what its manifest states.
  ASSERT_FALSE(summary["models"].empty());
  for (const auto& m : summary["models"]) {
    // Batches of another size may round a near-tie the other way: a few rows at most.
    EXPECT_GE(m["accuracy"].get<double>(), m["stated_test_accuracy"].get<double>() - 0.005)
        << m["name"];
  }

  // The induction head matters, the other head chosen does not.
  const double baseline = summary["head_ablation"]["baseline_accuracy"];
  const double without = summary["hurtful"]["accuracy_without"];
  EXPECT_GT(baseline - without, 0.3) << "baseline " << baseline << ", without " << without;
  EXPECT_LT(baseline - summary["harmless"]["accuracy_without"].get<double>(), 0.1);
  // Compacted and masked agree on accuracy in both experiments.
  for (const auto* key : {"hurtful", "harmless"}) {
    const auto& v = summary[key]["variants"];
    EXPECT_NEAR(v[1]["accuracy"].get<double>(), v[2]["accuracy"].get<double>(), 1e-9) << key;
    EXPECT_LT(v[2]["parameters"].get<int64_t>(), v[0]["parameters"].get<int64_t>()) << key;
  }
  // The mask files are valid mask documents.
  const auto mask = models::readMaskFile(out / summary["hurtful"]["mask_file"].get<std::string>());
  EXPECT_EQ(mask.masks.size(), 1u);
}

}  // namespace
}  // namespace cs
