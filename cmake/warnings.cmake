# One INTERFACE target carries the warning flags; no global compile flags.
add_library(circuitscope_warnings INTERFACE)
add_library(circuitscope::warnings ALIAS circuitscope_warnings)
target_compile_options(circuitscope_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wno-unused-parameter>)
