# Runs one fuzz target for a bounded time; the ctest command of every fuzz_* test.
#
#   cmake -DFUZZER=<exe> -DSECONDS=<n> -DWORK=<dir> -DSEEDS=<dir> -DARTIFACTS=<dir>
#         [-DCRASHES=<dir>] [-DDICT=<file>] -P run_fuzz.cmake
#
# CRASHES holds the reproducers of bugs found earlier (tests/fuzz/crashes/<target>);
# they run first with the seeds, so a fixed bug that comes back fails at once.
#
# HAUSBUS_FUZZ_SECONDS in the environment overrides SECONDS, so a longer run needs no
# reconfigure: HAUSBUS_FUZZ_SECONDS=600 ctest -L fuzz. Fails on any crash, leak,
# sanitizer report, per-input timeout (10 s) or broken property; the input that did it
# is in ARTIFACTS.
foreach(var FUZZER SECONDS WORK SEEDS ARTIFACTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz.cmake: -D${var}= is required")
  endif()
endforeach()
if(DEFINED ENV{HAUSBUS_FUZZ_SECONDS})
  set(SECONDS $ENV{HAUSBUS_FUZZ_SECONDS})
endif()
if(NOT SECONDS MATCHES "^[0-9]+$" OR SECONDS EQUAL 0)
  message(FATAL_ERROR "HAUSBUS_FUZZ_SECONDS must be a positive number of seconds, not '${SECONDS}'")
endif()
if(NOT EXISTS ${FUZZER})
  message(FATAL_ERROR "${FUZZER} is not built (the fuzz_build test builds it)")
endif()

# New inputs go to the work corpus; seeds and reproducers are only read.
file(MAKE_DIRECTORY ${WORK} ${ARTIFACTS})
set(inputs ${WORK} ${SEEDS})
if(CRASHES AND IS_DIRECTORY ${CRASHES})
  list(APPEND inputs ${CRASHES})
endif()
set(args -max_total_time=${SECONDS} -max_len=70000 -timeout=10 -rss_limit_mb=2048
         -print_final_stats=1 -artifact_prefix=${ARTIFACTS}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
# libFuzzer stops between inputs, so allow it the start-up and the last input on top.
math(EXPR limit "${SECONDS} + 120")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env
          ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
          HAUSBUS_LOG_LEVEL=error
          ${FUZZER} ${args} ${inputs}
  RESULT_VARIABLE rc
  TIMEOUT ${limit})
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input that did it is in ${ARTIFACTS}/")
endif()
