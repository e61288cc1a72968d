# ctest runs one process per GoogleTest suite, not one per test. Every process start loads
# libtorch, about half a second of CPU on the CI machine, and with one process per test those
# starts were about a third of the whole suite's time. A suite fails when any of its tests
# fails; gtest's output, which ctest prints on failure, names the test. A suite whose tests all
# skip exits with 77 (tests/support/run_all_tests.h) and is reported as skipped.
#
# cs_add_ctest_suites(target LABEL label [ENVIRONMENT VAR=value]) lists the binary's suites after
# each build (cmake/list_gtest_suites.cmake), as gtest_discover_tests does for single tests.
function(cs_add_ctest_suites target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "LABEL;ENVIRONMENT" "")
  set(list_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" "-Dexecutable=$<TARGET_FILE:${target}>" "-Doutput=${list_file}"
      "-Dlabel=${arg_LABEL}" "-Denvironment=${arg_ENVIRONMENT}"
      "-Dworking_directory=${CMAKE_CURRENT_BINARY_DIR}"
      -P "${PROJECT_SOURCE_DIR}/cmake/list_gtest_suites.cmake"
    VERBATIM)
  file(WRITE "${include_file}"
    "if(EXISTS \"${list_file}\")\n"
    "  include(\"${list_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
