// The project's one error hierarchy. Library code throws these; only the CLI's main, the task
// runner and Qt slot bodies catch them. Messages say what failed, where, and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace cs {

/// Base of every error circuitscope throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A file could not be opened, read, written or renamed.
class IoError : public Error {
  using Error::Error;
};

/// A file or document is malformed: bad header, bad JSON, offsets out of range, ...
class FormatError : public Error {
  using Error::Error;
};

/// A tensor has the wrong shape or dtype for where it is used.
class ShapeError : public Error {
  using Error::Error;
};

/// A configuration or request names something unsupported or inconsistent.
class ConfigError : public Error {
  using Error::Error;
};

/// A computation produced NaN or Inf where finite values were expected.
class NumericError : public Error {
  using Error::Error;
};

/// A request needs more memory than the machine has: said before allocating when the size is
/// known (core/memory_budget.h), or an allocation that failed, described (core/error_message.h).
class MemoryError : public Error {
  using Error::Error;
};

/// A long job was cancelled through its Progress.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

/// Prefixes an error's message with context while keeping its type, e.g.
/// rethrowWithContext("loading model.safetensors") inside a catch block.
[[noreturn]] void rethrowWithContext(const std::string& context);

}  // namespace cs
