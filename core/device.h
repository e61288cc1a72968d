// Chooses the compute device once; everything below receives it.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace cs {

/// "cpu", "cuda", "cuda:N" or "auto" (CUDA when libtorch has it, else CPU). Asking for CUDA
/// where there is none is a ConfigError that says so.
c10::Device chooseDevice(const std::string& request = "auto");

}  // namespace cs
