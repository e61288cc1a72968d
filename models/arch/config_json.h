// Typed, range-checked reads from an untrusted config.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cs::models {

/// Required positive integer in [1, max]; ConfigError naming the key otherwise.
int requirePositive(const nlohmann::json& j, const std::string& key, int max = 1 << 24);
/// Optional positive integer (absent or null gives fallback).
int optionalPositive(const nlohmann::json& j, const std::string& key, int fallback,
                     int max = 1 << 24);
double optionalNumber(const nlohmann::json& j, const std::string& key, double fallback);
bool optionalBool(const nlohmann::json& j, const std::string& key, bool fallback);
std::string optionalString(const nlohmann::json& j, const std::string& key,
                           const std::string& fallback);

}  // namespace cs::models
