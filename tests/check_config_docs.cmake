# docs/config.md must equal `disttune help config` (regenerate with scripts/gen-docs.sh).
execute_process(COMMAND ${DISTTUNE} help config OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "disttune help config failed (${rc})")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/config.md is out of date: run scripts/gen-docs.sh and commit it")
endif()
