// Device selection shared by the CLI, the GUI and the benchmarks.
#include "core/device.h"

#include <torch/cuda.h>

#include "core/error.h"

namespace cs {

c10::Device chooseDevice(const std::string& request) {
  if (request == "auto") {
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  if (request == "cpu") return c10::Device(c10::kCPU);
  if (request.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw ConfigError(
          "device '" + request +
          "' requested but this libtorch has no usable CUDA device; use --device cpu");
    }
    try {
      return c10::Device(request);
    } catch (const std::exception&) {
      throw ConfigError("device '" + request + "' is not a device name (cpu, cuda, cuda:N, auto)");
    }
  }
  throw ConfigError("device '" + request + "' is not a device name (cpu, cuda, cuda:N, auto)");
}

}  // namespace cs
