// cs::Error hierarchy: every kind is catchable as cs::Error and std::runtime_error, and
// rethrowWithContext prefixes the message without losing the concrete type (callers catch by
// kind, so a context wrapper that sliced to cs::Error would break them).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "core/error.h"

namespace cs {
namespace {

static_assert(std::is_base_of_v<std::runtime_error, Error>);
static_assert(std::is_base_of_v<Error, IoError>);
static_assert(std::is_base_of_v<Error, FormatError>);
static_assert(std::is_base_of_v<Error, ShapeError>);
static_assert(std::is_base_of_v<Error, ConfigError>);
static_assert(std::is_base_of_v<Error, Cancelled>);

// Throws `original`, catches it and rethrows with context, so the test sees exactly what a
// library caller would.
template <typename E>
void throwWithContext(const E& original, const std::string& context) {
  try {
    throw original;
  } catch (...) {
    rethrowWithContext(context);
  }
}

template <typename E>
void expectKindKeptWithContext() {
  try {
    throwWithContext(E("tensor blocks.3.attn.W_Q: bad"), "loading model.safetensors");
    FAIL() << "rethrowWithContext returned";
  } catch (const E& e) {
    EXPECT_STREQ(e.what(), "loading model.safetensors: tensor blocks.3.attn.W_Q: bad");
  } catch (const std::exception& e) {
    FAIL() << "concrete type lost; caught: " << e.what();
  }
}

TEST(Error, EveryKindIsCatchableAsErrorAndRuntimeError) {
  auto check = [](auto thrower, const char* message) {
    try {
      thrower();
    } catch (const Error& e) {
      EXPECT_STREQ(e.what(), message);
    }
    try {
      thrower();
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), message);
    }
  };
  check([] { throw IoError("io"); }, "io");
  check([] { throw FormatError("format"); }, "format");
  check([] { throw ShapeError("shape"); }, "shape");
  check([] { throw ConfigError("config"); }, "config");
  check([] { throw Cancelled(); }, "cancelled");
  check([] { throw Error("base"); }, "base");
}

TEST(Error, RethrowWithContextKeepsIoError) { expectKindKeptWithContext<IoError>(); }
TEST(Error, RethrowWithContextKeepsFormatError) { expectKindKeptWithContext<FormatError>(); }
TEST(Error, RethrowWithContextKeepsShapeError) { expectKindKeptWithContext<ShapeError>(); }
TEST(Error, RethrowWithContextKeepsConfigError) { expectKindKeptWithContext<ConfigError>(); }

TEST(Error, RethrowWithContextKeepsPlainErrorAsError) {
  try {
    throwWithContext(Error("inner"), "outer");
    FAIL() << "rethrowWithContext returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "outer: inner");
  }
}

TEST(Error, RethrowWithContextWrapsForeignExceptionsAsError) {
  // A std::exception from libtorch or the standard library becomes a cs::Error with context,
  // so the CLI's main reports it as a user-facing error rather than an internal one.
  try {
    throwWithContext(std::out_of_range("index 9"), "reading config.json");
    FAIL() << "rethrowWithContext returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "reading config.json: index 9");
  }
}

TEST(Error, CancelledPassesThroughUnchanged) {
  // Cancellation is not a failure of the step that saw it: no context, same message.
  try {
    throwWithContext(Cancelled(), "loading model.safetensors");
    FAIL() << "rethrowWithContext returned";
  } catch (const Cancelled& e) {
    EXPECT_STREQ(e.what(), "cancelled");
  } catch (const std::exception& e) {
    FAIL() << "Cancelled was converted; caught: " << e.what();
  }
}

TEST(Error, ContextNestsOutermostFirst) {
  try {
    try {
      throwWithContext(FormatError("bad header"), "model.safetensors");
    } catch (...) {
      rethrowWithContext("loading gpt2-tiny");
    }
    FAIL() << "rethrowWithContext returned";
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(), "loading gpt2-tiny: model.safetensors: bad header");
  }
}

}  // namespace
}  // namespace cs
