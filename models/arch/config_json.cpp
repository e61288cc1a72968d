// config.json field readers with clear errors.
#include "models/arch/config_json.h"

#include "core/error.h"
#include "data/json_document.h"

namespace cs::models {

namespace {
const nlohmann::json* find(const nlohmann::json& j, const std::string& key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

int checkedInt(const nlohmann::json& v, const std::string& key, int max) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > max) {
    throw ConfigError("config.json: \"" + key + "\" must be an integer in [1, " +
                      std::to_string(max) + "], got " + data::describeJsonValue(v));
  }
  return static_cast<int>(v.get<std::int64_t>());
}
}  // namespace

int requirePositive(const nlohmann::json& j, const std::string& key, int max) {
  const auto* v = find(j, key);
  if (v == nullptr) throw ConfigError("config.json: required field \"" + key + "\" is missing");
  return checkedInt(*v, key, max);
}

int optionalPositive(const nlohmann::json& j, const std::string& key, int fallback, int max) {
  const auto* v = find(j, key);
  return v == nullptr ? fallback : checkedInt(*v, key, max);
}

double optionalNumber(const nlohmann::json& j, const std::string& key, double fallback) {
  const auto* v = find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_number())
    throw ConfigError("config.json: \"" + key + "\" must be a number, got " +
                      data::describeJsonValue(*v));
  return v->get<double>();
}

bool optionalBool(const nlohmann::json& j, const std::string& key, bool fallback) {
  const auto* v = find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean())
    throw ConfigError("config.json: \"" + key + "\" must be true or false, got " +
                      data::describeJsonValue(*v));
  return v->get<bool>();
}

std::string optionalString(const nlohmann::json& j, const std::string& key,
                           const std::string& fallback) {
  const auto* v = find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_string())
    throw ConfigError("config.json: \"" + key + "\" must be a string, got " +
                      data::describeJsonValue(*v));
  return v->get<std::string>();
}

}  // namespace cs::models
