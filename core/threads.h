// Thread set-up for libtorch and the BLAS. libtorch starts with one thread on this kind of
// machine, and OpenBLAS (pthread build) ignores libtorch's setting, so both are set here.
#pragma once

namespace cs {

/// Environment variable that overrides the thread count (a positive integer).
inline constexpr const char* kThreadsEnv = "CIRCUITSCOPE_THREADS";

/// Sets libtorch's intra-op threads and the BLAS threads. requested <= 0 means: the value of
/// CIRCUITSCOPE_THREADS if set, else the number of cores. Returns the count in force.
int configureThreads(int requested = 0);

/// Configures threads as configureThreads() does, unless that already happened in this
/// process. The model runtime calls it when a model is built, so every program that runs a
/// model uses all cores without doing anything.
void ensureThreadsConfigured();

/// The intra-op thread count libtorch uses now.
int threadCount();

/// Sets the BLAS thread count for a scope and restores it after. Used around loops that call
/// many small GEMMs from libtorch's own worker threads, where a multi-threaded BLAS would
/// oversubscribe the cores. A no-op when the BLAS has no thread setter.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int m_previous = 0;
};

}  // namespace cs
