# The types of the C ABI, which the library's own baseline cannot record: libsesh.so has no
# debug information for sesh.h's types (and Rust's would describe Rust types). This script
# compiles a probe from the header with debug information, one exported variable per item of
# the ABI, so that abidw records what a C caller depends on:
#
#   sesh_abi_fn_<function>   a pointer of the function's type: every parameter and result
#                            type, down through SeshCustomStore and the callback types;
#   sesh_abi_type_<struct>   each struct the header defines (SeshCustomStore), by value;
#   sesh_abi_enum_<enum>     each enum (SeshStatus, ...), with its enumerators' values;
#   sesh_abi_define_<NAME>   each integer #define but the version, as an array of 1 + NAME
#                            bytes, so that its value is a size abidiff compares.
#
# Check (ctest abi_types_compatible): abidiff between the committed baseline and the probe;
# a variable removed or changed is an incompatible change and fails (a field, a parameter, an
# enumerator's value, a define), while one added passes (a new function or struct), and so
# does a new enumerator (abidiff counts it harmless).
#
#   cmake -DCC=<cc> -DABIDIFF=<abidiff> -DHEADERS=<include/> -DBASELINE=<abi/SONAME.types.abi>
#         -DWORK_DIR=<dir> -P tests/abi/abi_types.cmake
#
# Write the baseline instead (the abi_baseline target does): add -DABIDW=<abidw> -DWRITE=ON.
foreach(var CC HEADERS BASELINE WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "abi_types.cmake needs -D${var}=...")
  endif()
endforeach()

get_filename_component(HEADERS "${HEADERS}" ABSOLUTE)
get_filename_component(WORK_DIR "${WORK_DIR}" ABSOLUTE)
file(READ "${HEADERS}/sesh.h" header)
set(probe "/* Made by tests/abi/abi_types.cmake from sesh.h: one variable per ABI item. */\n")
string(APPEND probe "#include \"sesh.h\"\n")

# Functions: declarations start a line (cbindgen writes no other code at column 0 that
# names a sesh_ function followed by a parenthesis).
string(REGEX MATCHALL "\n[A-Za-z][A-Za-z0-9_ ]*[ *]sesh_[a-z0-9_]+\\(" declarations "${header}")
set(functions)
foreach(declaration IN LISTS declarations)
  string(REGEX MATCH "sesh_[a-z0-9_]+" name "${declaration}")
  list(APPEND functions "${name}")
endforeach()
list(REMOVE_DUPLICATES functions)
list(LENGTH functions function_count)
if(function_count LESS 10)
  message(FATAL_ERROR "found ${function_count} functions in ${HEADERS}/sesh.h: not sesh's header?")
endif()
foreach(name IN LISTS functions)
  string(APPEND probe "__typeof__(${name}) *const sesh_abi_fn_${name} = ${name};\n")
endforeach()

# (No ";" in the pattern: it would split the match into two list items.)
string(REGEX MATCHALL "\n} Sesh[A-Za-z0-9]+" structs "${header}")
foreach(struct IN LISTS structs)
  string(REGEX MATCH "Sesh[A-Za-z0-9]+" name "${struct}")
  string(APPEND probe "${name} sesh_abi_type_${name};\n")
endforeach()

string(REGEX MATCHALL "\nenum Sesh[A-Za-z0-9]+" enums "${header}")
list(REMOVE_DUPLICATES enums)
foreach(enum IN LISTS enums)
  string(REGEX MATCH "Sesh[A-Za-z0-9]+" name "${enum}")
  string(APPEND probe "enum ${name} sesh_abi_enum_${name};\n")
endforeach()

string(REGEX MATCHALL "\n#define SESH_[A-Z0-9_]+ [0-9]+" defines "${header}")
foreach(define IN LISTS defines)
  string(REGEX MATCH "SESH_[A-Z0-9_]+" name "${define}")
  if(NOT name MATCHES "^SESH_VERSION_")
    string(APPEND probe "char sesh_abi_define_${name}[1 + (${name})];\n")
  endif()
endforeach()

file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/sesh_abi_probe.c" "${probe}")
# The probe only names the functions: it is never linked against libsesh nor run. Compiled
# from its own directory by a relative name, so that the baseline records no machine's path.
execute_process(
  COMMAND "${CC}" -std=gnu11 -g -O0 -fPIC -shared -I "${HEADERS}"
          -o libsesh_abi_probe.so sesh_abi_probe.c
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the ABI probe did not compile (${rc}):\n${out}${err}")
endif()

if(WRITE)
  if(NOT ABIDW)
    message(FATAL_ERROR "abi_types.cmake -DWRITE=ON needs -DABIDW=...")
  endif()
  # No paths and no line numbers: the baseline names no machine's directories and does not
  # change when a doc comment moves a declaration.
  execute_process(
    COMMAND "${ABIDW}" --no-corpus-path --no-comp-dir-path --no-show-locs
            --out-file "${BASELINE}" "${WORK_DIR}/libsesh_abi_probe.so"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "abidw failed (${rc}): ${err}")
  endif()
  message(STATUS "wrote ${BASELINE}: ${function_count} functions and the header's types")
  return()
endif()

if(NOT ABIDIFF)
  message(FATAL_ERROR "abi_types.cmake needs -DABIDIFF=...")
endif()
if(NOT EXISTS "${BASELINE}")
  message(FATAL_ERROR "no ABI types baseline ${BASELINE}. A new SONAME needs its baseline, "
    "committed with it: cmake --build <build dir> --target abi_baseline")
endif()
# No header filter (--hd2): a field whose type becomes a system typedef (int32_t to int64_t)
# would be filtered out with it, and the probe holds nothing but sesh's items anyway.
execute_process(COMMAND "${ABIDIFF}" "${BASELINE}" "${WORK_DIR}/libsesh_abi_probe.so"
  RESULT_VARIABLE rc OUTPUT_VARIABLE report ERROR_VARIABLE errors)
if(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "abidiff did not run: ${rc}")
endif()
math(EXPR tool_error "${rc} & 3")
if(tool_error)
  message(FATAL_ERROR "abidiff failed (exit ${rc}):\n${report}${errors}")
endif()
if(rc EQUAL 0)
  message(STATUS "the C ABI's types (${function_count} functions) are the baseline's")
  return()
endif()
if(NOT report MATCHES "Variables changes summary: ([0-9]+) Removed, ([0-9]+) Changed")
  message(FATAL_ERROR "abidiff's report has no variables summary (exit ${rc}):\n${report}")
endif()
set(removed "${CMAKE_MATCH_1}")
set(changed "${CMAKE_MATCH_2}")
if(removed GREATER 0 OR changed GREATER 0)
  message(FATAL_ERROR "incompatible change of the C ABI's types against ${BASELINE} "
    "(${removed} items removed, ${changed} changed; abidiff exit ${rc}):\n${report}\n"
    "Undo it, or move the SONAME (the major version in Cargo.toml) and commit the new "
    "SONAME's baselines: cmake --build <build dir> --target abi_baseline")
endif()
message(STATUS "compatible change of the C ABI's types (abidiff exit ${rc}):\n${report}\n"
  "Record it in the baseline: cmake --build <build dir> --target abi_baseline")
