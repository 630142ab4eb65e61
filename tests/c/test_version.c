/* The version macros of sesh.h (generated from Cargo.toml's version by build.rs) agree with
 * sesh_version(), with each other, and with the version CMake read from Cargo.toml. */
#include <stdio.h>
#include <string.h>

#include "check.h"

#ifndef SESH_VERSION_MAJOR
#error "sesh.h defines no SESH_VERSION_MAJOR"
#endif
#ifndef SESH_VERSION_MINOR
#error "sesh.h defines no SESH_VERSION_MINOR"
#endif
#ifndef SESH_VERSION_PATCH
#error "sesh.h defines no SESH_VERSION_PATCH"
#endif
#ifndef SESH_VERSION_STRING
#error "sesh.h defines no SESH_VERSION_STRING"
#endif

/* Usable in #if: plain integers. */
#if SESH_VERSION_MAJOR < 0 || SESH_VERSION_MINOR < 0 || SESH_VERSION_PATCH < 0
#error "negative version number"
#endif

int main(void) {
  const char *library = sesh_version();
  if (!CHECK(library != NULL)) return CHECK_EXIT();
  printf("sesh_version() \"%s\", SESH_VERSION_STRING \"%s\", macros %d.%d.%d\n", library,
         SESH_VERSION_STRING, SESH_VERSION_MAJOR, SESH_VERSION_MINOR, SESH_VERSION_PATCH);

  /* The library is the version of the header it was built with. */
  CHECK(strcmp(library, SESH_VERSION_STRING) == 0);

  /* The string starts with MAJOR.MINOR.PATCH (a pre-release or build suffix may follow). */
  char numbers[64];
  snprintf(numbers, sizeof numbers, "%d.%d.%d", SESH_VERSION_MAJOR, SESH_VERSION_MINOR,
           SESH_VERSION_PATCH);
  size_t length = strlen(numbers);
  CHECK(strncmp(SESH_VERSION_STRING, numbers, length) == 0);
  CHECK(SESH_VERSION_STRING[length] == '\0' || SESH_VERSION_STRING[length] == '-' ||
        SESH_VERSION_STRING[length] == '+');

#ifdef SESH_TEST_PROJECT_VERSION
  /* CMake's project version (read from Cargo.toml, and naming libsesh.so.X.Y.Z) is the same. */
  CHECK(strcmp(numbers, SESH_TEST_PROJECT_VERSION) == 0);
#endif
  return CHECK_EXIT();
}
