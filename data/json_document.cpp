// Depth-limited JSON parsing for untrusted documents.
#include "data/json_document.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cs::data {

namespace {
// Rejects deeply nested JSON before the parser sees it. Brackets inside strings do not count.
void checkDepth(std::string_view text, const std::string& where, int maxDepth) {
  int depth = 0;
  bool inString = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > maxDepth) {
        throw FormatError(where + ": JSON is nested more than " + std::to_string(maxDepth) +
                          " levels deep");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}
}  // namespace

nlohmann::json parseJsonDocument(std::string_view text, const std::string& where, int maxDepth) {
  checkDepth(text, where, maxDepth);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(where + ": not valid JSON (" + e.what() + ")");
  }
}

nlohmann::json readJsonFile(const std::string& path, std::size_t maxBytes, int maxDepth) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError("cannot read " + path + ": " + ec.message());
  if (size > maxBytes) {
    throw FormatError(path + ": " + std::to_string(size) + " bytes is implausibly large (limit " +
                      std::to_string(maxBytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw IoError("cannot read " + path);
  return parseJsonDocument(text.str(), path, maxDepth);
}

std::string describeJsonValue(const nlohmann::json& value) {
  if (value.is_array() || value.is_object()) {
    return std::string("an ") + (value.is_array() ? "array" : "object");
  }
  auto text = value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

}  // namespace cs::data
