// bench_forward: forward-pass speed of a random GPT-2-small-shaped model (12 layers, width 768,
// 12 heads, vocabulary 50257, 8 x 128 tokens) with idle hook points and with every hook point
// but hook_result observed by a no-op hook (and with hook_result too), against this machine's GEMM
// speed; plus one call of a tiny model, and one fire() at an idle and at an observed point (which
// bounds the hook overhead more tightly than whole-forward timings on a noisy machine can).
// `--device cuda` runs the same on the GPU (synchronised around each timed forward, GEMM speed
// measured on the GPU in float32 without TF32). Prints one JSON object as its last line.
#include "core/torch_api.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_util.h"
#include "core/device.h"
#include "core/gemm_speed.h"
#include "core/threads.h"
#include "gpt2_small_shape.h"
#include "models/random_checkpoint.h"

namespace {

// Multiply-adds of the forward pass, counted as 2 FLOPs each: the projections, the two
// attention products and the unembedding (elementwise work is not counted).
double forwardFlops(const cs::models::TransformerConfig& c, int64_t batch, int64_t tokens) {
  const double bt = static_cast<double>(batch) * tokens;
  double flops = 0.0;
  for (int l = 0; l < c.nLayers; ++l) {
    const double qkvWidth = static_cast<double>(c.nHeads[l] + 2 * c.nKvHeads[l]) * c.dHead;
    const double headsWidth = static_cast<double>(c.nHeads[l]) * c.dHead;
    flops += 2.0 * bt * c.dModel * (qkvWidth + headsWidth);           // QKV and W_O
    flops += 2.0 * bt * c.dModel * c.dMlp[l] * (c.gatedMlp ? 3 : 2);  // MLP
    flops += 2.0 * 2.0 * batch * c.nHeads[l] * static_cast<double>(tokens) * tokens *
             c.dHead;  // QK^T, PV
  }
  flops += 2.0 * bt * c.dModel * c.dOutput();
  return flops;
}

// Time between consecutive hook points, summed over layers: which stage of the forward pass
// costs what. The observers only read the clock.
void printBreakdown(cs::models::Transformer& model, const cs::models::ModelInput& input) {
  using Clock = std::chrono::steady_clock;
  std::map<std::string, double> seconds;
  auto last = Clock::now();
  std::string lastName = "start";
  std::vector<cs::hooks::HookHandle> handles;
  for (const auto& point : model.hookPoints()) {
    if (point.kind == cs::hooks::HookKind::Result) continue;
    handles.push_back(
        model.hooks().observe(point, [&](const at::Tensor&, const cs::hooks::HookPoint& p) {
          const auto now = Clock::now();
          auto name = cs::hooks::hookName(p);
          if (p.layer >= 0) name = name.substr(name.find('.', 7) + 1);
          seconds[lastName + " -> " + name] += std::chrono::duration<double>(now - last).count();
          lastName = name;
          last = Clock::now();
        }));
  }
  model.forward(input);
  last = Clock::now();
  lastName = "start";
  seconds.clear();
  model.forward(input);
  seconds[lastName + " -> end"] += std::chrono::duration<double>(Clock::now() - last).count();
  double total = 0;
  for (const auto& [k, v] : seconds) total += v;
  for (const auto& [k, v] : seconds) {
    std::fprintf(stderr, "%-55s %8.1f ms %5.1f%%\n", k.c_str(), v * 1e3, 100 * v / total);
  }
}

// Nanoseconds one fire() costs at an idle point and at a point with one no-op observer: the
// per-point cost that whole-forward timings on a noisy machine cannot resolve.
std::pair<double, double> fireCostNs() {
  cs::hooks::HookRegistry registry(1);
  const auto x = torch::zeros({4});
  constexpr int kCalls = 1'000'000;
  auto timeCalls = [&] {
    return cs::bench::timeOnce([&] {
             for (int i = 0; i < kCalls; ++i) {
               auto y = registry.fire(cs::hooks::HookKind::ResidPre, 0, x);
               asm volatile("" : : "r"(y.unsafeGetTensorImpl()) : "memory");
             }
           }) /
           kCalls * 1e9;
  };
  const double idle = timeCalls();
  auto handle = registry.observe({cs::hooks::HookKind::ResidPre, 0},
                                 [](const at::Tensor&, const cs::hooks::HookPoint&) {});
  return {idle, timeCalls()};
}

std::string argText(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

// float32 GEMM speed of the GPU: the yardstick the forward pass is held against there.
double cudaGemmGflops(c10::Device device) {
  constexpr int64_t n = 4096;
  const auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
  const auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
  for (int i = 0; i < 3; ++i) a.mm(b);
  torch::cuda::synchronize();
  constexpr int kReps = 20;
  const double seconds = cs::bench::timeOnce([&] {
    for (int i = 0; i < kReps; ++i) a.mm(b);
    torch::cuda::synchronize();
  });
  return 2.0 * n * n * n * kReps / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cs;
  const int threads = configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int batch = bench::argInt(argc, argv, "--batch", 8);
  const int tokens = bench::argInt(argc, argv, "--tokens", 128);
  const int rounds = bench::argInt(argc, argv, "--rounds", 7);

  const auto config =
      models::configForShape(bench::gpt2SmallShape(bench::argInt(argc, argv, "--layers", 12)));
  const auto device = chooseDevice(argText(argc, argv, "--device", "cpu"));
  auto model = models::randomTransformer(config, 0);
  model->to(device, at::kFloat);
  std::cerr << "model: " << model->weights().parameterCount() << " parameters, " << threads
            << " threads, " << device.str() << "\n";

  c10::InferenceMode guard;
  models::ModelInput input;
  input.tokens = torch::randint(config.dVocab, {batch, tokens}, torch::kLong).to(device);
  // A GPU runs asynchronously: a forward pass is timed up to the end of its last kernel.
  auto forward = [&] {
    model->forward(input);
    if (device.is_cuda()) torch::cuda::synchronize();
  };

  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--breakdown") printBreakdown(*model, input);
  }
  // The GEMM yardstick is taken before and after the forward timings; the faster stands, so a
  // noisy moment cannot flatter the ratio.
  auto gemm = measureGemmSpeed(1024, 10);
  if (device.is_cuda()) gemm.gflops = cudaGemmGflops(device);
  // hook_result is extra work by design (per-head outputs, computed only when asked for), so
  // the idle-hook overhead is measured without it and the cost of asking for it separately.
  std::vector<hooks::HookHandle> handles;
  auto attachAll = [&](bool withResult) {
    for (const auto& point : model->hookPoints()) {
      if (point.kind == hooks::HookKind::Result && !withResult) continue;
      handles.push_back(
          model->hooks().observe(point, [](const at::Tensor&, const hooks::HookPoint&) {}));
    }
  };
  const auto times = bench::interleavedTimings({[&] { forward(); },
                                                [&] {
                                                  attachAll(false);
                                                  forward();
                                                  handles.clear();
                                                },
                                                [&] {
                                                  attachAll(true);
                                                  forward();
                                                  handles.clear();
                                                }},
                                               rounds);
  // Ratios use each variant's best run; medians are printed too.
  const double plain = times[0].min, hooked = times[1].min, hookedWithResult = times[2].min;
  const double flops = forwardFlops(config, batch, tokens);
  gemm.gflops = std::max(
      gemm.gflops, device.is_cuda() ? cudaGemmGflops(device) : measureGemmSpeed(1024, 10).gflops);

  // Framework overhead: one call of a 2-layer width-64 GPT-2 on 1 x 16 tokens.
  models::ModelShape tinyShape;
  tinyShape.nLayers = 2;
  tinyShape.dModel = 64;
  tinyShape.nHeads = 4;
  tinyShape.dVocab = 128;
  auto tiny = models::randomTransformer(models::configForShape(tinyShape), 1);
  models::ModelInput tinyInput;
  tinyInput.tokens = torch::randint(128, {1, 16}, torch::kLong);
  for (int i = 0; i < 20; ++i) tiny->forward(tinyInput);
  std::vector<double> tinyTimes;
  for (int i = 0; i < 200; ++i)
    tinyTimes.push_back(bench::timeOnce([&] { tiny->forward(tinyInput); }));

  const auto [idleNs, observedNs] = fireCostNs();
  const double points = static_cast<double>(model->hookPoints().size());
  nlohmann::json out{{"benchmark", "forward"},
                     {"model", "gpt2-small-shaped random"},
                     {"device", device.str()},
                     {"batch", batch},
                     {"tokens", tokens},
                     {"threads", threads},
                     {"rounds", rounds},
                     {"plain_s", plain},
                     {"plain_median_s", times[0].median},
                     {"hooked_median_s", times[1].median},
                     {"hooked_s", hooked},
                     {"hook_overhead_ratio", hooked / plain},
                     {"hooked_with_result_s", hookedWithResult},
                     {"result_overhead_ratio", hookedWithResult / plain},
                     {"hook_points", model->hookPoints().size()},
                     {"idle_fire_ns", idleNs},
                     {"observed_fire_ns", observedNs},
                     {"hook_overhead_bound", 1.0 + points * observedNs * 1e-9 / plain},
                     {"gflop", flops / 1e9},
                     {"gflops", flops / plain / 1e9},
                     {"gemm_gflops", gemm.gflops},
                     {"gflops_ratio", flops / plain / 1e9 / gemm.gflops},
                     {"tiny_call_ms", bench::median(tinyTimes) * 1e3}};
  std::cout << out.dump() << std::endl;
  return 0;
}
