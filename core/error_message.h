// The message a user sees for whatever a job threw: our own errors as they are, libtorch's
// without their C++ backtrace, and a failed allocation (libtorch's "can't allocate memory",
// CUDA's "out of memory", std::bad_alloc) as an out-of-memory message with advice. Used by the
// CLI's main and the desktop application's job runner, which cannot include libtorch.
#pragma once

#include <exception>
#include <string>

namespace cs {

struct ExceptionDescription {
  enum class Kind {
    Ours,         ///< a cs::Error other than MemoryError
    OutOfMemory,  ///< MemoryError or a failed allocation
    Library,      ///< libtorch refused the request
    Unexpected,   ///< anything else: a bug
  };
  std::string message;
  Kind kind = Kind::Unexpected;
};

/// Describes `error` (std::current_exception() in a catch block).
ExceptionDescription describeException(const std::exception_ptr& error);

}  // namespace cs
