// Device selection shared by the CLI, the GUI and the benchmarks.
#include "core/device.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <optional>

#include "core/error.h"

namespace cs {
namespace {

// float32 on the GPU must agree with the CPU and the reference fixtures to 1e-4: cuDNN
// convolutions (the ViT patch embedding) default to TF32, whose 10-bit mantissa misses that by
// far. Interpretability results are compared across devices, so exactness wins over speed.
c10::Device cudaDevice(c10::Device device) {
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  return device;
}

}  // namespace

c10::Device chooseDevice(const std::string& request) {
  if (request == "auto") {
    return torch::cuda::is_available() ? cudaDevice(c10::Device(c10::kCUDA, 0))
                                       : c10::Device(c10::kCPU);
  }
  if (request == "cpu") return c10::Device(c10::kCPU);
  if (request.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw ConfigError(
          "device '" + request +
          "' requested but this libtorch has no usable CUDA device; use --device cpu");
    }
    std::optional<c10::Device> device;
    try {
      device.emplace(request);
    } catch (const std::exception&) {
      throw ConfigError("device '" + request + "' is not a device name (cpu, cuda, cuda:N, auto)");
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (device->has_index() && device->index() >= count) {
      throw ConfigError("device '" + request + "' requested but this machine has " +
                        std::to_string(count) +
                        " CUDA device(s): use cuda:0 to cuda:" + std::to_string(count - 1));
    }
    return cudaDevice(*device);
  }
  throw ConfigError("device '" + request + "' is not a device name (cpu, cuda, cuda:N, auto)");
}

}  // namespace cs
