# The libraries CMake hands out, made from cargo's (run with cmake -P by the sesh_libraries
# target after every cargo build; Linux/ELF only):
#
#   ${OUT_DIR}/libsesh.a            cargo's static library with every global symbol but
#                                   sesh_* made local: all its members (sesh, the bundled
#                                   SQLite, Rust's standard library) partially linked into
#                                   one object (ld -r --whole-archive), then
#                                   objcopy --wildcard --keep-global-symbol='sesh_*'
#                                   (undefined symbols, libc's, stay as they are). A host
#                                   linking its own SQLite (or another Rust library) gets its
#                                   own, never sesh's.
#   ${OUT_DIR}/libsesh.so.X.Y.Z     a copy of cargo's shared library (SONAME libsesh.so.X,
#   ${OUT_DIR}/libsesh.so.X         set by build.rs), with the usual symlinks:
#   ${OUT_DIR}/libsesh.so             libsesh.so.X -> libsesh.so.X.Y.Z, libsesh.so -> libsesh.so.X
#
# cargo's own files in target/ are left as they are.
#
#   cmake -DLD=<ld> -DOBJCOPY=<objcopy> -DAR=<ar> -DCARGO_STATIC=<libsesh.a>
#         -DCARGO_SHARED=<libsesh.so> -DOUT_DIR=<dir> -DVERSION=X.Y.Z -DSOVERSION=X
#         -P cmake/libraries.cmake
foreach(var LD OBJCOPY AR CARGO_STATIC CARGO_SHARED OUT_DIR VERSION SOVERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "libraries.cmake needs -D${var}=...")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${command}\n${out}${err}")
  endif()
endfunction()

file(MAKE_DIRECTORY "${OUT_DIR}")

# The static library: one relocatable object, only sesh_* global.
set(object "${OUT_DIR}/sesh-all.o")
set(archive "${OUT_DIR}/libsesh.a")
file(REMOVE "${object}" "${archive}.tmp")
run("${LD}" -r -o "${object}" --whole-archive "${CARGO_STATIC}" --no-whole-archive)
# .llvmbc/.llvmcmd: the LLVM bitcode rustc embeds in every object for later LTO. Merged by
# ld -r it is no valid bitcode any more (nm, ar and ld then fail to read the object through
# the LLVM linker plugin), and nothing needs it once the code is compiled.
run("${OBJCOPY}" --remove-section=.llvmbc --remove-section=.llvmcmd
    --wildcard "--keep-global-symbol=sesh_*" "${object}")
run("${AR}" rcs "${archive}.tmp" "${object}")
file(RENAME "${archive}.tmp" "${archive}")
file(REMOVE "${object}")

# The shared library and its symlinks.
set(real "libsesh.so.${VERSION}")
file(REMOVE "${OUT_DIR}/${real}.tmp")
run("${CMAKE_COMMAND}" -E copy "${CARGO_SHARED}" "${OUT_DIR}/${real}.tmp")
file(RENAME "${OUT_DIR}/${real}.tmp" "${OUT_DIR}/${real}")
file(CREATE_LINK "${real}" "${OUT_DIR}/libsesh.so.${SOVERSION}" SYMBOLIC)
file(CREATE_LINK "libsesh.so.${SOVERSION}" "${OUT_DIR}/libsesh.so" SYMBOLIC)
