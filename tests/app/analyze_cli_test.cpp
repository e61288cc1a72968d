// End-to-end tests of `analyze`: each subcommand on a built-in model, its JSON on stdout, the
// table it saves under /results/<analysis>/<run> (read back and compared with the JSON), and
// clear errors for bad requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/store/results_reader.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace cs {
namespace {

using nlohmann::json;
using test::runCli;
using ::testing::HasSubstr;

TEST(AnalyzeCli, WithoutAnAnalysisListsThem) {
  const auto r = runCli({"analyze"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.out + r.err, HasSubstr("similarity"));
}

TEST(AnalyzeCli, SimilarityDropCurveIsSavedAsPrinted) {
  test::TempDir dir;
  const auto file = (dir / "results.h5").string();
  const auto j = test::stdoutJson(runCli({"analyze",   "similarity",  "builtin:digits-vit",
                                          "--dataset", "digits-test", "--limit",
                                          "64",        "--mode",      "discrete",
                                          "--target",  "attn",        "--drop-n",
                                          "2",         "--curve",     "--eval-limit",
                                          "64",        "--json",      "--save",
                                          file,        "--run",       "attn"}));
  ASSERT_EQ(j["curve"].size(), 3u) << j.dump(2);
  // k = 0 is the untouched model; each later point drops one more attention sublayer.
  EXPECT_EQ(j["curve"][0]["modules"], "nothing");
  ASSERT_EQ(j["dropped"].size(), 2u);
  EXPECT_EQ(j["dropped"][0]["kind"], "attn");

  const auto table = data::readResultTable(file, "layer_similarity", "attn");
  EXPECT_EQ(json::parse(table.optionsJson)["drop_n"], 2);
  const auto& record = table.column("record").texts;
  const auto& accuracy = table.column("accuracy").reals;
  std::vector<double> saved;
  for (std::size_t i = 0; i < record.size(); ++i) {
    if (record[i] == "curve") saved.push_back(accuracy[i]);
  }
  ASSERT_EQ(saved.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(saved[k], j["curve"][k]["accuracy"].get<double>());
  }
}

TEST(AnalyzeCli, CkaMatrixIsSymmetricWithUnitDiagonalAndSaved) {
  test::TempDir dir;
  const auto file = (dir / "results.h5").string();
  const auto j =
      test::stdoutJson(runCli({"analyze", "cka", "builtin:digits-vit", "--dataset", "digits-test",
                               "--limit", "48", "--json", "--save", file}));
  const auto& m = j["cka"];
  ASSERT_EQ(m.size(), 3u) << j.dump(2);  // h_0, h_1, h_2 of a two-block model
  for (std::size_t a = 0; a < m.size(); ++a) {
    EXPECT_NEAR(m[a][a].get<double>(), 1.0, 1e-12);
    for (std::size_t b = 0; b < m.size(); ++b) {
      EXPECT_EQ(m[a][b], m[b][a]);
      EXPECT_GE(m[a][b].get<double>(), 0.0);
      EXPECT_LE(m[a][b].get<double>(), 1.0 + 1e-12);
    }
  }
  const auto table = data::readResultTable(file, "cka", "cka");
  EXPECT_EQ(table.rows(), 9u);
  const auto& row = table.column("row").integers;
  const auto& col = table.column("column").integers;
  const auto& cka = table.column("cka").reals;
  for (std::size_t i = 0; i < cka.size(); ++i) {
    EXPECT_DOUBLE_EQ(cka[i], m[row[i]][col[i]].get<double>());
  }
}

TEST(AnalyzeCli, CkaOfAHookThatDoesNotExistSaysWhichExist) {
  const auto r = runCli({"analyze", "cka", "builtin:digits-vit", "--dataset", "digits-test",
                         "--hooks", "blocks.9.hook_resid_post", "blocks.0.hook_resid_pre"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.err, HasSubstr("blocks.9.hook_resid_post"));
}

}  // namespace
}  // namespace cs
