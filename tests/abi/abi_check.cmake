# ctest abi_compatible: the ABI of a libsesh.so is compatible with the committed baseline
# for its SONAME, abi/<SONAME>.abi (made by abidw: see README, "ABI").
#
#   cmake -DABIDIFF=<abidiff> -DREADELF=<readelf> -DBASELINE_DIR=<abi/> -DNEW=<libsesh.so or .abi>
#         [-DHEADERS=<include/>] -P tests/abi/abi_check.cmake
#
# The baseline is looked up by the new library's SONAME, so an incompatible change passes
# only when the SONAME moved and a baseline for the new SONAME was committed with it. A
# compatible change (a new function) passes with abidiff's report. Exit status of abidiff:
# bit 1 error, bit 2 usage error, bit 4 ABI change, bit 8 incompatible ABI change.
foreach(var ABIDIFF BASELINE_DIR NEW)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "abi_check.cmake needs -D${var}=...")
  endif()
endforeach()

# The new library's SONAME.
if(NEW MATCHES "\\.abi$")
  file(READ "${NEW}" corpus)
  if(NOT corpus MATCHES "<abi-corpus [^>]*soname='([^']*)'")
    message(FATAL_ERROR "${NEW} names no SONAME")
  endif()
  set(soname "${CMAKE_MATCH_1}")
else()
  if(NOT READELF)
    message(FATAL_ERROR "abi_check.cmake needs -DREADELF=... to read a library's SONAME")
  endif()
  execute_process(COMMAND "${READELF}" -d "${NEW}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT dynamic MATCHES "\\(SONAME\\)[^\n]*\\[([^]\n]*)\\]")
    message(FATAL_ERROR "${NEW} has no SONAME")
  endif()
  set(soname "${CMAKE_MATCH_1}")
endif()

set(baseline "${BASELINE_DIR}/${soname}.abi")
if(NOT EXISTS "${baseline}")
  message(FATAL_ERROR "no ABI baseline for SONAME ${soname} (${baseline}). A new SONAME needs "
    "its baseline, committed with it: cmake --build <build dir> --target abi_baseline")
endif()

set(args)
if(HEADERS AND NOT NEW MATCHES "\\.abi$")
  set(args --hd2 "${HEADERS}")
endif()
execute_process(COMMAND "${ABIDIFF}" ${args} "${baseline}" "${NEW}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE report ERROR_VARIABLE errors)
if(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "abidiff did not run: ${rc}")
endif()
math(EXPR tool_error "${rc} & 3")
math(EXPR changed "${rc} & 4")
math(EXPR incompatible "${rc} & 8")
if(tool_error)
  message(FATAL_ERROR "abidiff failed (exit ${rc}):\n${report}${errors}")
endif()
if(incompatible)
  message(FATAL_ERROR "incompatible ABI change against ${soname}'s baseline (abidiff exit ${rc}):\n"
    "${report}\n"
    "Undo it, or move the SONAME (the major version in Cargo.toml) and commit the new "
    "SONAME's baseline: cmake --build <build dir> --target abi_baseline")
endif()
if(changed)
  message(STATUS "compatible ABI change against ${soname}'s baseline (abidiff exit ${rc}):\n"
    "${report}\nRecord it in the baseline: cmake --build <build dir> --target abi_baseline")
else()
  message(STATUS "ABI of ${NEW} (${soname}) is the baseline's")
endif()
