/* What several C tests share: an injected clock, a callback recorder, a little JSON
 * reading with strstr, and helpers that open handles. Everything goes through sesh.h. */
#ifndef SESH_TEST_FIXTURE_H
#define SESH_TEST_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sesh.h"

/* 2023-11-14T22:13:20.000Z: an ordinary "now". */
#define T0 INT64_C(1700000000000)
/* The last millisecond of year 9999, the largest time sesh accepts. */
#define MAX_MS INT64_C(253402300799999)

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

/* Out-parameter sentinels: a failing call must leave them as they are. */
static inline char *fixture_sentinel(void) {
  static char byte;
  return &byte;
}
#define SENTINEL_STR (fixture_sentinel())
#define SENTINEL_I64 INT64_C(-7777777)
#define SENTINEL_STATUS ((SeshStatus)-77)

/* ----- the injected clock: sesh reads whatever the test stored --------------------------- */

typedef struct {
  _Atomic int64_t now;
  /* Added to `now` after each reading (the threads test lets time run). */
  _Atomic int64_t step;
  atomic_long reads;
} TestClock;

static inline int64_t test_clock_read(void *user_data) {
  TestClock *clock = user_data;
  atomic_fetch_add(&clock->reads, 1);
  return atomic_fetch_add(&clock->now, atomic_load(&clock->step));
}

static inline void test_clock_init(TestClock *clock, int64_t now) {
  atomic_store(&clock->now, now);
  atomic_store(&clock->step, 0);
  atomic_store(&clock->reads, 0);
}

static inline void test_clock_set(TestClock *clock, int64_t now) { atomic_store(&clock->now, now); }

/* ----- JSON, read with strstr: enough for sesh's flat objects --------------------------- */

/* Where the value of "key" starts, or NULL when the key is not there. */
static inline const char *json_value(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = json ? strstr(json, pattern) : NULL;
  return at ? at + strlen(pattern) : NULL;
}

/* The integer value of "key"; INT64_MIN when it is missing or not a number. */
static inline int64_t json_int(const char *json, const char *key) {
  const char *value = json_value(json, key);
  if (!value || !((*value >= '0' && *value <= '9') || *value == '-')) return INT64_MIN;
  return strtoll(value, NULL, 10);
}

/* Copies the string value of "key" into buf: 1 for a string, 0 for null, -1 otherwise. */
static inline int json_str(const char *json, const char *key, char *buf, size_t size) {
  const char *value = json_value(json, key);
  if (!value) return -1;
  if (strncmp(value, "null", 4) == 0) return 0;
  if (*value != '"') return -1;
  const char *end = strchr(value + 1, '"');
  if (!end || (size_t)(end - value - 1) >= size) return -1;
  memcpy(buf, value + 1, (size_t)(end - value - 1));
  buf[end - value - 1] = '\0';
  return 1;
}

/* Whether the string value of "key" is exactly `expected` (NULL: the value is null). */
static inline bool json_str_is(const char *json, const char *key, const char *expected) {
  char buf[256];
  int kind = json_str(json, key, buf, sizeof buf);
  if (!expected) return kind == 0;
  return kind == 1 && strcmp(buf, expected) == 0;
}

/* A lower-case 8-4-4-4-12 UUID, version 4. */
static inline bool is_lower_uuid_v4(const char *text) {
  if (!text || strlen(text) != 36) return false;
  for (int i = 0; i < 36; i++) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return text[14] == '4';
}

/* ----- a recorder for the session callbacks --------------------------------------------- */

#define RECORDED_MAX 32

typedef struct {
  int starts;
  int ends;
  /* 'S' and 'E' in the order the callbacks ran. */
  char order[RECORDED_MAX + 1];
  /* Each callback's JSON, in the same order. */
  char json[RECORDED_MAX][1024];
  int overflow;
} Recorder;

static inline void recorder_push(Recorder *r, char kind, const char *json) {
  int n = r->starts + r->ends;
  if (n >= RECORDED_MAX || !json || strlen(json) >= sizeof r->json[0]) {
    r->overflow++;
  } else {
    r->order[n] = kind;
    r->order[n + 1] = '\0';
    strcpy(r->json[n], json);
  }
  if (kind == 'S') r->starts++;
  else r->ends++;
}

static inline void recorder_on_start(void *user_data, const char *json) {
  recorder_push(user_data, 'S', json);
}

static inline void recorder_on_end(void *user_data, const char *json) {
  recorder_push(user_data, 'E', json);
}

static inline void recorder_clear(Recorder *r) { memset(r, 0, sizeof *r); }

/* The JSON of the latest callback, or "" when none ran. */
static inline const char *recorder_last(const Recorder *r) {
  int n = r->starts + r->ends;
  return n > 0 && n <= RECORDED_MAX ? r->json[n - 1] : "";
}

/* ----- opening handles ------------------------------------------------------------------ */

/* Options with the injected clock and, when `rec` is given, both session callbacks. */
static inline SeshOptions *options_for(TestClock *clock, Recorder *rec) {
  SeshOptions *options = NULL;
  if (!CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK)) abort();
  CHECK(options != NULL);
  if (clock) CHECK_STATUS(sesh_options_set_clock(options, test_clock_read, clock), SESH_STATUS_OK);
  if (rec) {
    CHECK_STATUS(sesh_options_set_session_start_callback(options, recorder_on_start, rec),
                 SESH_STATUS_OK);
    CHECK_STATUS(sesh_options_set_session_end_callback(options, recorder_on_end, rec),
                 SESH_STATUS_OK);
  }
  return options;
}

static inline SeshHandle *open_with(const SeshOptions *options) {
  SeshHandle *handle = NULL;
  if (!CHECK_STATUS(sesh_handle_open(options, &handle), SESH_STATUS_OK) || !handle) abort();
  return handle;
}

/* A handle on the default options with the injected clock (and the recorder, if any). */
static inline SeshHandle *open_default(TestClock *clock, Recorder *rec) {
  SeshOptions *options = options_for(clock, rec);
  SeshHandle *handle = open_with(options);
  sesh_options_free(options);
  return handle;
}

/* ----- small readers over a handle ------------------------------------------------------ */

/* Tracks an event, checks the status, and returns its eventIndex (INT64_MIN on failure). */
static inline int64_t track_index(SeshHandle *h, const char *event_id) {
  char *entity = NULL;
  int64_t index = INT64_MIN;
  if (CHECK_STATUS(sesh_event_track(h, event_id, &entity), SESH_STATUS_OK) && CHECK(entity)) {
    index = json_int(entity, "eventIndex");
  }
  sesh_string_free(entity);
  return index;
}

/* The current eventIndex by the getter; -1 when there is no session. */
static inline int64_t event_index_of(SeshHandle *h) {
  int64_t index = SENTINEL_I64;
  SeshStatus status = sesh_session_get_event_index(h, &index);
  if (status == SESH_STATUS_NO_SESSION) return CHECK(index == SENTINEL_I64) ? -1 : -2;
  CHECK_STATUS(status, SESH_STATUS_OK);
  return index;
}

/* Copies the current session id into buf (37 bytes); false when there is none. */
static inline bool session_id_of(SeshHandle *h, char buf[37]) {
  char *id = NULL;
  SeshStatus status = sesh_session_get_id(h, &id);
  if (status != SESH_STATUS_OK) {
    buf[0] = '\0';
    return false;
  }
  bool ok = CHECK(is_lower_uuid_v4(id));
  if (ok) memcpy(buf, id, 37);
  sesh_string_free(id);
  return ok;
}

static inline bool in_background_of(SeshHandle *h) {
  bool in_background = false;
  CHECK_STATUS(sesh_app_get_in_background(h, &in_background), SESH_STATUS_OK);
  return in_background;
}

#endif /* SESH_TEST_FIXTURE_H */
