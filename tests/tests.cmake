# ctest entries. One GoogleTest binary (disttune_tests) runs alone and under mpirun; the
# collective tests (suites named Mpi*) run at 1, 2 and 4 ranks. Script tests drive the real
# disttune binary.
target_include_directories(disttune_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)

find_program(PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT PYTHON3)
  find_program(PYTHON3 python3 REQUIRED)
endif()

# Open MPI refuses root without these, and 4 ranks on a 2-core machine need --oversubscribe.
set(DT_MPI_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
set(DT_TEST_ENV "DISTTUNE_BUILD_DIR=${PROJECT_BINARY_DIR};DISTTUNE_SOURCE_DIR=${PROJECT_SOURCE_DIR};DISTTUNE_MPIEXEC=${MPIEXEC_EXECUTABLE}")

add_test(NAME unit COMMAND disttune_tests)
set_tests_properties(unit PROPERTIES TIMEOUT 1200 ENVIRONMENT "${DT_TEST_ENV}")

foreach(np 2 4)
  add_test(NAME mpi_np${np}
           COMMAND ${MPIEXEC_EXECUTABLE} -np ${np} --oversubscribe $<TARGET_FILE:disttune_tests>
                   --gtest_filter=Mpi*)
  set_tests_properties(mpi_np${np} PROPERTIES TIMEOUT 600 ENVIRONMENT "${DT_MPI_ENV};${DT_TEST_ENV}")
endforeach()

# Script tests: tests/<name>_test.py, each given the build and source directories.
file(GLOB DT_SCRIPT_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/*_test.py)
foreach(script ${DT_SCRIPT_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME ${name} COMMAND ${PYTHON3} ${script})
  set_tests_properties(${name} PROPERTIES TIMEOUT 900 ENVIRONMENT "${DT_MPI_ENV};${DT_TEST_ENV}")
  # Fault-injection scripts (tests/faults*_test.py) also run in the sanitizer stage.
  if(name MATCHES "^faults")
    set_tests_properties(${name} PROPERTIES LABELS sanitize)
  endif()
endforeach()

# Fuzzing: a short seeded run of every target (scripts/fuzz.sh is the extended run).
add_test(NAME fuzz_short COMMAND disttune_fuzz all --runs 2000 --seed 1
                                 --artifact-prefix ${PROJECT_BINARY_DIR}/)
set_tests_properties(fuzz_short PROPERTIES TIMEOUT 900)

# The sanitizer stage of scripts/test.sh runs `ctest -L sanitize` in a -DDISTTUNE_SANITIZE=ON
# tree (build-asan): these tests, and the fault scripts above.
set_tests_properties(unit mpi_np2 failfast_test fuzz_short fuzz_harness_test PROPERTIES LABELS sanitize)
if(DISTTUNE_SANITIZE)
  # Leak checking stays off: Open MPI and libtorch keep process-lifetime allocations that
  # LeakSanitizer reports at exit. tests/sanitizer.supp names the third-party reports that
  # are suppressed, each with the library it comes from.
  set(DT_SANITIZER_ENV
      "ASAN_OPTIONS=detect_leaks=0:check_initialization_order=1:strict_init_order=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizer.supp")
  get_property(dt_all_tests DIRECTORY PROPERTY TESTS)
  foreach(t ${dt_all_tests})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT ${DT_SANITIZER_ENV})
  endforeach()
endif()

add_test(NAME config_docs_current
         COMMAND ${CMAKE_COMMAND} -DDISTTUNE=$<TARGET_FILE:disttune>
                 -DDOC=${PROJECT_SOURCE_DIR}/docs/config.md
                 -P ${PROJECT_SOURCE_DIR}/tests/check_config_docs.cmake)

# faultfs: the LD_PRELOAD storage-fault injector that tests/faults_storage_test.py puts under
# the real binary. Built with the tests; never sanitized itself (it is preloaded ahead of
# the sanitizer runtime, which then needs ASAN_OPTIONS=verify_asan_link_order=0).
add_library(dt_faultfs SHARED ${PROJECT_SOURCE_DIR}/tests/faultfs.c)
target_compile_options(dt_faultfs PRIVATE -fno-sanitize=all)
target_link_options(dt_faultfs PRIVATE -fno-sanitize=all)
target_link_libraries(dt_faultfs PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(disttune_tests dt_faultfs)
