# Compiles the com.sesh API and its test with javac, then runs the test on the JVM with
# -ea (assertions) and -Xcheck:jni (the JVM checks every JNI call the glue makes).
# Fails when javac or the test fails, or when -Xcheck:jni reports anything.
#   cmake -DJAVAC=... -DJAVA=... -DLIB_DIR=<dir of libsesh_jni.so> -DSOURCE_DIR=.../src
#         -DWORK_DIR=<scratch dir> [-DHOOKS_LIB=<libsesh_jni_testhooks.so>]
#         [-DWRAPPER="valgrind;--flags"] [-DASAN_RUNTIME=<libasan.so>] -P run_java_test.cmake
# ASAN_RUNTIME (the glue was built with -fsanitize=address): the JVM runs with it preloaded,
# leak detection off (the JVM never frees much of what it allocates) and ASan's SEGV handler
# off (the JVM uses SIGSEGV itself); any ASan or UBSan report fails the test.
foreach(var JAVAC JAVA LIB_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_java_test.cmake: -D${var}=... is required")
  endif()
endforeach()

if(ASAN_RUNTIME)
  set(WRAPPER env "LD_PRELOAD=${ASAN_RUNTIME}"
      "ASAN_OPTIONS=detect_leaks=0:handle_segv=0:halt_on_error=1:abort_on_error=0"
      "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" ${WRAPPER})
endif()

file(GLOB sources "${SOURCE_DIR}/main/java/com/sesh/*.java" "${SOURCE_DIR}/test/java/com/sesh/*.java")
file(REMOVE_RECURSE "${WORK_DIR}/classes" "${WORK_DIR}/scratch")
file(MAKE_DIRECTORY "${WORK_DIR}/classes" "${WORK_DIR}/scratch")

execute_process(
  COMMAND "${JAVAC}" --release 8 -Xlint:all -Xlint:-options -Werror -encoding UTF-8
          -d "${WORK_DIR}/classes" ${sources}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "javac failed (${rc})")
endif()

# Runs SeshTest; extra arguments go to the JVM.
function(run_test label)
  execute_process(
    COMMAND ${WRAPPER} "${JAVA}" -ea -Xcheck:jni ${ARGN}
            "-Dsesh.test.dir=${WORK_DIR}/scratch" -cp "${WORK_DIR}/classes" com.sesh.SeshTest
    WORKING_DIRECTORY "${WORK_DIR}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  message("== ${label}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "com.sesh.SeshTest failed (${rc}): ${label}")
  endif()
  # -Xcheck:jni only warns: a JNI misuse (an exception left unchecked, a local reference
  # table overflowing, a wrong type) is a failure here.
  if("${out}${err}" MATCHES "WARNING in native method|FATAL ERROR in native method|JNI local refs")
    message(FATAL_ERROR "-Xcheck:jni reported a problem (above): ${label}")
  endif()
  if("${out}${err}" MATCHES "ERROR: AddressSanitizer|runtime error:")
    message(FATAL_ERROR "AddressSanitizer or UBSan reported a problem (above): ${label}")
  endif()
endfunction()

run_test("libsesh_jni.so from java.library.path" "-Djava.library.path=${LIB_DIR}")
if(HOOKS_LIB)
  run_test("libsesh_jni_testhooks.so (callbacks on native threads)"
           "-Dsesh.jni.library=${HOOKS_LIB}" -Dsesh.test.requireHooks=true)
endif()
