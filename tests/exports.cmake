# The shared library exports sesh's functions and nothing else: no Rust symbol, no bundled
# SQLite symbol that could clash with the host's own SQLite.
#   cmake -DNM=<nm> -DLIBRARY=<libsesh.so> -P tests/exports.cmake
execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY}
  OUTPUT_VARIABLE symbols RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "nm could not read ${LIBRARY}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${symbols}")
set(exported 0)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^.* " "" name "${line}")
  if(NOT name MATCHES "^sesh_")
    message(SEND_ERROR "exported without the sesh_ prefix: ${name}")
  endif()
  math(EXPR exported "${exported} + 1")
endforeach()
if(exported LESS 40)
  message(FATAL_ERROR "only ${exported} symbols exported: is ${LIBRARY} the sesh library?")
endif()
message(STATUS "${exported} symbols, all sesh_")
