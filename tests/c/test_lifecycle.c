/* Sessions through the C ABI with an injected clock: the getters, the start and end
 * callbacks (their order and JSON), renewal by timeout, clock change and transitions,
 * new/begin/end/check, pause/resume, anonymous mode, reset_user, manual mode, and
 * callbacks that call sesh again. */
#include <stdint.h>

#include "check.h"
#include "fixture.h"

static const char *const EVENT_ID = "6f1c1e5a-3b7d-4c2e-9f0a-1b2c3d4e5f60";

/* Every session getter answers no_session and writes nothing; user id and in-background
 * are known. */
static void expect_no_session(SeshHandle *h) {
  char *s = SENTINEL_STR;
  int64_t i = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_id(h, &s), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_index(h, &i), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_event_index(h, &i), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_previous_id(h, &s), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_foreground_index(h, &i), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &s), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_session_get_entity(h, &s), SESH_STATUS_NO_SESSION);
  CHECK(s == SENTINEL_STR);
  CHECK(i == SENTINEL_I64);

  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(user != NULL && strlen(user) == 36);
  sesh_string_free(user);
  bool in_background = true, again = false;
  CHECK_STATUS(sesh_app_get_in_background(h, &in_background), SESH_STATUS_OK);
  CHECK_STATUS(sesh_app_get_in_background(h, &again), SESH_STATUS_OK);
  CHECK(in_background == again);
}

/* ----- the first session and every getter ----------------------------------------------- */

static void test_first_session_and_getters(void) {
  TestClock clock;
  test_clock_init(&clock, INT64_C(1234567891012));
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  expect_no_session(h);
  CHECK(rec.starts == 0 && rec.ends == 0);

  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(user));

  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, EVENT_ID, &entity), SESH_STATUS_OK);
  if (!CHECK(entity != NULL)) return;
  CHECK(strstr(entity, "\"schema\":\"iglu:com.snowplowanalytics.snowplow/client_session/"
                       "jsonschema/1-0-2\"") != NULL);
  CHECK(json_str_is(entity, "userId", user));
  CHECK(json_int(entity, "sessionIndex") == 1);
  CHECK(json_int(entity, "eventIndex") == 1);
  CHECK(json_str_is(entity, "previousSessionId", NULL));
  CHECK(json_str_is(entity, "storageMechanism", "LOCAL_STORAGE"));
  CHECK(json_str_is(entity, "firstEventId", EVENT_ID));
  CHECK(json_str_is(entity, "firstEventTimestamp", "2009-02-13T23:31:31.012Z"));
  char sid[64];
  CHECK(json_str(entity, "sessionId", sid, sizeof sid) == 1 && is_lower_uuid_v4(sid));

  /* The start callback saw the same entity. */
  CHECK(rec.starts == 1 && rec.ends == 0);
  CHECK(strcmp(rec.json[0], entity) == 0);

  /* The getters agree with it. */
  char *s = NULL;
  int64_t i = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_id(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, sid) == 0);
  sesh_string_free(s);
  CHECK_STATUS(sesh_session_get_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 1);
  CHECK_STATUS(sesh_session_get_event_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 1);
  s = SENTINEL_STR;
  CHECK_STATUS(sesh_session_get_previous_id(h, &s), SESH_STATUS_OK);
  CHECK(s == NULL);
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 0);
  i = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_foreground_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 0);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, EVENT_ID) == 0);
  sesh_string_free(s);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, "2009-02-13T23:31:31.012Z") == 0);
  sesh_string_free(s);
  CHECK_STATUS(sesh_session_get_entity(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, entity) == 0);
  sesh_string_free(s);
  SeshStatus fault = SENTINEL_STATUS;
  CHECK_STATUS(sesh_handle_get_last_fault(h, &fault), SESH_STATUS_OK);
  CHECK_STATUS(fault, SESH_STATUS_OK);
  sesh_string_free(entity);

  /* More events count up; first-event fields stay. */
  test_clock_set(&clock, INT64_C(1234567891012) + 1000);
  CHECK(track_index(h, NULL) == 2);
  CHECK(track_index(h, NULL) == 3);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, EVENT_ID) == 0);
  sesh_string_free(s);
  CHECK_STATUS(sesh_session_get_entity(h, &s), SESH_STATUS_OK);
  CHECK(json_int(s, "eventIndex") == 3);
  CHECK(json_str_is(s, "sessionId", sid));
  sesh_string_free(s);
  /* A generated event id is a lower-case UUIDv4. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(s));
  sesh_string_free(s);

  sesh_string_free(user);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  sesh_handle_free(h);
}

/* ----- renewal by timeout and by clock change ------------------------------------------- */

static void test_timeout_renewal(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 60), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);

  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 1);
  char first[37];
  CHECK(session_id_of(h, first));
  test_clock_set(&clock, T0 + 20000);
  CHECK(track_index(h, NULL) == 2);
  test_clock_set(&clock, T0 + 30000);
  CHECK(track_index(h, NULL) == 3);
  /* A long idle gap renews once. */
  test_clock_set(&clock, T0 + 30000 + 10 * 60000);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, EVENT_ID, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "eventIndex") == 1);
  CHECK(json_int(entity, "sessionIndex") == 2);
  CHECK(json_str_is(entity, "previousSessionId", first));
  CHECK(json_str_is(entity, "firstEventId", EVENT_ID));
  CHECK(!json_str_is(entity, "sessionId", first));
  CHECK(json_str_is(entity, "userId", user));
  sesh_string_free(entity);

  /* The end came before the start, with the summary of the old session. */
  CHECK(strcmp(rec.order, "SES") == 0);
  const char *end = rec.json[1];
  CHECK(json_str_is(end, "reason", "timeout"));
  CHECK(json_str_is(end, "sessionId", first));
  CHECK(json_int(end, "sessionIndex") == 1);
  CHECK(json_str_is(end, "userId", user));
  CHECK(json_int(end, "eventCount") == 3);
  CHECK(json_int(end, "durationMs") == 30000);
  CHECK(json_str_is(end, "firstEventTimestamp", "2023-11-14T22:13:20.000Z"));
  CHECK(json_str_is(end, "lastActivity", "2023-11-14T22:13:50.000Z"));
  const char *start = rec.json[2];
  CHECK(json_str_is(start, "previousSessionId", first));
  CHECK(json_int(start, "eventIndex") == 1);
  CHECK(json_int(start, "sessionIndex") == 2);

  char *previous = NULL;
  CHECK_STATUS(sesh_session_get_previous_id(h, &previous), SESH_STATUS_OK);
  CHECK(previous && strcmp(previous, first) == 0);
  sesh_string_free(previous);

  /* The clock going back renews with clock_changed. */
  char second[37];
  CHECK(session_id_of(h, second));
  test_clock_set(&clock, T0 + 30000 + 10 * 60000 - 1);
  CHECK(track_index(h, NULL) == 1);
  CHECK(strcmp(rec.order, "SESES") == 0);
  CHECK(json_str_is(rec.json[3], "reason", "clock_changed"));
  CHECK(json_str_is(rec.json[3], "sessionId", second));
  CHECK(json_int(rec.json[3], "durationMs") == 0);
  CHECK(json_int(rec.json[3], "eventCount") == 1);
  sesh_string_free(user);
  sesh_handle_free(h);
}

/* ----- background and foreground -------------------------------------------------------- */

/* Behaviour §4's seed example: fg 360 s, bg 15 s. */
static void test_transitions(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 360), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_background_timeout(options, 15), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);

  CHECK(track_index(h, NULL) == 1);
  char first[37];
  CHECK(session_id_of(h, first));

  test_clock_set(&clock, T0 + 3000);
  char *event = NULL, *entity = NULL;
  CHECK_STATUS(sesh_app_background(h, EVENT_ID, &event, &entity), SESH_STATUS_OK);
  CHECK(event && strstr(event, "iglu:com.snowplowanalytics.snowplow/application_background/"
                               "jsonschema/1-0-0"));
  CHECK(json_int(event, "backgroundIndex") == 1);
  CHECK(json_str_is(entity, "sessionId", first));
  CHECK(json_int(entity, "eventIndex") == 2);
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK(in_background_of(h));
  int64_t i = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 1);

  /* Redundant: nothing happens, both outs NULL, nothing counted. */
  event = SENTINEL_STR;
  entity = SENTINEL_STR;
  test_clock_set(&clock, T0 + 4000);
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event == NULL && entity == NULL);
  CHECK(event_index_of(h) == 2);
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 1);
  CHECK(rec.starts == 1 && rec.ends == 0);

  /* 27 s in background > 15 s: the foreground event opens session 2, foregroundIndex 1. */
  test_clock_set(&clock, T0 + 30000);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event && strstr(event, "iglu:com.snowplowanalytics.snowplow/application_foreground/"
                               "jsonschema/1-0-0"));
  CHECK(json_int(event, "foregroundIndex") == 1);
  CHECK(json_int(entity, "eventIndex") == 1);
  CHECK(json_int(entity, "sessionIndex") == 2);
  CHECK(json_str_is(entity, "previousSessionId", first));
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK(!in_background_of(h));
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "timeout"));
  CHECK(json_int(rec.json[1], "eventCount") == 2);
  /* A new session starts the lifecycle indexes at 0. */
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 0);
  CHECK_STATUS(sesh_session_get_foreground_index(h, &i), SESH_STATUS_OK);
  CHECK(i == 1);

  /* Redundant foreground. */
  event = SENTINEL_STR;
  entity = SENTINEL_STR;
  CHECK_STATUS(sesh_app_foreground(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event == NULL && entity == NULL);
  CHECK(event_index_of(h) == 1);

  /* The background event is checked with the foreground timeout: 300 s < 360 s. */
  test_clock_set(&clock, T0 + 330000);
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(json_int(event, "backgroundIndex") == 1);
  CHECK(json_int(entity, "eventIndex") == 2);
  CHECK(json_int(entity, "sessionIndex") == 2);
  sesh_string_free(event);
  sesh_string_free(entity);
  /* 10 s in background: same session, foregroundIndex 2. */
  test_clock_set(&clock, T0 + 340000);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(json_int(event, "foregroundIndex") == 2);
  CHECK(json_int(entity, "eventIndex") == 3);
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK(rec.starts == 2 && rec.ends == 1);
  sesh_handle_free(h);
}

/* ----- host controls -------------------------------------------------------------------- */

static void test_new_begin_end(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);

  /* new_session with none running: a session exists at once, eventIndex 0. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "S") == 0);
  CHECK(json_int(rec.json[0], "eventIndex") == 0);
  CHECK(json_str_is(rec.json[0], "firstEventId", NULL));
  CHECK(json_str_is(rec.json[0], "firstEventTimestamp", NULL));
  char first[37];
  CHECK(session_id_of(h, first));
  CHECK(json_str_is(rec.json[0], "sessionId", first));
  CHECK(event_index_of(h) == 0);
  char *s = SENTINEL_STR;
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_OK);
  CHECK(s == NULL);
  s = SENTINEL_STR;
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &s), SESH_STATUS_OK);
  CHECK(s == NULL);
  CHECK_STATUS(sesh_session_get_entity(h, &s), SESH_STATUS_OK);
  CHECK(json_int(s, "eventIndex") == 0 && json_str_is(s, "firstEventId", NULL));
  sesh_string_free(s);
  /* The next event fills the first-event fields. */
  test_clock_set(&clock, T0 + 5000);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, EVENT_ID, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "eventIndex") == 1);
  CHECK(json_str_is(entity, "sessionId", first));
  CHECK(json_str_is(entity, "firstEventId", EVENT_ID));
  CHECK(json_str_is(entity, "firstEventTimestamp", "2023-11-14T22:13:25.000Z"));
  sesh_string_free(entity);
  CHECK(rec.starts == 1);

  /* new_session while running: end (new_session) before start. */
  test_clock_set(&clock, T0 + 9000);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "new_session"));
  CHECK(json_str_is(rec.json[1], "sessionId", first));
  CHECK(json_int(rec.json[1], "eventCount") == 1);
  CHECK(json_int(rec.json[1], "durationMs") == 0);
  CHECK(json_str_is(rec.json[2], "previousSessionId", first));
  CHECK(json_int(rec.json[2], "sessionIndex") == 2);
  char second[37];
  CHECK(session_id_of(h, second));
  CHECK(strcmp(first, second) != 0);

  /* begin in automatic mode: the same as new_session. */
  CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESES") == 0);
  CHECK(json_str_is(rec.json[3], "reason", "new_session"));
  CHECK(json_str_is(rec.json[3], "sessionId", second));
  /* A session with no event: durationMs 0, firstEventTimestamp null, lastActivity its start. */
  CHECK(json_int(rec.json[3], "eventCount") == 0);
  CHECK(json_int(rec.json[3], "durationMs") == 0);
  CHECK(json_str_is(rec.json[3], "firstEventTimestamp", NULL));
  CHECK(json_str_is(rec.json[3], "lastActivity", "2023-11-14T22:13:29.000Z"));
  int64_t index = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_index(h, &index), SESH_STATUS_OK);
  CHECK(index == 3);
  char third[37];
  CHECK(session_id_of(h, third));

  /* end: reason manual, then no session; a second end is no_session. */
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESESE") == 0);
  CHECK(json_str_is(rec.json[5], "reason", "manual"));
  CHECK(json_str_is(rec.json[5], "sessionId", third));
  expect_no_session(h);
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_NO_SESSION);
  CHECK(strcmp(rec.order, "SESESE") == 0);
  char *message = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
  /* The next event starts session 4 after the ended one. */
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "sessionIndex") == 4);
  CHECK(json_int(entity, "eventIndex") == 1);
  CHECK(json_str_is(entity, "previousSessionId", third));
  sesh_string_free(entity);
  CHECK(strcmp(rec.order, "SESESES") == 0);
  sesh_handle_free(h);
}

static void test_check(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 10), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_max_duration(options, 100), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);

  /* No session: nothing to do. */
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(rec.starts == 0 && rec.ends == 0);
  CHECK(track_index(h, NULL) == 1);
  /* Not timed out (exactly the timeout is not more than it). */
  test_clock_set(&clock, T0 + 10000);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(rec.ends == 0);
  CHECK(event_index_of(h) == 1);
  /* Timed out: the session ends now, and the next event renews once. */
  test_clock_set(&clock, T0 + 10001);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SE") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "timeout"));
  expect_no_session(h);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(rec.ends == 1);
  CHECK(track_index(h, NULL) == 1);
  CHECK(strcmp(rec.order, "SES") == 0);

  /* Clock back. */
  test_clock_set(&clock, T0);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESE") == 0);
  CHECK(json_str_is(rec.json[3], "reason", "clock_changed"));
  expect_no_session(h);

  /* Max duration: events every 9 s keep it alive until 100 s from its start. */
  CHECK(track_index(h, NULL) == 1);
  for (int k = 1; k <= 11; k++) {
    test_clock_set(&clock, T0 + k * 9000);
    CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
    CHECK(track_index(h, NULL) == k + 1);
  }
  CHECK(rec.ends == 2);
  test_clock_set(&clock, T0 + 100001);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(rec.ends == 3);
  CHECK(json_str_is(recorder_last(&rec), "reason", "max_duration"));
  CHECK(json_int(recorder_last(&rec), "eventCount") == 12);
  expect_no_session(h);
  sesh_handle_free(h);
}

static void test_pause_resume(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 10), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);

  /* Pausing with no session is fine; rule 1 still starts one. */
  CHECK_STATUS(sesh_session_pause(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_session_pause(h), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 1);
  CHECK(rec.starts == 1);
  /* While paused nothing times out, events still count, check does nothing. */
  test_clock_set(&clock, T0 + 60000);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 2);
  test_clock_set(&clock, T0 + 120000);
  CHECK(track_index(h, NULL) == 3);
  CHECK(rec.starts == 1 && rec.ends == 0);
  /* After resume the next event is checked against the frozen last activity (T0). */
  CHECK_STATUS(sesh_session_resume(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_session_resume(h), SESH_STATUS_OK);
  test_clock_set(&clock, T0 + 120001);
  CHECK(track_index(h, NULL) == 1);
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "timeout"));
  CHECK(json_int(rec.json[1], "eventCount") == 3);
  CHECK(json_str_is(rec.json[1], "lastActivity", "2023-11-14T22:13:20.000Z"));
  /* Resumed: timeouts apply again. */
  test_clock_set(&clock, T0 + 130002);
  CHECK(track_index(h, NULL) == 1);
  CHECK(rec.ends == 2);
  sesh_handle_free(h);
}

static void test_anonymous_and_reset_user(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 1);
  char first[37];
  CHECK(session_id_of(h, first));

  /* No change: nothing happens. */
  CHECK_STATUS(sesh_anonymous_set(h, false), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "S") == 0);
  CHECK(event_index_of(h) == 1);

  /* On: the session ends (anonymity_changed) and a new one starts at once, hiding the user. */
  CHECK_STATUS(sesh_anonymous_set(h, true), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "anonymity_changed"));
  CHECK(json_str_is(rec.json[1], "sessionId", first));
  CHECK(json_str_is(rec.json[1], "userId", user));
  CHECK(json_str_is(rec.json[2], "userId", NIL_UUID));
  CHECK(json_str_is(rec.json[2], "previousSessionId", NULL));
  CHECK(json_int(rec.json[2], "eventIndex") == 0);
  char *s = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, NIL_UUID) == 0);
  sesh_string_free(s);
  s = SENTINEL_STR;
  CHECK_STATUS(sesh_session_get_previous_id(h, &s), SESH_STATUS_OK);
  CHECK(s == NULL);
  CHECK(event_index_of(h) == 0);
  CHECK_STATUS(sesh_anonymous_set(h, true), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SES") == 0);
  char anonymous_sid[37];
  CHECK(session_id_of(h, anonymous_sid));

  /* Off again: the user comes back. */
  CHECK_STATUS(sesh_anonymous_set(h, false), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESES") == 0);
  CHECK(json_str_is(rec.json[3], "reason", "anonymity_changed"));
  CHECK(json_str_is(rec.json[3], "userId", NIL_UUID));
  CHECK(json_str_is(rec.json[4], "userId", user));
  CHECK(json_str_is(rec.json[4], "previousSessionId", anonymous_sid));
  CHECK_STATUS(sesh_user_get_id(h, &s), SESH_STATUS_OK);
  CHECK(s && strcmp(s, user) == 0);
  sesh_string_free(s);
  CHECK(track_index(h, NULL) == 1);

  /* reset_user: the session ends (user_changed), none starts, a new user id. */
  CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESESE") == 0);
  CHECK(json_str_is(rec.json[5], "reason", "user_changed"));
  CHECK(json_str_is(rec.json[5], "userId", user));
  expect_no_session(h);
  char *new_user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &new_user), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(new_user));
  CHECK(new_user && strcmp(new_user, user) != 0);
  /* The next session counts from 1 with no previous id. */
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "sessionIndex") == 1);
  CHECK(json_str_is(entity, "previousSessionId", NULL));
  CHECK(json_str_is(entity, "userId", new_user));
  sesh_string_free(entity);
  /* reset_user with no session running: no end callback. */
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_OK);
  int ends = rec.ends;
  CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_OK);
  CHECK(rec.ends == ends);
  sesh_string_free(new_user);
  sesh_string_free(user);
  sesh_handle_free(h);
}

/* ----- manual mode ---------------------------------------------------------------------- */

static void test_manual_mode(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_automatic(options, false), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 10), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);

  /* An event outside a session: no_session, nothing written, nothing counted. */
  char *entity = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_event_track_at(h, EVENT_ID, T0, &entity), SESH_STATUS_NO_SESSION);
  CHECK(entity == SENTINEL_STR);
  expect_no_session(h);
  CHECK(rec.starts == 0);

  /* A transition outside a session still flips the state and returns its event. */
  char *event = SENTINEL_STR;
  entity = SENTINEL_STR;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_NO_SESSION);
  CHECK(event != NULL && event != SENTINEL_STR);
  if (event != SENTINEL_STR) {
    CHECK(event && strstr(event, "application_background") != NULL);
    sesh_string_free(event);
  }
  CHECK(entity == NULL);
  CHECK(in_background_of(h));
  expect_no_session(h);
  /* Redundant: ok with both outs NULL. */
  event = SENTINEL_STR;
  entity = SENTINEL_STR;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  CHECK(event == NULL && entity == NULL);
  event = SENTINEL_STR;
  entity = SENTINEL_STR;
  CHECK_STATUS(sesh_app_foreground(h, NULL, &event, &entity), SESH_STATUS_NO_SESSION);
  CHECK(event != NULL && event != SENTINEL_STR);
  if (event != SENTINEL_STR) {
    CHECK(event && strstr(event, "application_foreground") != NULL);
    sesh_string_free(event);
  }
  CHECK(entity == NULL);
  CHECK(!in_background_of(h));
  CHECK(rec.starts == 0 && rec.ends == 0);
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_NO_SESSION);

  /* begin starts one; events count; no timeout applies, and check does nothing. */
  CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "S") == 0);
  CHECK(json_int(rec.json[0], "eventIndex") == 0);
  char first[37];
  CHECK(session_id_of(h, first));
  CHECK(track_index(h, NULL) == 1);
  test_clock_set(&clock, T0 + 3600 * 1000);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 2);
  test_clock_set(&clock, T0);  /* the clock going back does not end it either */
  CHECK(track_index(h, NULL) == 3);
  CHECK(strcmp(rec.order, "S") == 0);
  char *bg_event = NULL;
  CHECK_STATUS(sesh_app_background(h, NULL, &bg_event, &entity), SESH_STATUS_OK);
  CHECK(json_int(bg_event, "backgroundIndex") == 1);
  CHECK(json_int(entity, "eventIndex") == 4);
  sesh_string_free(bg_event);
  sesh_string_free(entity);

  /* begin during a session ends it first (new_session). */
  CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SES") == 0);
  CHECK(json_str_is(rec.json[1], "reason", "new_session"));
  CHECK(json_str_is(rec.json[1], "sessionId", first));
  /* end: manual; then events are outside a session again. */
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESE") == 0);
  CHECK(json_str_is(rec.json[3], "reason", "manual"));
  entity = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_NO_SESSION);
  CHECK(entity == SENTINEL_STR);
  /* An anonymity change with no session starts none in manual mode. */
  CHECK_STATUS(sesh_anonymous_set(h, true), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESE") == 0);
  expect_no_session(h);
  /* new_session acts as begin; an anonymity change replaces a running session. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESES") == 0);
  CHECK_STATUS(sesh_anonymous_set(h, false), SESH_STATUS_OK);
  CHECK(strcmp(rec.order, "SESESES") == 0);
  CHECK(json_str_is(rec.json[5], "reason", "anonymity_changed"));
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
}

/* ----- callbacks that call sesh again ---------------------------------------------------- */

typedef struct {
  SeshHandle *handle;
  int starts;
  int ends;
  int mismatches;
  int bad_status;
  char sid[64];
} Reentry;

/* The sessionId of `json`, kept in r. */
static const char *id_copy(const char *json, Reentry *r) {
  if (json_str(json, "sessionId", r->sid, sizeof r->sid) != 1) r->sid[0] = '\0';
  return r->sid;
}

static void reentrant_start(void *user_data, const char *json) {
  Reentry *r = user_data;
  r->starts++;
  /* A getter from inside the start callback sees the session that just started. */
  char *id = NULL;
  if (sesh_session_get_id(r->handle, &id) != SESH_STATUS_OK) {
    r->bad_status++;
  } else if (!json_str_is(json, "sessionId", id)) {
    r->mismatches++;
  }
  sesh_string_free(id);
  int64_t index = -1;
  if (sesh_session_get_event_index(r->handle, &index) != SESH_STATUS_OK) r->bad_status++;
  else if (index != json_int(json, "eventIndex")) r->mismatches++;
  char *entity = NULL;
  if (sesh_session_get_entity(r->handle, &entity) != SESH_STATUS_OK) r->bad_status++;
  sesh_string_free(entity);
  /* Even calls that take the engine's lock and read the clock: a check, and an event
   * (counted in this session, after the comparisons above). */
  if (sesh_session_check(r->handle) != SESH_STATUS_OK) r->bad_status++;
  char *tracked = NULL;
  if (sesh_event_track(r->handle, NULL, &tracked) != SESH_STATUS_OK) r->bad_status++;
  else if (!json_str_is(tracked, "sessionId", id_copy(json, r))) r->mismatches++;
  sesh_string_free(tracked);
}

static void reentrant_end(void *user_data, const char *json) {
  Reentry *r = user_data;
  r->ends++;
  (void)json;
  char *user = NULL;
  if (sesh_user_get_id(r->handle, &user) != SESH_STATUS_OK) r->bad_status++;
  sesh_string_free(user);
  bool in_background = false;
  if (sesh_app_get_in_background(r->handle, &in_background) != SESH_STATUS_OK) r->bad_status++;
  /* Whether a session runs now depends on what ended this one: either answer is fine. */
  char *id = NULL;
  SeshStatus status = sesh_session_get_id(r->handle, &id);
  if (status != SESH_STATUS_OK && status != SESH_STATUS_NO_SESSION) r->bad_status++;
  sesh_string_free(id);
}

static void test_reentrant_callbacks(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Reentry r = {0};
  SeshOptions *options = options_for(&clock, NULL);
  CHECK_STATUS(sesh_options_set_session_start_callback(options, reentrant_start, &r),
               SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_end_callback(options, reentrant_end, &r), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  r.handle = h;

  /* The start callback tracked one more event in each new session. */
  CHECK(track_index(h, NULL) == 1);
  CHECK(r.starts == 1 && r.ends == 0);
  CHECK(event_index_of(h) == 2);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(r.starts == 2 && r.ends == 1);
  CHECK(event_index_of(h) == 1);
  test_clock_set(&clock, T0 + 3600 * 1000);
  CHECK(track_index(h, NULL) == 1);
  CHECK(r.starts == 3 && r.ends == 2);
  CHECK(event_index_of(h) == 2);
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_OK);
  CHECK(r.starts == 3 && r.ends == 3);
  CHECK(r.bad_status == 0);
  CHECK(r.mismatches == 0);
  sesh_handle_free(h);
}

int main(void) {
  test_first_session_and_getters();
  test_timeout_renewal();
  test_transitions();
  test_new_begin_end();
  test_check();
  test_pause_resume();
  test_anonymous_and_reset_user();
  test_manual_mode();
  test_reentrant_callbacks();
  return CHECK_EXIT();
}
