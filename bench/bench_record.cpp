// Recording cost: a random GPT-2-small-shaped model, N sequences of 128 tokens, every
// blocks.*.hook_resid_post stored as float32 without compression, compared with the plain
// forward passes over the same data in the same run. Peak memory is measured in child
// processes (this program re-run with --child-rows N) so each count gets its own peak.
// Last line: one JSON object.
#include <sys/resource.h>
#include <unistd.h>
#include "core/torch_api.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "analysis/recording.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "data/token_dataset.h"
#include "models/random_checkpoint.h"

namespace {

namespace fs = std::filesystem;
using namespace cs;

std::unique_ptr<models::Transformer> gpt2Small() {
  return models::randomTransformer(models::configForShape(bench::gpt2SmallShape()), 0);
}

data::TokenRowsDataset sequences(int rows, int tokens) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  return data::TokenRowsDataset(at::randint(50257, {rows, tokens}, gen, at::kLong));
}

double recordOnce(models::Transformer& model, const data::Dataset& dataset, const fs::path& out,
                  int batch) {
  fs::remove(out);
  analysis::RecordOptions options;
  options.hookPatterns = {"blocks.*.hook_resid_post"};
  options.batchSize = batch;
  const data::ModelIdentity identity{"gpt2", "{}", "bench", "random"};
  return bench::timeOnce(
      [&] { analysis::recordActivations(model, dataset, identity, out, options, noProgress()); });
}

double peakRssMib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Runs this program as a child recording `rows` sequences; returns the child's peak RSS.
double childPeakRss(const char* self, int rows, int batch, const fs::path& out) {
  const std::string command = std::string(self) + " --child-rows " + std::to_string(rows) +
                              " --batch " + std::to_string(batch) + " --out " + out.string();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  double rss = -1;
  if (std::fscanf(pipe, "%lf", &rss) != 1) rss = -1;
  pclose(pipe);
  return rss;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int rows = bench::argInt(argc, argv, "--rows", 64);
  const int batch = bench::argInt(argc, argv, "--batch", 8);
  const int tokens = 128;
  fs::path out = fs::temp_directory_path() / ("bench_record_" + std::to_string(getpid()) + ".h5");
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--out") out = argv[i + 1];
  }

  const int childRows = bench::argInt(argc, argv, "--child-rows", 0);
  if (childRows > 0) {
    auto model = gpt2Small();
    const auto dataset = sequences(childRows, tokens);
    recordOnce(*model, dataset, out, batch);
    fs::remove(out);
    std::printf("%.1f\n", peakRssMib());
    return 0;
  }

  auto model = gpt2Small();
  const auto dataset = sequences(rows, tokens);
  std::cerr << "recording " << rows << " x " << tokens << " tokens, " << threads << " threads\n";
  auto plain = [&] {
    c10::InferenceMode guard;
    for (int b = 0; b < rows; b += batch) {
      const auto part = dataset.batch(b, batch);
      model->forward({part.tokens, {}, {}, {}});
    }
  };
  // Plain and recorded passes alternate over several rounds (order rotated each round), so
  // machine noise hits both alike; the ratio of medians is the figure, the ratio of best runs
  // its steadier companion.
  const int rounds = bench::argInt(argc, argv, "--rounds", 3);
  double bytes = 0.0;
  const auto timings = bench::interleavedTimings({plain,
                                                  [&] {
                                                    recordOnce(*model, dataset, out, batch);
                                                    bytes = static_cast<double>(fs::file_size(out));
                                                    fs::remove(out);
                                                  }},
                                                 rounds);
  const double plainS = timings[0].median, recordS = timings[1].median;
  const double rss64 = childPeakRss(argv[0], 64, batch, out);
  const double rss256 = childPeakRss(argv[0], 256, batch, out);
  nlohmann::json result{{"benchmark", "record"},
                        {"rows", rows},
                        {"tokens", tokens},
                        {"threads", threads},
                        {"rounds", rounds},
                        {"plain_s", plainS},
                        {"record_s", recordS},
                        {"record_ratio", recordS / plainS},
                        {"record_ratio_best", timings[1].min / timings[0].min},
                        {"mb_written", bytes / 1e6},
                        {"mb_per_s", bytes / 1e6 / recordS},
                        {"rss_mib_64", rss64},
                        {"rss_mib_256", rss256}};
  std::cout << result.dump() << "\n";
  return 0;
}
