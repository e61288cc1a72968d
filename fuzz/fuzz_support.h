// What every fuzz target shares: a private scratch folder for the input file (the parsers take
// paths), and the rule for what counts as a finding. A cs::Error is the expected answer to a
// malformed file; any other exception is a bug in the parser (it should have said what is wrong
// in the project's terms), so it aborts and libFuzzer keeps the input as a crash.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include "core/error.h"

namespace cs::fuzz {

/// A folder for this process only, in /dev/shm when it exists (no disk writes per input), else
/// in the system temp folder. Removed at normal exit; a process that crashed leaves its folder
/// behind, and the next one to start removes those of processes that no longer run (fork mode
/// starts a process per job, and HDF5 inputs crash many of them).
inline const std::filesystem::path& scratchDir() {
  // Never destroyed: the exit handler below still needs it after static destructors ran.
  static const std::filesystem::path* dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    const std::string prefix = "circuitscope-fuzz-";
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      const auto pid = name.substr(prefix.size());
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (!fs::exists(fs::path("/proc") / pid, ec)) fs::remove_all(entry.path(), ec);
    }
    auto* path = new fs::path(base / (prefix + std::to_string(::getpid())));
    fs::create_directories(*path);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(scratchDir(), ignored);
    });
    return path;
  }();
  return *dir;
}

/// Writes bytes to `path`, replacing it; aborts if that fails (the harness, not the parser, is
/// broken then).
inline void writeFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs one input. A cs::Error is an accepted outcome; any other exception is reported with its
/// type and message and turned into a crash.
template <class F>
int runOne(F&& body) {
  try {
    body();
  } catch (const cs::Error&) {
    // The parser refused the input in the project's terms: what it is meant to do.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n== FINDING: %s escaped the parser: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "\n== FINDING: a non-standard exception escaped the parser\n");
    std::abort();
  }
  return 0;
}

/// A property of an accepted input that does not hold: a bug even though nothing threw.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\n== FINDING: %s\n", what.c_str());
  std::abort();
}

}  // namespace cs::fuzz
