/* The C tests' assertions: a failed check prints file:line and counts; main returns
 * CHECK_EXIT(), nonzero when any check failed. Thread-safe. */
#ifndef SESH_TEST_CHECK_H
#define SESH_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

#include "sesh.h"

static atomic_int check_failures;

static inline int check_at(int ok, const char *what, const char *file, int line) {
  if (!ok) {
    atomic_fetch_add(&check_failures, 1);
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
  }
  return ok;
}

static inline const char *check_status_name(SeshStatus status) {
  const char *name = sesh_status_name(status);
  return name ? name : "(not a status)";
}

static inline int check_status_at(SeshStatus got, SeshStatus want, const char *what,
                                  const char *file, int line) {
  if (got != want) {
    atomic_fetch_add(&check_failures, 1);
    fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n", file, line, what,
            check_status_name(got), (int)got, check_status_name(want), (int)want);
  }
  return got == want;
}

/* Both evaluate to 1 when the check passed, so a test can stop early: if (!CHECK(p)) return; */
#define CHECK(cond) check_at((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_STATUS(expr, expected) \
  check_status_at((SeshStatus)(expr), (SeshStatus)(expected), #expr, __FILE__, __LINE__)

/* What main returns. */
#define CHECK_EXIT()                                                             \
  (atomic_load(&check_failures)                                                  \
       ? (fprintf(stderr, "%d check(s) failed\n", atomic_load(&check_failures)), 1) \
       : 0)

#endif /* SESH_TEST_CHECK_H */
