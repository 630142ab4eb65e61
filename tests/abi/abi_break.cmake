# ctest abi_break_detected: abi_check.cmake (the check abi_compatible runs) catches an
# incompatible change. Doctored copies of the committed baseline stand for new libraries:
#
#   removed  a function gone (sesh_event_track)            must fail: incompatible
#   added    a function more                               must pass: compatible
#   moved    a function gone and the SONAME moved, no
#            baseline for the new SONAME                   must fail: no baseline
#   moved    the same with the new SONAME's baseline       must pass
#
#   cmake -DABIDIFF=<abidiff> -DBASELINE=<abi/libsesh.so.N.abi> -DWORK_DIR=<dir>
#         -P tests/abi/abi_break.cmake
foreach(var ABIDIFF BASELINE WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "abi_break.cmake needs -D${var}=...")
  endif()
endforeach()
set(check "${CMAKE_CURRENT_LIST_DIR}/abi_check.cmake")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/baselines" "${WORK_DIR}/moved-baselines")
get_filename_component(baseline_name "${BASELINE}" NAME)
file(COPY "${BASELINE}" DESTINATION "${WORK_DIR}/baselines")
file(READ "${BASELINE}" corpus)
if(NOT corpus MATCHES "soname='([^']*)'")
  message(FATAL_ERROR "${BASELINE} names no SONAME")
endif()
set(soname "${CMAKE_MATCH_1}")

set(removed_line "[^\n]*<elf-symbol name='sesh_event_track' [^\n]*\n")
if(NOT corpus MATCHES "${removed_line}")
  message(FATAL_ERROR "${BASELINE} has no sesh_event_track")
endif()
string(REGEX REPLACE "${removed_line}" "" removed "${corpus}")
file(WRITE "${WORK_DIR}/removed.abi" "${removed}")

string(REPLACE "</elf-function-symbols>"
  "  <elf-symbol name='sesh_zz_added' type='func-type' binding='global-binding' visibility='default-visibility' is-defined='yes'/>\n  </elf-function-symbols>"
  added "${corpus}")
file(WRITE "${WORK_DIR}/added.abi" "${added}")

string(REPLACE "soname='${soname}'" "soname='libsesh.so.99'" moved "${removed}")
file(WRITE "${WORK_DIR}/moved.abi" "${moved}")
file(WRITE "${WORK_DIR}/moved-baselines/libsesh.so.99.abi" "${moved}")

set(failures 0)
function(expect name baselines outcome pattern)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DABIDIFF=${ABIDIFF}
      -DBASELINE_DIR=${WORK_DIR}/${baselines} -DNEW=${WORK_DIR}/${name}.abi -P "${check}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(text "${out}${err}")
  if(outcome STREQUAL "fail")
    set(ok OFF)
    if(NOT rc EQUAL 0 AND text MATCHES "${pattern}")
      set(ok ON)
    endif()
  else()
    set(ok OFF)
    if(rc EQUAL 0 AND text MATCHES "${pattern}")
      set(ok ON)
    endif()
  endif()
  if(ok)
    message(STATUS "${name} against ${baselines}: ${outcome}, as it must")
  else()
    message(SEND_ERROR "${name} against ${baselines}: expected to ${outcome} with '${pattern}', "
      "got exit ${rc}:\n${text}")
  endif()
endfunction()

expect(removed baselines fail "incompatible ABI change.*sesh_event_track")
expect(added baselines pass "compatible ABI change.*sesh_zz_added")
expect(moved baselines fail "no ABI baseline for SONAME libsesh\\.so\\.99")
expect(moved moved-baselines pass "is the baseline's")
