// Thread configuration. The BLAS setter is looked up at run time so that the build does not
// depend on which libblas.so.3 alternative is installed.
#include "core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <atomic>
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

using BlasSetter = void (*)(int);
using BlasGetter = int (*)();

BlasSetter blasSetter() {
  static const auto setter =
      reinterpret_cast<BlasSetter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return setter;
}

BlasGetter blasGetter() {
  static const auto getter =
      reinterpret_cast<BlasGetter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return getter;
}

void setBlasThreads(int n) {
  if (auto setter = blasSetter()) setter(n);
}

std::atomic<bool> gConfigured{false};
}  // namespace

int configureThreads(int requested) {
  int n = requested > 0 ? requested : envThreads();
  if (n <= 0) n = coreCount();
  at::set_num_threads(n);
  setBlasThreads(n);
  gConfigured.store(true);
  return at::get_num_threads();
}

void ensureThreadsConfigured() {
  if (!gConfigured.load()) configureThreads();
}

int threadCount() { return at::get_num_threads(); }

ScopedBlasThreads::ScopedBlasThreads(int n) {
  const auto getter = blasGetter();
  m_previous = getter ? getter() : 0;
  if (m_previous > 0 && m_previous != n) setBlasThreads(n);
}

ScopedBlasThreads::~ScopedBlasThreads() {
  const auto getter = blasGetter();
  if (m_previous > 0 && getter && getter() != m_previous) setBlasThreads(m_previous);
}

}  // namespace cs
