// Parsing of untrusted JSON documents (safetensors headers, config.json, shard indexes) with a
// nesting limit checked before the parser runs, and short descriptions of values for messages.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cs::data {

/// Parses `text`; FormatError naming `where` if it is not JSON or nests deeper than maxDepth
/// (deep nesting would later overflow the stack of recursive walks such as dump()).
nlohmann::json parseJsonDocument(std::string_view text, const std::string& where,
                                 int maxDepth = 32);

/// Reads a JSON file of at most maxBytes and parses it as above; IoError if unreadable.
nlohmann::json readJsonFile(const std::string& path, std::size_t maxBytes, int maxDepth = 32);

/// A value as it may appear in an error message: scalars in full (strings shortened), arrays
/// and objects by their type only.
std::string describeJsonValue(const nlohmann::json& value);

}  // namespace cs::data
