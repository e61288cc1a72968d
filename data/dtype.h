// Element types as safetensors names them, and their libtorch equivalents.
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace cs::data {

/// The safetensors dtype string ("F32", "BF16", ...) for a libtorch type; throws ConfigError
/// for types safetensors cannot hold.
std::string safetensorsDtypeName(c10::ScalarType type);

/// The libtorch type for a safetensors dtype string, or nothing if unknown.
std::optional<c10::ScalarType> scalarTypeFromSafetensors(const std::string& name);

/// The name users know: "float32", "bfloat16", "int64", ...
std::string dtypeDisplayName(c10::ScalarType type);

}  // namespace cs::data
