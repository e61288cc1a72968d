#include "core/error_message.h"

#include <c10/util/Exception.h>

#include <new>

#include "core/error.h"

namespace cs {

namespace {

constexpr const char* kMemoryAdvice =
    "use a smaller batch (--batch), fewer examples, hooks or positions, or a machine with more "
    "memory";

bool mentionsOutOfMemory(const std::string& text) {
  return text.find("can't allocate memory") != std::string::npos ||
         text.find("out of memory") != std::string::npos;
}

// libtorch's messages can run over several lines; the first says what happened.
std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

ExceptionDescription describeException(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const MemoryError& e) {
    return {e.what(), ExceptionDescription::Kind::OutOfMemory};
  } catch (const Error& e) {
    return {e.what(), ExceptionDescription::Kind::Ours};
  } catch (const c10::Error& e) {
    const std::string text = e.what_without_backtrace();
    if (mentionsOutOfMemory(text))
      return {"out of memory (" + firstLine(text) + "); " + kMemoryAdvice,
              ExceptionDescription::Kind::OutOfMemory};
    return {text, ExceptionDescription::Kind::Library};
  } catch (const std::bad_alloc&) {
    return {std::string("out of memory (an allocation failed); ") + kMemoryAdvice,
            ExceptionDescription::Kind::OutOfMemory};
  } catch (const std::exception& e) {
    return {e.what(), ExceptionDescription::Kind::Unexpected};
  } catch (...) {
    return {"unknown error", ExceptionDescription::Kind::Unexpected};
  }
}

}  // namespace cs
