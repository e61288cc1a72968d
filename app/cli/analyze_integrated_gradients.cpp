// `analyze ig MODEL_DIR (--prompt TEXT | --ids IDS | --image FILE | --dataset SPEC --row N)
// [--target TEXT | --target-id ID] [--foil TEXT | --foil-id ID] [--position P]
// [--rule left-riemann|trapezoid|gauss-legendre|gradient] [--steps M] [--chunk N]
// [--baseline zero|token:ID|black|mean] [--save FILE.h5] [--run RUN] [--json]`
// (docs/analyses.md): integrated gradients of one logit (or logit difference) over the input
// embeddings or pixels, summed per token or pixel, with the completeness error.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "analysis/integrated_gradients.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/image_preprocessor.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

constexpr int kWidestPixelGrid = 16;  // larger images print their strongest pixels instead
constexpr int kTopPixels = 20;

struct IgArgs {
  std::string folder;
  ExampleOptions example;
  std::string foil;
  std::int64_t foilId = -1;
  std::int64_t position = -1;
  std::string rule = "gauss-legendre";
  int steps = 31;
  int chunk = 16;
  std::string baseline = "zero";
  std::string save;
  std::string run = "integrated_gradients";
  bool json = false;
};

// The per-channel value a black pixel has after the model's preprocessing: RGB models read
// preprocessor_config.json; other models (the built-in digits, scaled to [0, 1]) take 0.
std::vector<double> blackLevel(const std::string& folder, const models::TransformerConfig& config) {
  if (config.nChannels != 3) return {};
  const auto p = data::loadImagePreprocessor(folder, config.imageSize);
  std::vector<double> level;
  for (int c = 0; c < 3; ++c)
    level.push_back(p.doNormalize ? -p.imageMean[c] / p.imageStd[c] : 0.0);
  return level;
}

analysis::IgBaseline parseBaseline(const std::string& text, const std::string& folder,
                                   const models::TransformerConfig& config) {
  analysis::IgBaseline b;
  if (text == "zero") return b;
  if (text == "black") {
    b.kind = analysis::IgBaselineKind::Black;
    b.blackLevel = blackLevel(folder, config);
    return b;
  }
  if (text == "mean") {
    b.kind = analysis::IgBaselineKind::Mean;
    return b;
  }
  if (text.rfind("token:", 0) == 0) {
    b.kind = analysis::IgBaselineKind::Token;
    const auto id = parseIntList(text.substr(6), "--baseline token:ID");
    if (id.size() != 1) throw ConfigError("--baseline token:ID takes one token id");
    b.token = id[0];
    return b;
  }
  throw ConfigError(
      "--baseline takes zero, token:ID (language models), black or mean (image "
      "models), not \"" +
      text + "\"");
}

void saveResult(const IgArgs& a, const analysis::IntegratedGradientsResult& r,
                const std::vector<std::string>& tokenTexts, const nlohmann::json& options) {
  std::vector<data::ResultColumn> c;
  if (r.perToken.size() > 0) {
    c.resize(3);
    c[0].name = "position";
    c[1].name = "token";
    c[2].name = "attribution";
    for (int t = 0; t < r.perToken.size(); ++t) {
      c[0].integers.push_back(t);
      c[1].texts.push_back(tokenTexts[t]);
      c[2].reals.push_back(r.perToken(t));
    }
  } else {
    c.resize(3);
    c[0].name = "y";
    c[1].name = "x";
    c[2].name = "attribution";
    for (int y = 0; y < r.perPixel.rows(); ++y) {
      for (int x = 0; x < r.perPixel.cols(); ++x) {
        c[0].integers.push_back(y);
        c[1].integers.push_back(x);
        c[2].reals.push_back(r.perPixel(y, x));
      }
    }
  }
  data::writeResultTable(a.save, "integrated_gradients", a.run, c, options.dump());
}

void igCommand(const IgArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  analysis::IntegratedGradientsOptions options;
  const auto e = resolveExample(a.example, a.folder, config, tokenizer.get());
  const auto& input = e.input;
  options.target = {e.target, e.foil, e.position};
  const auto target =
      metricToken(a.example.target, a.example.targetId, config, tokenizer.get(), "--target");
  const auto foil = metricToken(a.foil, a.foilId, config, tokenizer.get(), "--foil");
  if (target >= 0) options.target.answer = target;
  if (foil >= 0) options.target.foil = foil;
  if (a.position >= 0) options.target.position = a.position;
  const auto rule = analysis::parseRule(a.rule);
  if (!rule) {
    throw ConfigError("--rule takes left-riemann, trapezoid, gauss-legendre or gradient, not \"" +
                      a.rule + "\"");
  }
  options.rule = *rule;
  options.steps = a.steps;
  options.chunk = a.chunk;
  options.baseline = parseBaseline(a.baseline, a.folder, config);

  Progress progress;
  analysis::IntegratedGradientsResult r;
  {
    ProgressLine line(progress, global);
    r = analysis::analyseIntegratedGradients(*model, input, options, progress);
  }
  std::vector<std::string> tokenTexts;
  if (input.tokens.defined()) {
    for (int64_t t = 0; t < input.tokens.size(1); ++t) {
      tokenTexts.push_back(
          tokenText(input.tokens[0][t].item<std::int64_t>(), config, tokenizer.get()));
    }
  } else {
    tokenTexts.assign(static_cast<std::size_t>(r.perToken.size()), "");  // given embeddings
  }
  const auto answer = tokenText(r.answer, config, tokenizer.get());
  const auto foilText = r.foil >= 0 ? tokenText(r.foil, config, tokenizer.get()) : "";
  nlohmann::json described{{"model", a.folder},
                           {"rule", r.rule},
                           {"steps", r.steps},
                           {"points", r.points},
                           {"chunk", a.chunk},
                           {"baseline", r.baseline},
                           {"target", r.target},
                           {"answer", answer},
                           {"foil", foilText},
                           {"f_input", r.inputValue},
                           {"f_baseline", r.baselineValue},
                           {"attribution_sum", r.attributionSum},
                           {"completeness_error", r.completenessError},
                           {"relative_error", r.relativeError},
                           {"forward_backward_passes", r.forwardBackwardPasses},
                           {"forward_passes", r.forwardPasses}};
  if (!a.save.empty()) saveResult(a, r, tokenTexts, described);
  if (a.json) {
    auto j = described;
    j["element_shape"] = r.elementShape;
    if (r.perToken.size() > 0) {
      j["per_token"] =
          std::vector<double>(r.perToken.data(), r.perToken.data() + r.perToken.size());
      j["tokens"] = tokenTexts;
    } else {
      auto rows = nlohmann::json::array();
      for (int y = 0; y < r.perPixel.rows(); ++y) {
        std::vector<double> row;
        for (int x = 0; x < r.perPixel.cols(); ++x) row.push_back(r.perPixel(y, x));
        rows.push_back(row);
      }
      j["per_pixel"] = rows;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("F          %s  (%s%s%s)\n", r.target.c_str(), answer.c_str(),
              foilText.empty() ? "" : " vs ", foilText.c_str());
  std::printf("rule       %s, %d points in %d forward+backward passes of up to %d\n",
              r.rule.c_str(), r.points, r.forwardBackwardPasses, a.chunk);
  std::printf("baseline   %s\n", r.baseline.c_str());
  std::printf("F(input)   %.6f\nF(base)    %.6f\nsum IG     %.6f\n", r.inputValue, r.baselineValue,
              r.attributionSum);
  std::printf("error      %.3g (relative %.3g)\n\n", r.completenessError, r.relativeError);
  if (r.perToken.size() > 0) {
    std::printf("%5s %-20s %12s\n", "pos", "token", "IG");
    for (int t = 0; t < r.perToken.size(); ++t) {
      std::printf("%5d %-20s %12.6f\n", t, tokenTexts[t].c_str(), r.perToken(t));
    }
  } else if (r.perPixel.rows() <= kWidestPixelGrid && r.perPixel.cols() <= kWidestPixelGrid) {
    std::printf("IG per pixel (summed over channels), rows top to bottom:\n");
    for (int y = 0; y < r.perPixel.rows(); ++y) {
      for (int x = 0; x < r.perPixel.cols(); ++x) std::printf(" %9.4f", r.perPixel(y, x));
      std::printf("\n");
    }
  } else {
    std::vector<int> order(static_cast<std::size_t>(r.perPixel.size()));
    std::iota(order.begin(), order.end(), 0);
    const auto* v = r.perPixel.data();  // column-major: index = x * rows + y
    const auto n = std::min<std::size_t>(kTopPixels, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [v](int i, int j) { return std::abs(v[i]) > std::abs(v[j]); });
    std::printf("%d strongest pixels (summed over channels):\n%5s %5s %12s\n", kTopPixels, "y", "x",
                "IG");
    for (std::size_t i = 0; i < n; ++i) {
      const int rows = static_cast<int>(r.perPixel.rows());
      std::printf("%5d %5d %12.6f\n", order[i] % rows, order[i] / rows, v[order[i]]);
    }
  }
  if (!a.save.empty()) {
    std::printf("\nsaved to %s:/results/integrated_gradients/%s\n", a.save.c_str(), a.run.c_str());
  }
}

}  // namespace

void addAnalyzeIntegratedGradientsCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "ig", "integrated gradients of a logit over the input embeddings or pixels");
  auto a = std::make_shared<IgArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  addExampleOptions(cmd, a->example);
  cmd->add_option("--foil", a->foil, "foil token or class: F = logit[target] - logit[foil]");
  cmd->add_option("--foil-id", a->foilId, "foil token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--position", a->position, "position F reads (default: last)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rule", a->rule, "left-riemann, trapezoid, gauss-legendre or gradient")
      ->capture_default_str();
  cmd->add_option("--steps", a->steps,
                  "m for left-riemann (m points), n for trapezoid and gauss-legendre (n + 1 "
                  "points)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--chunk", a->chunk, "points per batched forward+backward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--baseline", a->baseline,
                  "zero, token:ID (language models), black or mean (image models)")
      ->capture_default_str();
  cmd->add_option("--save", a->save, "HDF5 file for /results/integrated_gradients/RUN");
  cmd->add_option("--run", a->run, "run name under /results/integrated_gradients")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { igCommand(*a, options); });
}

}  // namespace cs::cli
