# The shared library exports sesh's functions and nothing else: no Rust symbol, no bundled
# SQLite symbol that could clash with the host's own SQLite. With -DSTATIC=ON, the same of
# the static library's global symbols (nm -g --defined-only).
#   cmake -DNM=<nm> -DLIBRARY=<libsesh.so> -P tests/exports.cmake
#   cmake -DNM=<nm> -DLIBRARY=<libsesh.a> -DSTATIC=ON -P tests/exports.cmake
if(STATIC)
  set(nm_args -g --defined-only)
else()
  set(nm_args -D --defined-only)
endif()
execute_process(COMMAND ${NM} ${nm_args} ${LIBRARY}
  OUTPUT_VARIABLE symbols ERROR_VARIABLE errors RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "nm could not read ${LIBRARY}: ${errors}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${symbols}")
set(exported 0)
foreach(line IN LISTS lines)
  # An archive's listing also has "member.o:" lines; symbols are "[ADDRESS] TYPE NAME".
  if(NOT line MATCHES "^[0-9a-fA-F ]* [A-Za-z] [^ ]+$")
    continue()
  endif()
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
