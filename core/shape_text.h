// Shapes as error messages print them: "[2, 7, 64]".
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace cs {

std::string shapeText(c10::ArrayRef<std::int64_t> shape);

}  // namespace cs
