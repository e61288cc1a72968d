// Thread set-up for libtorch and the BLAS. libtorch starts with one thread on this kind of
// machine, and OpenBLAS (pthread build) ignores libtorch's setting, so both are set here.
#pragma once

namespace cs {

/// Environment variable that overrides the thread count (a positive integer).
inline constexpr const char* kThreadsEnv = "CIRCUITSCOPE_THREADS";

/// Sets libtorch's intra-op threads and the BLAS threads. requested <= 0 means: the value of
/// CIRCUITSCOPE_THREADS if set, else the number of cores. Returns the count in force.
int configureThreads(int requested = 0);

/// The intra-op thread count libtorch uses now.
int threadCount();

}  // namespace cs
