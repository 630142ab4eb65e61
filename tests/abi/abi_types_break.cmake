# ctest abi_types_break_detected: abi_types.cmake (the check abi_types_compatible runs) tells
# an incompatible change of the header's types from a compatible one. A baseline is written
# from the real header; doctored copies of the header stand for new versions:
#
#   must fail: a struct field's type, a field added in the middle, a callback's parameters,
#              a function's parameter or result type, a function gone, an enumerator's value,
#              an integer #define's value
#   must pass: the header as it is, a function added, an enumerator added
#
#   cmake -DCC=<cc> -DABIDIFF=<abidiff> -DABIDW=<abidw> -DHEADERS=<include/> -DWORK_DIR=<dir>
#         -P tests/abi/abi_types_break.cmake
foreach(var CC ABIDIFF ABIDW HEADERS WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "abi_types_break.cmake needs -D${var}=...")
  endif()
endforeach()
set(check "${CMAKE_CURRENT_LIST_DIR}/abi_types.cmake")
file(REMOVE_RECURSE "${WORK_DIR}")
set(baseline "${WORK_DIR}/baseline.types.abi")
execute_process(COMMAND "${CMAKE_COMMAND}" -DCC=${CC} -DABIDW=${ABIDW} -DWRITE=ON
  -DHEADERS=${HEADERS} -DBASELINE=${baseline} -DWORK_DIR=${WORK_DIR}/baseline -P "${check}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "writing the baseline failed:\n${out}${err}")
endif()
file(READ "${HEADERS}/sesh.h" header)

set(failures 0)
# A copy of the header with `pattern` replaced by `replacement` (a regex; it must match), then
# the check on it, whose verdict must be `expect` (pass or fail).
function(doctored name expect pattern replacement)
  if(NOT header MATCHES "${pattern}")
    message(FATAL_ERROR "${name}: the header has no match for ${pattern}; update this test")
  endif()
  string(REGEX REPLACE "${pattern}" "${replacement}" changed "${header}")
  if(changed STREQUAL header AND NOT name STREQUAL "unchanged")
    message(FATAL_ERROR "${name}: replacing ${pattern} changed nothing")
  endif()
  file(WRITE "${WORK_DIR}/${name}/include/sesh.h" "${changed}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -DCC=${CC} -DABIDIFF=${ABIDIFF}
    -DHEADERS=${WORK_DIR}/${name}/include -DBASELINE=${baseline} -DWORK_DIR=${WORK_DIR}/${name}
    -P "${check}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    set(verdict pass)
  else()
    set(verdict fail)
  endif()
  if(verdict STREQUAL expect)
    message(STATUS "ok   ${name}: ${verdict}, as it must")
  else()
    message(STATUS "FAIL ${name}: ${verdict}, but it must ${expect}\n${out}${err}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
  endif()
endfunction()

doctored(unchanged pass "SESH_H" "SESH_H")
doctored(field_type fail "int32_t storage_mechanism;" "int64_t storage_mechanism;")
doctored(field_inserted fail "(\n} SeshCustomStore)" "\n  void *reserved;\\1")
doctored(callback_parameters fail "void \\(\\*destroy\\)\\(void \\*user_data\\);"
  "void (*destroy)(void *user_data, int32_t why);")
doctored(parameter_type fail "(sesh_event_track\\(SeshHandle \\*handle,[ \n]*)const char \\*event_id"
  "\\1int64_t event_id")
doctored(result_type fail "\nSeshStatus sesh_event_track\\(" "\nint64_t sesh_event_track(")
doctored(function_gone fail "sesh_event_track\\(SeshHandle" "sesh_event_track_renamed(SeshHandle")
doctored(enumerator_value fail "SESH_STATUS_NO_SESSION = 1," "SESH_STATUS_NO_SESSION = 100,")
doctored(define_value fail "(#define SESH_MAX_ENTITY_SIZE )[0-9]+" "\\1256")
doctored(function_added pass "(\nvoid sesh_string_free\\(char \\*text\\);)"
  "\\1\n\nvoid sesh_zz_added(int32_t flags);")
doctored(enumerator_added pass "(SESH_STATUS_NO_SESSION = 1,)" "\\1\n  SESH_STATUS_ZZ_ADDED = 99,")

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} doctored headers got the wrong verdict")
endif()
