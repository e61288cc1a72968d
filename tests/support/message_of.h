// messageOf: the message of the exception a call throws, for tests of error messages. Header
// only and free of libtorch and Qt, so every test binary (the viewers' too) shares it.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <typeinfo>

namespace cs::test {

/// Runs `f` and returns the message of the E it throws. Any other outcome fails the test, and
/// names what was thrown instead, so a wrong kind is visible at once.
template <typename E, typename F>
std::string messageOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name() << ": "
                  << e.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  return {};
}

}  // namespace cs::test
