// Shape formatting for messages.
#include "core/shape_text.h"

namespace cs {

std::string shapeText(c10::ArrayRef<std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace cs
