// safetensors dtype names <-> libtorch scalar types.
#include "data/dtype.h"

#include <array>
#include <utility>

#include "core/error.h"

namespace cs::data {

namespace {
constexpr std::array<std::pair<const char*, c10::ScalarType>, 10> kTypes{{
    {"F64", c10::ScalarType::Double},
    {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},
    {"BF16", c10::ScalarType::BFloat16},
    {"I64", c10::ScalarType::Long},
    {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},
    {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},
    {"BOOL", c10::ScalarType::Bool},
}};
}  // namespace

std::string safetensorsDtypeName(c10::ScalarType type) {
  for (const auto& [name, t] : kTypes) {
    if (t == type) return name;
  }
  throw ConfigError(std::string("tensors of type ") + c10::toString(type) +
                    " cannot be stored in safetensors; convert to float32 first");
}

std::optional<c10::ScalarType> scalarTypeFromSafetensors(const std::string& name) {
  for (const auto& [n, t] : kTypes) {
    if (name == n) return t;
  }
  return std::nullopt;
}

std::string dtypeDisplayName(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Double:
      return "float64";
    case c10::ScalarType::Float:
      return "float32";
    case c10::ScalarType::Half:
      return "float16";
    case c10::ScalarType::BFloat16:
      return "bfloat16";
    case c10::ScalarType::Long:
      return "int64";
    case c10::ScalarType::Int:
      return "int32";
    case c10::ScalarType::Short:
      return "int16";
    case c10::ScalarType::Char:
      return "int8";
    case c10::ScalarType::Byte:
      return "uint8";
    case c10::ScalarType::Bool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

}  // namespace cs::data
