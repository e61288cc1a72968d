// The offline main job end to end: `demo` in a fresh folder exits 0, leaves every promised file
// non-empty, its report references every image it ships (and only images that exist) and
// nothing outside its folder, shows the numbers summary.json holds, the mask files are
// readable, and removing the most harmful head drops induction accuracy by more than 0.3 while
// the other head chosen barely matters. A failed demo leaves no partial output.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "models/loaders/builtin_models.h"
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
  // Self-contained: no stylesheet, script or image from elsewhere.
  EXPECT_EQ(html.find("://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / ".demo-partial"));

  // Every built-in model was evaluated and reaches what its manifest states.
  ASSERT_FALSE(summary["models"].empty());
  for (const auto& m : summary["models"]) {
    // Batches of another size may round a near-tie the other way: a few rows at most.
    EXPECT_GE(m["accuracy"].get<double>(), m["stated_test_accuracy"].get<double>() - 0.005)
        << m["name"];
  }

  // One head of the induction circuit matters, the other head chosen does not. (In the shipped
  // model the indispensable head is in layer 0; no single layer-1 head is, they back each other
  // up.)
  const double baseline = summary["head_ablation"]["baseline_accuracy"];
  const double without = summary["hurtful"]["accuracy_without"];
  EXPECT_GT(baseline - without, 0.3) << "baseline " << baseline << ", without " << without;
  EXPECT_LT(baseline - summary["harmless"]["accuracy_without"].get<double>(), 0.1);
  // The report's ablation table and pruning sections show those heads and numbers.
  for (const auto* key : {"hurtful", "harmless"}) {
    const auto head = std::to_string(summary[key]["layer"].get<int>()) + "." +
                      std::to_string(summary[key]["head"].get<int>());
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.4f",
                  summary[key]["accuracy_without"].get<double>());
    EXPECT_NE(html.find("<tr><td>" + head + "</td><td>" + accuracy + "</td>"), std::string::npos)
        << key << " " << head << " " << accuracy;
    EXPECT_NE(html.find("<h3>Head " + head + " removed</h3>"), std::string::npos) << key;
  }
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

TEST(DemoCli, AFailedRunLeavesNoPartialOutput) {
  // Resources whose only built-in model has a manifest without its test set: the demo fails.
  test::TempDir resources;
  const auto model = resources / "models/induction";
  test::copyModelFolder(models::resolveModelFolder("builtin:induction"), model);
  std::ofstream(model / "manifest.json") << R"({"recipe": "induction"})";
  const std::map<std::string, std::string> env{{"CIRCUITSCOPE_RESOURCES", resources.path()}};

  test::TempDir dir;
  const auto fresh = dir / "fresh";
  auto r = test::runCli({"demo", "--out", fresh.string()}, env);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("\"test_dataset\" is missing"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fresh)) << "a folder the failed run created stays behind";

  // A folder that existed keeps what it held, and only that.
  const auto earlier = dir / "earlier";
  fs::create_directories(earlier);
  std::ofstream(earlier / "report.html") << "an earlier report";
  r = test::runCli({"demo", "--out", earlier.string()}, env);
  EXPECT_EQ(r.exitCode, 1);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(earlier)) {
    left.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(left, std::vector<std::string>{"report.html"});
  EXPECT_EQ(readText(earlier / "report.html"), "an earlier report");
}

}  // namespace
}  // namespace cs
