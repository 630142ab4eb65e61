# Installing sesh (included from the root CMakeLists.txt, after sesh_static/sesh_shared).
#
#   cmake --install build [--prefix DIR]      (component "sesh": cmake --install build --component sesh)
#
# installs
#   lib/libsesh.a                             the static library (only sesh_* global)
#   lib/libsesh.so.X.Y.Z, lib/libsesh.so.X,   the shared library (SONAME libsesh.so.X) and
#     lib/libsesh.so                            its symlinks; elsewhere than Linux, cargo's
#   include/sesh.h, include/sesh.hpp          the C ABI and the header-only C++ wrapper
#   bin/sesh-timeline, bin/sesh-inspect       the tools (README, "Seeing sessions")
#   lib/cmake/sesh/sesh-config.cmake          find_package(sesh): sesh::sesh_static,
#   lib/cmake/sesh/sesh-config-version.cmake    sesh::sesh_shared and sesh::sesh (the shared one)
#   lib/pkgconfig/sesh.pc                     pkg-config: -lsesh (static: -lpthread -ldl -lm)
#
# Both the CMake package and sesh.pc find the prefix from where they are installed, so an
# installed tree can be moved (or packaged with DESTDIR) as a whole.
#
# SONAME (Linux): the shared library is libsesh.so.X.Y.Z with SONAME libsesh.so.X (build.rs
# passes -Wl,-soname to the cdylib's link; X is the major version), installed with the
# symlinks libsesh.so.X (what programs load: their DT_NEEDED names the SONAME) and
# libsesh.so (what -lsesh finds when linking). The CMake package's sesh::sesh_shared points
# at libsesh.so.X.Y.Z with IMPORTED_SONAME libsesh.so.X. The ctest abi_compatible keeps the
# ABI of libsesh.so.X compatible with abi/libsesh.so.X.abi (README, "ABI"). The static
# library installed is the one with only sesh_* symbols global (cmake/libraries.cmake).

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SESH_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/sesh")
set(SESH_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
get_filename_component(SESH_STATIC_LIB_NAME "${SESH_STATIC_LIB}" NAME)
get_filename_component(SESH_SHARED_LIB_NAME "${SESH_SHARED_LIB}" NAME)

install(FILES "${SESH_STATIC_LIB}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT sesh)
# The library, then its symlinks (installed as symlinks).
install(FILES "${SESH_SHARED_LIB}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT sesh
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
              WORLD_READ WORLD_EXECUTE)
if(SESH_SHARED_LINKS)
  install(FILES ${SESH_SHARED_LINKS} DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT sesh)
endif()
# The tools (README, "Seeing sessions").
install(PROGRAMS "${SESH_TIMELINE}" "${SESH_INSPECT}"
  DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT sesh)
install(FILES "${SESH_INCLUDE_DIR}/sesh.h" "${SESH_INCLUDE_DIR}/sesh.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT sesh)

# The CMake package.
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/sesh-config.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/sesh-config.cmake"
  INSTALL_DESTINATION "${SESH_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# 0.x: a new minor version may change the ABI.
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/sesh-config-version.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/sesh-config.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/sesh-config-version.cmake"
  DESTINATION "${SESH_INSTALL_CMAKEDIR}" COMPONENT sesh)

# pkg-config: the prefix is found from the .pc file's own directory (${pcfiledir}).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SESH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SESH_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH SESH_PC_UP "/sesh-prefix/${SESH_INSTALL_PKGCONFIGDIR}" "/sesh-prefix")
  string(REGEX REPLACE "/$" "" SESH_PC_UP "${SESH_PC_UP}")
  set(SESH_PC_PREFIX "\${pcfiledir}/${SESH_PC_UP}")
  set(SESH_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SESH_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SESH_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/sesh.pc.in" "${CMAKE_CURRENT_BINARY_DIR}/sesh.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sesh.pc"
  DESTINATION "${SESH_INSTALL_PKGCONFIGDIR}" COMPONENT sesh)

# The package as an outside project sees it: install into a fresh prefix, move the prefix,
# then configure, build and run tests/package/consumer against it (find_package with the
# static and the shared target, the C++ wrapper, and pkg-config when it is installed).
find_program(SESH_PKG_CONFIG NAMES pkg-config pkgconf)
find_program(SESH_READELF readelf)
sesh_require(pkgconfig "${SESH_PKG_CONFIG}" "pkg-config (apt-get install -y pkg-config)")
sesh_require(readelf "${SESH_READELF}" "readelf (apt-get install -y binutils)")
add_test(NAME package_consumer
  COMMAND ${CMAKE_COMMAND}
    -DSESH_BUILD_DIR=${CMAKE_BINARY_DIR}
    -DSESH_CONSUMER_DIR=${CMAKE_CURRENT_LIST_DIR}/../tests/package/consumer
    -DSESH_WORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package_consumer
    -DSESH_LIBDIR=${CMAKE_INSTALL_LIBDIR}
    -DSESH_INCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
    -DSESH_STATIC_LIB_NAME=${SESH_STATIC_LIB_NAME}
    -DSESH_SHARED_LIB_NAME=${SESH_SHARED_LIB_NAME}
    -DSESH_VERSION=${PROJECT_VERSION}
    -DSESH_GENERATOR=${CMAKE_GENERATOR}
    -DSESH_C_COMPILER=${CMAKE_C_COMPILER}
    -DSESH_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DSESH_PKG_CONFIG=${SESH_PKG_CONFIG}
    -DSESH_READELF=${SESH_READELF}
    -DSESH_SONAME=${SESH_SONAME}
    -P ${CMAKE_CURRENT_LIST_DIR}/../tests/package/run_consumer.cmake)
set_tests_properties(package_consumer PROPERTIES LABELS package TIMEOUT 600)
