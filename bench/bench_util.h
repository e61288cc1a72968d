// Timing helpers for the benchmarks: medians of repeated runs, interleaved so that machine
// noise hits the compared variants alike.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace cs::bench {

/// Seconds taken by fn.
double timeOnce(const std::function<void()>& fn);

struct Timing {
  double median = 0.0;
  double min =
      0.0;  ///< noise on a shared machine only ever adds time: the best run is the steadiest
};

/// Runs each variant once as warm-up, then `rounds` rounds of one run per variant, the order
/// rotated each round; returns each variant's timing in seconds.
std::vector<Timing> interleavedTimings(const std::vector<std::function<void()>>& variants,
                                       int rounds);

double median(std::vector<double> values);

/// The integer after `name` on the command line, else `fallback`.
int argInt(int argc, char** argv, const std::string& name, int fallback);

}  // namespace cs::bench
