// Latency measurement and the forward-FLOP count. CPU runs read the kernel's resident-set
// high-water mark and never touch CUDA; CUDA runs synchronise the device around every timed run
// and read the caching allocator's peak, where this libtorch build has one.
#include "analysis/latency.h"

#include "core/torch_api.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

// CUDA allocator statistics need c10_cuda, which only CUDA builds of libtorch ship and link
// (TORCH_LIBRARIES then holds it). No macro tells a CPU build from a CUDA build in the headers of
// both libtorch 1.13 and 2.x (the c10/cuda headers are installed even by CPU-only packages), but
// ATen/cuda/CUDAConfig.h is generated only for CUDA and ROCm builds, in 1.13 and 2.x alike; ROCm
// builds name the allocator c10::hip, so they are left out (peak reported as unavailable).
#if defined(__has_include)
#if __has_include(<ATen/cuda/CUDAConfig.h>)
#include <ATen/cuda/CUDAConfig.h>
#if !AT_ROCM_ENABLED()
#define CS_HAS_CUDA_ALLOCATOR_STATS 1
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#endif
#endif

namespace cs::analysis {

namespace {

// The `p` quantile (0..1) of sorted values by linear interpolation between the two nearest
// ranks: position p * (n - 1), as numpy's default. p = 0.5 is the usual median (the mean of
// the two middle values when n is even).
double quantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double position = p * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto above = std::min(below + 1, sorted.size() - 1);
  const double weight = position - static_cast<double>(below);
  return sorted[below] + weight * (sorted[above] - sorted[below]);
}

// A "VmXXX:   1234 kB" field of /proc/self/status in bytes; nullopt when missing.
std::optional<std::int64_t> procStatusBytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string key = field + ":";
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) != 0) continue;
    try {
      return std::stoll(line.substr(key.size())) * 1024;  // the kernel writes kB
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Resets the kernel's resident-set high-water mark (VmHWM) to the current resident set. False
// when the kernel refuses (no /proc, an old kernel, a sandbox) or silently ignores the request.
bool resetRssHighWaterMark() {
  {
    std::ofstream clear("/proc/self/clear_refs");
    if (!clear) return false;
    clear << "5";
    clear.flush();
    if (!clear) return false;
  }
  const auto hwm = procStatusBytes("VmHWM");
  const auto rss = procStatusBytes("VmRSS");
  // After a reset the mark equals the resident set, give or take the pages touched since.
  constexpr std::int64_t kSlack = 4 << 20;
  return hwm && rss && *hwm <= *rss + kSlack;
}

// Samples VmRSS on a thread of its own while it lives: the fallback when the high-water mark
// cannot be reset. A sample every few milliseconds costs little next to a forward pass, but a
// peak shorter than the interval can be missed, so the result calls it "rss_sampled".
class RssSampler {
 public:
  RssSampler() : m_peak(procStatusBytes("VmRSS").value_or(0)) {
    m_thread = std::thread([this] {
      std::unique_lock lock(m_mutex);
      while (!m_stop) {
        lock.unlock();
        const auto rss = procStatusBytes("VmRSS").value_or(0);
        std::int64_t seen = m_peak.load();
        while (rss > seen && !m_peak.compare_exchange_weak(seen, rss)) {
        }
        lock.lock();
        m_wake.wait_for(lock, std::chrono::milliseconds(2), [this] { return m_stop; });
      }
    });
  }
  ~RssSampler() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
  }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  std::int64_t peak() const {
    return std::max(m_peak.load(), procStatusBytes("VmRSS").value_or(0));
  }

 private:
  std::atomic<std::int64_t> m_peak;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

// The batch on the model's device, so that the timed runs measure the forward pass and not the
// host-to-device copy of its input.
models::ModelInput onDevice(const models::ModelInput& input, c10::Device device) {
  auto move = [&](const at::Tensor& t) { return t.defined() ? t.to(device) : t; };
  return {move(input.tokens), move(input.attentionMask), move(input.embeddings),
          move(input.pixels)};
}

void synchronizeIfCuda(c10::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

}  // namespace

LatencyResult measureLatency(models::Transformer& model, const models::ModelInput& batch,
                             const LatencyOptions& options, Progress& progress) {
  if (options.runs < 1) throw ConfigError("latency: the number of timed runs must be at least 1");
  if (options.warmup < 0) throw ConfigError("latency: the number of warm-up runs cannot be < 0");
  const auto& config = model.config();
  const auto device = model.device();

  LatencyResult result;
  result.runs = options.runs;
  if (config.input == models::InputKind::Patches) {
    if (!batch.pixels.defined()) throw ShapeError("latency: an image model needs pixel values");
    result.batch = batch.pixels.size(0);
    result.tokens = config.nPatches() + 1;
    result.itemUnit = "images";
  } else {
    const auto& ids = batch.embeddings.defined() ? batch.embeddings : batch.tokens;
    if (!ids.defined() || ids.dim() < 2) {
      throw ShapeError("latency: a language model needs token ids [batch, pos]");
    }
    result.batch = ids.size(0);
    result.tokens = ids.size(1);
    result.itemUnit = "tokens";
  }
  if (device.is_cuda()) {
    result.device = "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
  } else {
    result.device = device.str();
  }
  result.parameters = model.weights().parameterCount();
  result.flopsPerExample = forwardFlopsPerExample(config, result.tokens);

  c10::InferenceMode guard;
  const auto input = onDevice(batch, device);

  progress.setStage("latency: warm-up");
  for (int i = 0; i < options.warmup; ++i) {
    progress.check();
    model.forward(input);
    progress.setFraction(static_cast<double>(i + 1) / options.warmup);
  }
  synchronizeIfCuda(device);

  // Peak memory over the timed runs only: the mark is reset after the warm-up.
  std::optional<RssSampler> sampler;
  if (device.is_cuda()) {
#ifdef CS_HAS_CUDA_ALLOCATOR_STATS
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
    result.peakKind = "cuda_allocated";
#else
    result.peakKind = "unavailable";  // this libtorch build has no CUDA allocator statistics
#endif
  } else if (resetRssHighWaterMark()) {
    result.peakKind = "rss";
  } else {
    sampler.emplace();
    result.peakKind = "rss_sampled";
  }

  progress.setStage("latency: timing");
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(options.runs));
  for (int i = 0; i < options.runs; ++i) {
    progress.check();
    synchronizeIfCuda(device);
    const auto start = std::chrono::steady_clock::now();
    {
      const auto out = model.forward(input);
      synchronizeIfCuda(device);
    }
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    progress.setFraction(static_cast<double>(i + 1) / options.runs);
  }

  if (device.is_cuda()) {
#ifdef CS_HAS_CUDA_ALLOCATOR_STATS
    // allocated_bytes[0] is the aggregate over both pools; StatType, which names it, has moved
    // between namespaces across libtorch 2.x, the index has not.
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
    result.peakBytes = stats.allocated_bytes[0].peak;
#endif
  } else if (sampler) {
    result.peakBytes = sampler->peak();
  } else {
    result.peakBytes = procStatusBytes("VmHWM").value_or(0);
  }

  std::sort(ms.begin(), ms.end());
  result.medianMs = quantile(ms, 0.5);
  result.p10Ms = quantile(ms, 0.1);
  result.p90Ms = quantile(ms, 0.9);
  const double itemsPerBatch = result.itemUnit == "images"
                                   ? static_cast<double>(result.batch)
                                   : static_cast<double>(result.batch * result.tokens);
  if (result.medianMs > 0) result.itemsPerSecond = itemsPerBatch / (result.medianMs / 1e3);
  return result;
}

// Multiply-adds, doubled at the end. Per example of T positions:
//   attention (unless skipped, or without heads): T D (H + 2 Hkv) E for Q, K, V; H T T E for the
//     scores and H T T E for the mix, counting the full T x T square (the forward pass computes
//     every entry and masks afterwards, so causal models do that work too); T H E D for W_O;
//   MLP (unless skipped): T D F per matrix, 2 matrices, 3 when gated;
//   unembedding: T D V for language models (every position), D C for classifiers (the class
//     token only);
//   image models: the patch projection, N D C S S (N patches of C x S x S pixels).
// Norms, activations, softmax and embedding lookups are not matrix products and count nothing.
double forwardFlopsPerExample(const models::TransformerConfig& config, std::int64_t tokens) {
  const double T = static_cast<double>(tokens);
  const double D = config.dModel, E = config.dHead;
  double macs = 0.0;
  for (int l = 0; l < config.nLayers; ++l) {
    const double H = config.nHeads[l], Hkv = config.nKvHeads[l], F = config.dMlp[l];
    if (!config.skipsAttention(l) && config.nHeads[l] > 0) {
      macs += T * D * (H + 2 * Hkv) * E;  // Q, K, V
      macs += 2 * H * T * T * E;          // scores and mix
      macs += T * H * E * D;              // W_O
    }
    if (!config.skipsMlp(l)) macs += T * D * F * (config.gatedMlp ? 3 : 2);
  }
  if (config.head == models::HeadKind::Classifier) {
    macs += D * config.dOutput();
  } else {
    macs += T * D * config.dOutput();
  }
  if (config.input == models::InputKind::Patches) {
    macs += static_cast<double>(config.nPatches()) * D * config.nChannels * config.patchSize *
            config.patchSize;
  }
  return 2.0 * macs;
}

}  // namespace cs::analysis
