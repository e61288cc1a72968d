// Thread configuration. The BLAS setter is looked up at run time so that the build does not
// depend on which libblas.so.3 alternative is installed.
#include "core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"

namespace cs {

namespace {
int coreCount() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int envThreads() {
  const char* value = std::getenv(kThreadsEnv);
  if (value == nullptr || *value == '\0') return 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  if (*end != '\0' || n <= 0 || n > 1024) {
    throw ConfigError(std::string(kThreadsEnv) + "='" + value +
                      "' is not a thread count: set it to a positive integer or unset it");
  }
  return static_cast<int>(n);
}

void setBlasThreads(int n) {
  using Setter = void (*)(int);
  for (const char* name : {"openblas_set_num_threads", "goto_set_num_threads"}) {
    if (auto setter = reinterpret_cast<Setter>(dlsym(RTLD_DEFAULT, name))) {
      setter(n);
      return;
    }
  }
}
}  // namespace

int configureThreads(int requested) {
  int n = requested > 0 ? requested : envThreads();
  if (n <= 0) n = coreCount();
  at::set_num_threads(n);
  setBlasThreads(n);
  return at::get_num_threads();
}

int threadCount() { return at::get_num_threads(); }

}  // namespace cs
