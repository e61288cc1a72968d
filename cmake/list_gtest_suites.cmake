# Writes ctest's tests for one GoogleTest binary, one per suite (cmake/gtest_suites.cmake).
# Inputs (-D): executable, output, label, environment (one VAR=value or empty), working_directory.
# 77 is tests/support/run_all_tests.h's kAllSkippedExitCode.
execute_process(COMMAND "${executable}" --gtest_list_tests
  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE status TIMEOUT 120)
if(NOT status EQUAL 0)
  file(REMOVE "${output}")
  message(FATAL_ERROR "listing the tests of ${executable} failed (${status}):\n${errors}")
endif()

# A suite's line starts in the first column and ends its name with a dot ("Suite." or
# "Prefix/Suite/0.  # TypeParam = ..."); the tests under it are indented.
string(REGEX MATCHALL "\n[^ \n#]+\\." suite_lines "\n${listing}")
set(tests "")
foreach(line IN LISTS suite_lines)
  string(REGEX REPLACE "^\n(.*)\\.$" "\\1" suite "${line}")
  if(suite MATCHES "^DISABLED_")
    continue()
  endif()
  string(APPEND tests
    "add_test([==[${suite}]==] [==[${executable}]==] [==[--gtest_filter=${suite}.*]==])\n"
    "set_tests_properties([==[${suite}]==] PROPERTIES LABELS [==[${label}]==]"
    " SKIP_RETURN_CODE 77 WORKING_DIRECTORY [==[${working_directory}]==]"
    " ENVIRONMENT [==[${environment}]==])\n")
endforeach()
if(tests STREQUAL "")
  message(FATAL_ERROR "${executable} lists no tests")
endif()
file(WRITE "${output}" "${tests}")
