# The package_consumer test (cmake/install.cmake registers it): run with cmake -P.
#
# 1. cmake --install the build (component sesh) into a fresh staging prefix, and check the
#    files are there;
# 2. move the prefix elsewhere (the CMake package and sesh.pc must not remember where they
#    were installed);
# 3. configure, build and run tests/package/consumer against the moved prefix, as an outside
#    project would: find_package(sesh) with the static and the shared target, the C++
#    wrapper, and pkg-config when there is one;
#    On Linux: libsesh.so.X.Y.Z with SONAME libsesh.so.X, and the symlinks libsesh.so.X and
#    libsesh.so pointing at it;
# 4. check that the programs linked to the shared library name it by its SONAME (no path).

foreach(var SESH_BUILD_DIR SESH_CONSUMER_DIR SESH_WORK_DIR SESH_LIBDIR SESH_INCLUDEDIR
            SESH_STATIC_LIB_NAME SESH_SHARED_LIB_NAME SESH_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake needs -D${var}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}): ${command}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(stage "${SESH_WORK_DIR}/stage")
set(prefix "${SESH_WORK_DIR}/prefix")
set(build "${SESH_WORK_DIR}/build")
file(REMOVE_RECURSE "${SESH_WORK_DIR}")
file(MAKE_DIRECTORY "${SESH_WORK_DIR}")

# 1. Install.
run("cmake --install" "${CMAKE_COMMAND}" --install "${SESH_BUILD_DIR}" --prefix "${stage}"
    --component sesh)
foreach(file
    "${SESH_LIBDIR}/${SESH_STATIC_LIB_NAME}"
    "${SESH_LIBDIR}/${SESH_SHARED_LIB_NAME}"
    "${SESH_INCLUDEDIR}/sesh.h"
    "${SESH_INCLUDEDIR}/sesh.hpp"
    "${SESH_LIBDIR}/cmake/sesh/sesh-config.cmake"
    "${SESH_LIBDIR}/cmake/sesh/sesh-config-version.cmake"
    "${SESH_LIBDIR}/pkgconfig/sesh.pc")
  if(NOT EXISTS "${stage}/${file}")
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()
# The shared library's symlinks: libsesh.so -> libsesh.so.X -> libsesh.so.X.Y.Z (relative,
# so that they survive the move below), and its SONAME, libsesh.so.X.
if(SESH_SONAME)
  set(libdir "${stage}/${SESH_LIBDIR}")
  if(IS_SYMLINK "${libdir}/${SESH_SHARED_LIB_NAME}")
    message(FATAL_ERROR "${SESH_SHARED_LIB_NAME} is installed as a symlink, not the library")
  endif()
  foreach(link_target "${SESH_SONAME}:${SESH_SHARED_LIB_NAME}" "libsesh.so:${SESH_SONAME}")
    string(REPLACE ":" ";" link_target "${link_target}")
    list(GET link_target 0 link)
    list(GET link_target 1 target)
    if(NOT IS_SYMLINK "${libdir}/${link}")
      message(FATAL_ERROR "cmake --install did not install ${link} as a symlink")
    endif()
    file(READ_SYMLINK "${libdir}/${link}" points_to)
    if(NOT points_to STREQUAL target)
      message(FATAL_ERROR "${link} points to '${points_to}', expected '${target}'")
    endif()
  endforeach()
  if(SESH_READELF)
    run("readelf" "${SESH_READELF}" -d "${libdir}/${SESH_SHARED_LIB_NAME}")
    string(REGEX MATCH "\\(SONAME\\)[^\n]*\\[([^]\n]*)\\]" soname_line "${run_output}")
    if(NOT CMAKE_MATCH_1 STREQUAL SESH_SONAME)
      message(FATAL_ERROR "${SESH_SHARED_LIB_NAME}'s SONAME is '${CMAKE_MATCH_1}', expected ${SESH_SONAME}")
    endif()
    message(STATUS "SONAME ${CMAKE_MATCH_1}; libsesh.so -> ${SESH_SONAME} -> ${SESH_SHARED_LIB_NAME}")
  endif()
endif()
message(STATUS "installed into ${stage}")

# 2. Move the prefix.
file(RENAME "${stage}" "${prefix}")

# pkg-config's view, static flags included.
set(pkgconfig_args)
if(SESH_PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${SESH_LIBDIR}/pkgconfig")
  run("pkg-config" "${SESH_PKG_CONFIG}" --modversion sesh)
  string(STRIP "${run_output}" pc_version)
  if(NOT pc_version STREQUAL SESH_VERSION)
    message(FATAL_ERROR "sesh.pc says version ${pc_version}, expected ${SESH_VERSION}")
  endif()
  run("pkg-config" "${SESH_PKG_CONFIG}" --static --libs --cflags sesh)
  string(STRIP "${run_output}" pc_flags)
  foreach(flag "-lsesh" "-lpthread" "-ldl" "-lm" "-I" "-L")
    string(FIND " ${pc_flags}" " ${flag}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "pkg-config --static --libs --cflags sesh lacks ${flag}: ${pc_flags}")
    endif()
  endforeach()
  run("pkg-config" "${SESH_PKG_CONFIG}" --variable=libdir sesh)
  string(STRIP "${run_output}" pc_libdir)
  if(NOT EXISTS "${pc_libdir}/libsesh.so")
    message(FATAL_ERROR "sesh.pc's libdir ${pc_libdir} does not hold the library")
  endif()
  message(STATUS "pkg-config: ${pc_flags}")
  set(pkgconfig_args -DSESH_REQUIRE_PKGCONFIG=ON)
else()
  message(STATUS "pkg-config not found: the pkg-config consumer is skipped")
endif()

# 3. Configure, build and run the consumer.
set(generator_args)
if(SESH_GENERATOR)
  set(generator_args -G "${SESH_GENERATOR}")
endif()
set(compiler_args)
if(SESH_C_COMPILER)
  list(APPEND compiler_args "-DCMAKE_C_COMPILER=${SESH_C_COMPILER}")
endif()
if(SESH_CXX_COMPILER)
  list(APPEND compiler_args "-DCMAKE_CXX_COMPILER=${SESH_CXX_COMPILER}")
endif()
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${SESH_CONSUMER_DIR}" -B "${build}"
    ${generator_args} ${compiler_args} ${pkgconfig_args}
    -DCMAKE_BUILD_TYPE=Debug
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
# It must have found this prefix, not another sesh installed on the machine.
file(STRINGS "${build}/CMakeCache.txt" sesh_dir_line REGEX "^sesh_DIR:")
string(REGEX REPLACE "^sesh_DIR:[A-Z]+=" "" sesh_dir "${sesh_dir_line}")
get_filename_component(sesh_dir_real "${sesh_dir}" REALPATH)
get_filename_component(prefix_real "${prefix}" REALPATH)
string(FIND "${sesh_dir_real}" "${prefix_real}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "find_package(sesh) found ${sesh_dir}, not the package in ${prefix}")
endif()
run("building the consumer" "${CMAKE_COMMAND}" --build "${build}")

set(programs consumer_static consumer_shared consumer_cpp)
if(SESH_PKG_CONFIG)
  list(APPEND programs consumer_pkgconfig)
endif()
foreach(program IN LISTS programs)
  if(NOT EXISTS "${build}/${program}")
    message(FATAL_ERROR "the consumer build made no ${program}")
  endif()
  run("running ${program}" "${build}/${program}")
  string(STRIP "${run_output}" output)
  message(STATUS "${program}: ${output}")
endforeach()

# 4. The shared consumers name the library by its SONAME (libsesh.so where it has none),
#    not by a path to it.
set(expected_needed "${SESH_SONAME}")
if(NOT expected_needed)
  set(expected_needed "${SESH_SHARED_LIB_NAME}")
endif()
if(SESH_READELF)
  foreach(program consumer_shared consumer_pkgconfig)
    if(NOT EXISTS "${build}/${program}")
      continue()
    endif()
    run("readelf" "${SESH_READELF}" -d "${build}/${program}")
    string(REGEX MATCH "\\(NEEDED\\)[^\n]*\\[[^]\n]*sesh[^]\n]*\\]" needed "${run_output}")
    if(NOT needed MATCHES "\\[${expected_needed}\\]")
      message(FATAL_ERROR "${program} needs '${needed}', expected [${expected_needed}]")
    endif()
  endforeach()
  run("readelf" "${SESH_READELF}" -d "${build}/consumer_static")
  if(run_output MATCHES "sesh")
    message(FATAL_ERROR "consumer_static depends on a shared sesh:\n${run_output}")
  endif()
endif()

message(STATUS "package_consumer: all consumers built and ran against ${prefix}")
