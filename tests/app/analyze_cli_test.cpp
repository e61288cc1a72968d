// End-to-end tests of `analyze`: each subcommand on a built-in model, its JSON on stdout, the
// table it saves under /results/<analysis>/<run> (read back and compared with the JSON), and
// clear errors for bad requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include <fstream>
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

// DLA of one digit: the paths' terms and the constant add up to the logit difference the model
// gives (completeness, ALGORITHMS.md section 3), and the saved table holds the same terms.
TEST(AnalyzeCli, DlaTermsAddUpToTheLogitDifferenceAndAreSaved) {
  test::TempDir dir;
  const auto file = (dir / "results.h5").string();
  const auto j =
      test::stdoutJson(runCli({"analyze", "dla", "builtin:digits-vit", "--dataset", "digits-test",
                               "--row", "3", "--json", "--save", file, "--run", "digit3"}));
  const auto& d = j["decomposition"];
  ASSERT_TRUE(d.contains("paths")) << j.dump(2);
  double sum = d["constant"].get<double>();
  for (const auto& p : d["paths"]) sum += p["dla"].get<double>();
  EXPECT_NEAR(sum, d["direction_logit"].get<double>(), 1e-4);
  EXPECT_LT(d["completeness_error"].get<double>(), 1e-4);
  EXPECT_EQ(d["paths"].size(), 5u);  // embedding + 2 x (attention, MLP)
  const auto table = data::readResultTable(file, "residual_decomposition", "digit3");
  EXPECT_GT(table.rows(), 0u);
}

// Integrated gradients of a digit's logit: the attributions add up to F(input) - F(baseline)
// within the reported completeness error.
TEST(AnalyzeCli, IntegratedGradientsReportTheirCompletenessError) {
  const auto j = test::stdoutJson(runCli({"analyze", "ig", "builtin:digits-vit", "--dataset",
                                          "digits-test", "--row", "3", "--steps", "15", "--json"}));
  ASSERT_TRUE(j.contains("attribution_sum")) << j.dump(2);
  const double gap = j["f_input"].get<double>() - j["f_baseline"].get<double>();
  EXPECT_NEAR(j["attribution_sum"].get<double>() - gap, 0.0,
              j["completeness_error"].get<double>() + 1e-9);
  EXPECT_LT(j["relative_error"].get<double>(), 0.05);
  EXPECT_EQ(j["points"], 16);
}

TEST(AnalyzeCli, IntegratedGradientsRefuseAnUnknownRule) {
  const auto r = runCli({"analyze", "ig", "builtin:digits-vit", "--dataset", "digits-test", "--row",
                         "0", "--rule", "simpson"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.err, HasSubstr("gauss-legendre"));
}

// The neuron path of a digit: one neuron per MLP layer, the saved table holds both paths as
// printed, removing the found path lowers the target probability, and bad options are named.
TEST(AnalyzeCli, NeuronPathOfADigitIsSavedAndItsRemovalLowersTheTarget) {
  test::TempDir dir;
  const auto file = (dir / "paths.h5").string();
  const auto j = test::stdoutJson(
      runCli({"analyze", "neuron-path", "builtin:digits-vit", "--dataset", "digits-test", "--row",
              "3", "--steps", "10", "--json", "--save", file, "--run", "digit3"}));
  ASSERT_TRUE(j.contains("path")) << j.dump(2);
  ASSERT_EQ(j["path"].size(), 2u);
  EXPECT_EQ(j["answer"], "5");
  EXPECT_LT(j["p_path_removed"].get<double>(), j["p_clean"].get<double>());
  EXPECT_GT(j["p_path_enhanced"].get<double>(), j["p_clean"].get<double>());
  EXPECT_EQ(j["forward_backward_passes"], 4);  // (2 layers + 2) x one chunk of 10 points

  const auto table = data::readResultTable(file, "neuron_path", "digit3");
  EXPECT_EQ(json::parse(table.optionsJson)["steps"], 10);
  const auto& which = table.column("path").texts;
  const auto& layer = table.column("layer").integers;
  const auto& neuron = table.column("neuron").integers;
  ASSERT_EQ(which.size(), 4u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(which[i], "path");
    EXPECT_EQ(layer[i], j["path"][i]["layer"].get<std::int64_t>());
    EXPECT_EQ(neuron[i], j["path"][i]["neurons"][0].get<std::int64_t>());
    EXPECT_EQ(which[i + 2], "activation");
    EXPECT_EQ(neuron[i + 2], j["activation_path"][i]["neurons"][0].get<std::int64_t>());
  }

  const auto bad = runCli({"analyze", "neuron-path", "builtin:digits-vit", "--dataset",
                           "digits-test", "--row", "3", "--scoring", "median"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("--scoring takes paper or reference"));
}

// Relevance of a digit: the JSON and the saved table agree, conservation is reported per layer,
// the explicit rules give the gradient form's answer, and a malformed gamma group is named.
TEST(AnalyzeCli, RelevanceSavesInputAndLayerRelevanceAndExplicitRulesAgree) {
  test::TempDir dir;
  const auto file = (dir / "lrp.h5").string();
  const auto j = test::stdoutJson(
      runCli({"analyze", "relevance", "builtin:digits-vit", "--dataset", "digits-test", "--row",
              "3", "--json", "--save", file, "--run", "digit3"}));
  ASSERT_TRUE(j.contains("input")) << j.dump(2);
  EXPECT_EQ(j["answer"], "5");
  EXPECT_EQ(j["input"].size(), 17u);  // class token + 16 patches
  EXPECT_EQ(j["residual_totals"].size(), 3u);
  EXPECT_EQ(j["input_labels"][0], "[class]");
  EXPECT_NE(j["rules"].get<std::string>().find("CP-LRP, gamma patch 0.25, linear 0.05"),
            std::string::npos);
  const auto table = data::readResultTable(file, "relevance", "digit3");
  const auto& what = table.column("what").texts;
  const auto& value = table.column("relevance").reals;
  ASSERT_GE(what.size(), 17u + 64u);
  for (std::size_t t = 0; t < 17; ++t) {
    EXPECT_EQ(what[t], "input");
    EXPECT_DOUBLE_EQ(value[t], j["input"][t].get<double>());
  }
  EXPECT_EQ(std::count(what.begin(), what.end(), "pixel"), 64);

  const auto ref =
      test::stdoutJson(runCli({"analyze", "relevance", "builtin:digits-vit", "--dataset",
                               "digits-test", "--row", "3", "--json", "--explicit"}));
  // float32 with the explicit rules' epsilon = 1e-6 against the gradient form's epsilon -> 0:
  // agreement to 1% of the largest relevance (a wrong rule is off by its whole share).
  double largest = 0.0;
  for (std::size_t t = 0; t < 17; ++t)
    largest = std::max(largest, std::abs(j["input"][t].get<double>()));
  for (std::size_t t = 0; t < 17; ++t) {
    EXPECT_NEAR(ref["input"][t].get<double>(), j["input"][t].get<double>(), 0.01 * largest);
  }

  const auto bad = runCli({"analyze", "relevance", "builtin:digits-vit", "--dataset", "digits-test",
                           "--row", "3", "--gamma-group", "0-1"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("--gamma-group takes FIRST-LAST:GAMMA"));
}

// Relevance pruning of heads: curves for the three orders, the bit table within its budget, and
// the exported mask is one the prune command applies.
TEST(AnalyzeCli, RelevancePruneReportsCurvesBitsAndExportsAMask) {
  test::TempDir dir;
  const auto mask = (dir / "heads.json").string();
  const auto j = test::stdoutJson(
      runCli({"analyze", "relevance-prune", "builtin:digits-vit", "--dataset", "digits-test",
              "--reference", "digits-train", "--per-class", "2", "--component", "heads", "--rates",
              "0,0.5,1", "--export-rate", "0.5", "--export-mask", mask, "--json"}));
  ASSERT_TRUE(j.contains("curves")) << j.dump(2);
  EXPECT_EQ(j["reference_examples"], 20);
  ASSERT_EQ(j["curves"].size(), 3u);
  for (const auto& curve : j["curves"]) {
    EXPECT_EQ(curve["pruned"], json({0, 4, 8}));
    EXPECT_DOUBLE_EQ(curve["accuracy"][0].get<double>(), j["unpruned_accuracy"].get<double>());
  }
  EXPECT_LE(j["mean_bits"].get<double>(), 6.0 + 1e-9);
  ASSERT_EQ(j["layers"].size(), 8u);
  const auto pruned = runCli({"prune", "builtin:digits-vit", "--mask", mask, "--dataset",
                              "digits-test", "--runs", "1", "--warmup", "0", "--json"});
  EXPECT_EQ(pruned.exitCode, 0) << pruned.err;
  const auto bad = runCli({"analyze", "relevance-prune", "builtin:digits-vit", "--dataset",
                           "digits-test", "--export-mask", mask});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("--export-mask and --export-rate go together"));
}

// The Local Interaction Basis of the modular-addition model's last two node layers: the JSON and
// the saved table agree; a dataset without targets and a bad node layer are named.
TEST(AnalyzeCli, LibReportsBasesEdgesAndCurvesAndSavesThem) {
  test::TempDir dir;
  const auto file = (dir / "lib.h5").string();
  const auto j = test::stdoutJson(
      runCli({"analyze", "lib", "builtin:modadd", "--dataset", "modadd:p=113", "--limit", "64",
              "--layers", "blocks.0.hook_resid_mid,blocks.0.hook_resid_post,output", "--json",
              "--save", file, "--run", "tail"}));
  ASSERT_TRUE(j.contains("layers")) << j.dump(2);
  ASSERT_EQ(j["layers"].size(), 3u);
  EXPECT_EQ(j["layers"][0]["width"], 129);
  EXPECT_EQ(j["examples"], 64);
  ASSERT_EQ(j["edges"].size(), 2u);
  EXPECT_GT(j["edges"][0]["nonzero"].get<std::int64_t>(), 0);
  ASSERT_EQ(j["curves"].size(), 4u);  // LIB and PCA for the two residual node layers
  EXPECT_DOUBLE_EQ(j["curves"][0]["accuracy"].back().get<double>(),
                   j["base_accuracy"].get<double>());
  const auto table = data::readResultTable(file, "lib", "tail");
  const auto& what = table.column("what").texts;
  const auto lambdas = std::count(what.begin(), what.end(), "lambda");
  std::int64_t kept = 0;
  for (const auto& layer : j["layers"]) kept += layer["kept"].get<std::int64_t>();
  EXPECT_EQ(lambdas, kept);
  // The saved bases: C [width, kept] and C+ [kept, width] per node layer, with C+ C = I.
  const auto& layerOf = table.column("layer").texts;
  const auto& iOf = table.column("i").integers;
  const auto& jOf = table.column("j").integers;
  const auto& value = table.column("value").reals;
  for (const auto& layer : j["layers"]) {
    const auto name = layer["name"].get<std::string>();
    const auto width = layer["width"].get<Eigen::Index>();
    const auto n = layer["kept"].get<Eigen::Index>();
    Eigen::MatrixXd C = Eigen::MatrixXd::Constant(width, n, NAN);
    Eigen::MatrixXd Cplus = Eigen::MatrixXd::Constant(n, width, NAN);
    for (std::size_t row = 0; row < what.size(); ++row) {
      if (layerOf[row] != name) continue;
      if (what[row] == "C") C(iOf[row], jOf[row]) = value[row];
      if (what[row] == "C+") Cplus(iOf[row], jOf[row]) = value[row];
    }
    EXPECT_LT((Cplus * C - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff(), 1e-8) << name;
  }

  const auto noTargets = runCli({"analyze", "lib", "builtin:induction", "--dataset",
                                 "induction:rows=8", "--layers", "blocks.1.hook_resid_pre,output"});
  EXPECT_NE(noTargets.exitCode, 0);
  EXPECT_THAT(noTargets.err, HasSubstr("LIB needs a dataset with targets"));
  const auto badLayer = runCli({"analyze", "lib", "builtin:modadd", "--dataset", "modadd:p=113",
                                "--layers", "blocks.0.hook_mlp_out,output"});
  EXPECT_NE(badLayer.exitCode, 0);
  EXPECT_THAT(badLayer.err, HasSubstr("is not blocks.L.hook_resid_pre"));
}

// Edge ablation of the modular-addition model's last edge matrix, for LIB and PCA: the bisection
// starts from every edge, its answer was tried and is enough, and the table holds it; the
// (1-0)*alpha basis and stochastic sources are reported; a bad basis is named.
TEST(AnalyzeCli, LibEdgeAblationReportsTheSmallestEdgeCounts) {
  test::TempDir dir;
  const auto file = (dir / "lib.h5").string();
  const auto j = test::stdoutJson(
      runCli({"analyze", "lib", "builtin:modadd", "--dataset", "modadd:p=113,rows=64", "--layers",
              "blocks.0.hook_resid_post,output", "--edge-ablation", "--no-curves", "--json",
              "--save", file, "--run", "edges"}));
  ASSERT_TRUE(j.contains("edge_ablation")) << j.dump(2);
  ASSERT_EQ(j["edge_ablation"].size(), 2u);
  EXPECT_EQ(j["edge_ablation"][0]["basis"], "lib");
  EXPECT_EQ(j["edge_ablation"][1]["basis"], "pca");
  for (const auto& e : j["edge_ablation"]) {
    const auto kept = e["kept"].get<std::vector<std::int64_t>>();
    const auto accuracy = e["accuracy"].get<std::vector<double>>();
    const auto minimal = e["minimal"].get<std::int64_t>();
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(kept.front(), e["edges"].get<std::int64_t>());
    EXPECT_DOUBLE_EQ(accuracy.front(), j["base_accuracy"].get<double>());
    const auto at = std::find(kept.begin(), kept.end(), minimal);
    ASSERT_NE(at, kept.end()) << e.dump();
    EXPECT_GE(accuracy[at - kept.begin()], e["target"].get<double>());
  }
  const auto table = data::readResultTable(file, "lib", "edges");
  const auto& what = table.column("what").texts;
  EXPECT_EQ(std::count(what.begin(), what.end(), "edge-minimal"), 2);
  EXPECT_GT(std::count(what.begin(), what.end(), "pca-edge"), 0);

  const auto alpha = test::stdoutJson(
      runCli({"analyze", "lib", "builtin:modadd", "--dataset", "modadd:p=113,rows=32", "--layers",
              "blocks.0.hook_resid_post,output", "--basis", "one-zero-alpha",
              "--stochastic-sources", "3", "--no-curves", "--json"}));
  EXPECT_EQ(alpha["basis"], "(1-0)*alpha");
  EXPECT_EQ(alpha["stochastic_sources"], 3);
  const auto bad = runCli(
      {"analyze", "lib", "builtin:modadd", "--dataset", "modadd:p=113", "--basis", "hessian"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("--basis takes jacobian or one-zero-alpha"));
}

// Grams read from a recording of the whole dataset while the Jacobians use 32 rows: the JSON names
// the store and its example count, and the bases differ from the live Grams' only by what more
// data changes; a recording without the node layers' hooks is refused naming the fix.
TEST(AnalyzeCli, LibReadsItsGramMatricesFromARecording) {
  test::TempDir dir;
  const auto store = (dir / "modadd.h5").string();
  const auto recorded =
      runCli({"record", "builtin:modadd", "--dataset", "modadd:p=113,rows=256", "--hooks",
              "blocks.0.hook_resid_post", "--hooks", "hook_logits", "--out", store});
  ASSERT_EQ(recorded.exitCode, 0) << recorded.err;
  const std::vector<std::string> lib = {"analyze",
                                        "lib",
                                        "builtin:modadd",
                                        "--dataset",
                                        "modadd:p=113,rows=256",
                                        "--limit",
                                        "32",
                                        "--layers",
                                        "blocks.0.hook_resid_post,output",
                                        "--no-curves",
                                        "--json"};
  auto fromStore = lib;
  fromStore.insert(fromStore.end(), {"--gram-recording", store});
  const auto j = test::stdoutJson(runCli(fromStore));
  EXPECT_EQ(j["gram_source"], store);
  EXPECT_EQ(j["gram_examples"], 256);
  EXPECT_EQ(j["examples"], 32);
  const auto live = test::stdoutJson(runCli(lib));
  EXPECT_EQ(live["gram_source"], "live");
  EXPECT_EQ(live["gram_examples"], 32);
  // The output basis is the eigenbasis of the logits' Gram: over 256 examples its spectrum is
  // not that of 32.
  EXPECT_NE(j["layers"][1]["lambda"], live["layers"][1]["lambda"]);

  auto limited = fromStore;
  limited.insert(limited.end(), {"--gram-limit", "100"});
  EXPECT_EQ(test::stdoutJson(runCli(limited))["gram_examples"], 100);

  auto missing = lib;
  missing[8] = "blocks.0.hook_resid_pre,output";
  missing.insert(missing.end(), {"--gram-recording", store});
  const auto refused = runCli(missing);
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_THAT(refused.err, HasSubstr("holds no blocks.0.hook_resid_pre activations"));
  EXPECT_THAT(refused.err, HasSubstr("record it with --hooks blocks.0.hook_resid_pre"));
}

// Head divergence on the induction model with the first half of a repeated sequence replaced:
// the selected heads go into a mask file that `prune` accepts and that cannot be compacted.
TEST(AnalyzeCli, HeadDivergenceMaskFileIsAMaskThePruneCommandApplies) {
  test::TempDir dir;
  const auto mask = (dir / "vhr.json").string();
  const std::string first = "3,14,15,9,26,5,35,8,41,12";
  const std::string other = "30,4,51,19,2,60,33,7,44,21";
  const auto j = test::stdoutJson(runCli(
      {"analyze", "head-divergence", "builtin:induction", "--ids", first + "," + first,
       "--without-ids", other + "," + first, "--layers", "0,1", "--json", "--save-mask", mask}));
  ASSERT_TRUE(j.contains("vhd")) << j.dump(2);
  ASSERT_EQ(j["vhd"].size(), 2u);
  for (const auto& layer : j["vhd"]) {
    ASSERT_EQ(layer.size(), 4u);
    for (const auto& v : layer) EXPECT_GE(v.get<double>(), 0.0);
  }
  const auto pruned = runCli({"prune", "builtin:induction", "--mask", mask, "--dataset",
                              "induction:rows=16,half=10,vocab=64,seed=1", "--runs", "1",
                              "--warmup", "0", "--json"});
  EXPECT_EQ(pruned.exitCode, 0) << pruned.err;
}

// Memory vs context heads from token-id examples: one score per head, and a malformed line is
// refused by its line number.
TEST(AnalyzeCli, MemoryHeadsScoreEveryHeadAndNameABadLine) {
  test::TempDir dir;
  const auto examples = dir / "conflicts.jsonl";
  {
    std::ofstream out(examples);
    // Induction-style conflicts: the context repeats a sequence with a different continuation.
    for (int i = 0; i < 6; ++i) {
      const int a = 3 + i, b = 20 + i, c = 40 + i;
      out << json{{"question_ids", {a, b}},
                  {"context_ids", {a, c, 7, 9, 11}},
                  {"memory_answer_id", (b + 5) % 64},
                  {"context_answer_id", c}}
                 .dump()
          << "\n";
    }
  }
  const auto j =
      test::stdoutJson(runCli({"analyze", "memory-heads", "builtin:induction", "--examples",
                               examples.string(), "--no-filter", "--json"}));
  ASSERT_TRUE(j.contains("effect")) << j.dump(2);
  ASSERT_EQ(j["effect"].size(), 2u);
  EXPECT_EQ(j["effect"][0].size(), 4u);
  EXPECT_EQ(j["dla"][1].size(), 4u);

  {
    std::ofstream out(examples, std::ios::app);
    out << R"({"question_ids": [1, 2], "context_ids": "oops"})"
        << "\n";
  }
  const auto bad = runCli(
      {"analyze", "memory-heads", "builtin:induction", "--examples", examples.string(), "--json"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("line 7"));
}

}  // namespace
}  // namespace cs
