/* SeshOptions through the C ABI: each setter's success path, the values it refuses, what
 * each option does once a handle is open, and sesh_handle_open itself. */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "fixture.h"

/* ----- options_new / options_free / open ------------------------------------------------ */

static void test_new_free_open(void) {
  SeshOptions *options = (SeshOptions *)SENTINEL_STR;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  CHECK(options != NULL && options != (SeshOptions *)SENTINEL_STR);

  TestClock clock;
  test_clock_init(&clock, T0);
  CHECK_STATUS(sesh_options_set_clock(options, test_clock_read, &clock), SESH_STATUS_OK);
  SeshHandle *h = (SeshHandle *)SENTINEL_STR;
  CHECK_STATUS(sesh_handle_open(options, &h), SESH_STATUS_OK);
  CHECK(h != NULL && h != (SeshHandle *)SENTINEL_STR);
  /* The same options open a second, independent handle (own memory store, own user). */
  SeshHandle *h2 = open_with(options);
  /* The options may be freed while the handles live. */
  sesh_options_free(options);

  char *entity = NULL, *entity2 = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK_STATUS(sesh_event_track(h2, NULL, &entity2), SESH_STATUS_OK);
  CHECK(json_int(entity, "sessionIndex") == 1 && json_int(entity2, "sessionIndex") == 1);
  char sid[64], sid2[64];
  CHECK(json_str(entity, "sessionId", sid, sizeof sid) == 1);
  CHECK(json_str(entity2, "sessionId", sid2, sizeof sid2) == 1);
  CHECK(strcmp(sid, sid2) != 0);
  /* The defaults: the memory store, not anonymous. */
  CHECK(json_str_is(entity, "storageMechanism", "LOCAL_STORAGE"));
  char user[64];
  CHECK(json_str(entity, "userId", user, sizeof user) == 1 && is_lower_uuid_v4(user));
  sesh_string_free(entity);
  sesh_string_free(entity2);
  /* The default: start in foreground. */
  CHECK(!in_background_of(h));
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_handle_close(h2), SESH_STATUS_OK);
  sesh_handle_free(h);
  sesh_handle_free(h2);
}

/* ----- namespace ------------------------------------------------------------------------ */

static void test_namespace(void) {
  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_namespace(options, "tracker-1"), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_namespace(options, "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9 \xe2\x9c\x93"),
               SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_namespace(options, "a"), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_namespace(options, ""), SESH_STATUS_INVALID_ARGUMENT);
  char *message = NULL;
  CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
  CHECK_STATUS(sesh_options_set_namespace(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_namespace(options, "\xff"), SESH_STATUS_INVALID_UTF8);
  /* Still opens (on the last good namespace). */
  TestClock clock;
  test_clock_init(&clock, T0);
  CHECK_STATUS(sesh_options_set_clock(options, test_clock_read, &clock), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  sesh_options_free(options);
}

/* ----- timeouts ------------------------------------------------------------------------- */

/* Tracks at T0 and T0 + timeout (same session), then one ms past the timeout (new one). */
static void expect_timeout(SeshOptions *options, TestClock *clock, Recorder *rec,
                           int64_t timeout_s, bool background) {
  recorder_clear(rec);
  test_clock_set(clock, T0);
  SeshHandle *h = open_with(options);
  CHECK(in_background_of(h) == background);
  CHECK(track_index(h, NULL) == 1);
  test_clock_set(clock, T0 + timeout_s * 1000);
  CHECK(track_index(h, NULL) == 2);
  CHECK(rec->starts == 1 && rec->ends == 0);
  test_clock_set(clock, T0 + 2 * timeout_s * 1000 + 1);
  CHECK(track_index(h, NULL) == 1);
  CHECK(rec->starts == 2 && rec->ends == 1);
  CHECK(strcmp(rec->order, "SES") == 0);
  CHECK(json_str_is(rec->json[1], "reason", "timeout"));
  sesh_handle_free(h);
}

static void test_timeouts(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  SeshOptions *options = options_for(&clock, &rec);

  const int64_t bad[] = {0, -1, -1800, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_STATUS(sesh_options_set_foreground_timeout(options, bad[i]), SESH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(sesh_options_set_background_timeout(options, bad[i]), SESH_STATUS_INVALID_ARGUMENT);
  }
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 1), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_background_timeout(options, 1), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, INT64_MAX), SESH_STATUS_OK);
  {
    /* The largest timeout: no overflow, the session spans the whole range of time. */
    test_clock_set(&clock, 0);
    recorder_clear(&rec);
    SeshHandle *h = open_with(options);
    CHECK(track_index(h, NULL) == 1);
    test_clock_set(&clock, MAX_MS);
    CHECK(track_index(h, NULL) == 2);
    CHECK(rec.starts == 1 && rec.ends == 0);
    sesh_handle_free(h);
  }

  /* Foreground 5 s; the refused values after it change nothing. */
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 5), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 0), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, -5), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_background_timeout(options, 3600), SESH_STATUS_OK);
  expect_timeout(options, &clock, &rec, 5, false);

  /* Background 7 s, in background from the start. */
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 3600), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_background_timeout(options, 7), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_background_timeout(options, -1), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_start_in_background(options, true), SESH_STATUS_OK);
  expect_timeout(options, &clock, &rec, 7, true);

  /* The default is 1800 s. */
  sesh_options_free(options);
  options = options_for(&clock, &rec);
  expect_timeout(options, &clock, &rec, 1800, false);
  sesh_options_free(options);
}

/* ----- max duration --------------------------------------------------------------------- */

static void test_max_duration(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_max_duration(options, -1), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_max_duration(options, INT64_MIN), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_max_duration(options, 0), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_max_duration(options, INT64_MAX), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_max_duration(options, 10), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_max_duration(options, -10), SESH_STATUS_INVALID_ARGUMENT);

  recorder_clear(&rec);
  SeshHandle *h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  test_clock_set(&clock, T0 + 6000);
  CHECK(track_index(h, NULL) == 2);
  test_clock_set(&clock, T0 + 10000);
  CHECK(track_index(h, NULL) == 3);
  CHECK(rec.ends == 0);
  test_clock_set(&clock, T0 + 10001);
  CHECK(track_index(h, NULL) == 1);
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "max_duration"));
  CHECK(json_int(rec.json[1], "eventCount") == 3);
  CHECK(json_int(rec.json[1], "durationMs") == 10000);
  sesh_handle_free(h);

  /* 0: no maximum. */
  CHECK_STATUS(sesh_options_set_max_duration(options, 0), SESH_STATUS_OK);
  recorder_clear(&rec);
  test_clock_set(&clock, T0);
  h = open_with(options);
  for (int i = 1; i <= 20; i++) {
    test_clock_set(&clock, T0 + (int64_t)i * 1000 * 1000);
    CHECK(track_index(h, NULL) == i);
  }
  CHECK(rec.starts == 1 && rec.ends == 0);
  sesh_handle_free(h);
  sesh_options_free(options);
}

/* ----- booleans ------------------------------------------------------------------------- */

static void test_continue_on_restart(void) {
  /* With the memory store nothing survives the handle, so only the calls are observable. */
  TestClock clock;
  test_clock_init(&clock, T0);
  SeshOptions *options = options_for(&clock, NULL);
  CHECK_STATUS(sesh_options_set_continue_on_restart(options, false), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_continue_on_restart(options, true), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_continue_on_restart(options, false), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  int64_t index = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_index(h, &index), SESH_STATUS_NO_SESSION);
  CHECK(index == SENTINEL_I64);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_get_index(h, &index), SESH_STATUS_OK);
  CHECK(index == 1);
  sesh_handle_free(h);
  sesh_options_free(options);
}

static void test_anonymous_option(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_anonymous(options, true), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(user && strcmp(user, NIL_UUID) == 0);
  sesh_string_free(user);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "userId", NIL_UUID));
  sesh_string_free(entity);
  /* A second session: previousSessionId stays hidden, in the entity, callbacks and getter. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "sessionIndex") == 2);
  CHECK(json_str_is(entity, "previousSessionId", NULL));
  CHECK(json_str_is(entity, "userId", NIL_UUID));
  sesh_string_free(entity);
  CHECK(rec.ends == 1 && json_str_is(rec.json[1], "userId", NIL_UUID));
  CHECK(rec.starts == 2 && json_str_is(rec.json[2], "previousSessionId", NULL));
  char *previous = SENTINEL_STR;
  CHECK_STATUS(sesh_session_get_previous_id(h, &previous), SESH_STATUS_OK);
  CHECK(previous == NULL);
  sesh_handle_free(h);

  /* Off: a real user id. */
  CHECK_STATUS(sesh_options_set_anonymous(options, false), SESH_STATUS_OK);
  h = open_with(options);
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(user));
  sesh_string_free(user);
  sesh_handle_free(h);
  sesh_options_free(options);
}

static void test_automatic_option(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_automatic(options, false), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  char *entity = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_NO_SESSION);
  CHECK(entity == SENTINEL_STR);
  CHECK(rec.starts == 0);
  sesh_handle_free(h);

  CHECK_STATUS(sesh_options_set_automatic(options, true), SESH_STATUS_OK);
  h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  CHECK(rec.starts == 1);
  sesh_handle_free(h);
  sesh_options_free(options);
}

static void test_start_in_background_option(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  SeshOptions *options = options_for(&clock, NULL);
  CHECK_STATUS(sesh_options_set_start_in_background(options, true), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  CHECK(in_background_of(h));
  /* Already in background: nothing happens. */
  char *event = SENTINEL_STR, *entity = SENTINEL_STR;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event == NULL && entity == NULL);
  int64_t index = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_event_index(h, &index), SESH_STATUS_NO_SESSION);
  CHECK(index == SENTINEL_I64);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event && strstr(event, "application_foreground") && json_int(event, "foregroundIndex") == 1);
  CHECK(entity && json_int(entity, "eventIndex") == 1);
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK(!in_background_of(h));
  sesh_handle_free(h);

  CHECK_STATUS(sesh_options_set_start_in_background(options, false), SESH_STATUS_OK);
  h = open_with(options);
  CHECK(!in_background_of(h));
  sesh_handle_free(h);
  sesh_options_free(options);
}

/* ----- clock ---------------------------------------------------------------------------- */

static void test_clock_option(void) {
  TestClock clock;
  test_clock_init(&clock, INT64_C(1234567891012));
  SeshOptions *options = options_for(&clock, NULL);
  SeshHandle *h = open_with(options);
  CHECK(atomic_load(&clock.reads) > 0);
  char *text = NULL;
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &text), SESH_STATUS_OK);
  CHECK(text && strcmp(text, "2009-02-13T23:31:31.012Z") == 0);
  sesh_string_free(text);
  sesh_handle_free(h);

  /* NULL restores the system clock: the injected one is no longer read. */
  CHECK_STATUS(sesh_options_set_clock(options, NULL, NULL), SESH_STATUS_OK);
  long reads = atomic_load(&clock.reads);
  time_t before = time(NULL);
  h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &text), SESH_STATUS_OK);
  time_t after = time(NULL);
  CHECK(atomic_load(&clock.reads) == reads);
  /* The first event's time lies between the two readings (to the second). */
  char low[32], high[32];
  strftime(low, sizeof low, "%Y-%m-%dT%H:%M:%S", gmtime(&before));
  strftime(high, sizeof high, "%Y-%m-%dT%H:%M:%S", gmtime(&after));
  if (CHECK(text != NULL && strlen(text) == 24)) {
    CHECK(strncmp(text, low, 19) >= 0 && strncmp(text, high, 19) <= 0);
  }
  sesh_string_free(text);
  sesh_handle_free(h);
  sesh_options_free(options);
}

/* ----- callbacks ------------------------------------------------------------------------ */

static void test_callback_options(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder a, b;
  recorder_clear(&a);
  recorder_clear(&b);
  SeshOptions *options = options_for(&clock, NULL);
  /* Start to one recorder, end to another: each gets its own user data. */
  CHECK_STATUS(sesh_options_set_session_start_callback(options, recorder_on_start, &a),
               SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_end_callback(options, recorder_on_end, &b), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_log_callback(options, NULL, NULL), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(a.starts == 2 && a.ends == 0);
  CHECK(b.starts == 0 && b.ends == 1);
  sesh_handle_free(h);

  /* NULL removes them. */
  CHECK_STATUS(sesh_options_set_session_start_callback(options, NULL, &a), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_end_callback(options, NULL, &b), SESH_STATUS_OK);
  h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(a.starts == 2 && b.ends == 1);
  sesh_handle_free(h);
  sesh_options_free(options);
}

/* ----- stores --------------------------------------------------------------------------- */

static void test_stores(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  SeshOptions *options = options_for(&clock, NULL);
  CHECK_STATUS(sesh_options_set_store_memory(options), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "storageMechanism", "LOCAL_STORAGE"));
  sesh_string_free(entity);
  sesh_handle_free(h);

  /* SQLite: only the argument checks (its success path is about to change). */
  CHECK_STATUS(sesh_options_set_store_sqlite(NULL, "sesh-test.db"), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_sqlite(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_sqlite(options, "sesh-\xff.db"), SESH_STATUS_INVALID_UTF8);
  char *message = NULL;
  CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
  /* Those failures changed nothing: still the memory store. */
  h = open_with(options);
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "storageMechanism", "LOCAL_STORAGE"));
  sesh_string_free(entity);
  sesh_handle_free(h);
  sesh_options_free(options);
}

int main(void) {
  test_new_free_open();
  test_namespace();
  test_timeouts();
  test_max_duration();
  test_continue_on_restart();
  test_anonymous_option();
  test_automatic_option();
  test_start_in_background_option();
  test_clock_option();
  test_callback_options();
  test_stores();
  return CHECK_EXIT();
}
