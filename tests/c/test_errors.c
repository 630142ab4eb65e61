/* Bad input through the C ABI: NULLs, non-UTF-8 strings, malformed UUIDs, bad timestamps,
 * bad buffers (sesh_event_track_into), bad clock readings and closed handles. Each failing
 * call must return its documented status, leave the out-parameters (and a caller's buffer)
 * as they were and change nothing. A closed handle answers CLOSED whatever the other
 * arguments. Also: status names and messages, sesh_version, the NULL frees and the
 * last-error messages. */
#include <limits.h>
#include <stdint.h>

#include "check.h"
#include "fixture.h"

static const char *const UPPER_ID = "0F8FAD5B-D9CB-469F-A165-70867728950E";
static const char *const UPPER_ID_LOWERED = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char *const VALID_ID = "a3bb189e-8bf9-4888-9912-ace4e6543002";

static const char *const NOT_UTF8[] = {
    "\xff\xfe",                                  /* bytes that never appear in UTF-8 */
    "abc\xc3",                                   /* a truncated sequence */
    "\xc0\xaf",                                  /* an overlong encoding of '/' */
    "\xed\xa0\x80",                              /* a UTF-16 surrogate */
    "0f8fad5b-d9cb-469f-a165-70867728950\xe9",   /* a UUID with a Latin-1 byte */
};
#define NOT_UTF8_COUNT (sizeof NOT_UTF8 / sizeof NOT_UTF8[0])

static const char *const MALFORMED_IDS[] = {
    "",
    "not-a-uuid",
    "0f8fad5bd9cb469fa16570867728950e",                    /* simple form */
    "{0f8fad5b-d9cb-469f-a165-70867728950e}",              /* braced */
    "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",       /* URN */
    "0f8fad5b-d9cb-469f-a165-70867728950e0",               /* over-long by one */
    "0f8fad5b-d9cb-469f-a165-70867728950e-0f8fad5b",       /* over-long */
    "0f8fad5b-d9cb-469f-a165-70867728950",                 /* one short */
    "0f8fad5b-d9cb-469f-a165-70867728950g",                /* a non-hex digit */
    "0f8fad5b-d9cb4-69f-a165-70867728950e",                /* hyphen misplaced */
    "0f8fad5b_d9cb_469f_a165_70867728950e",                /* wrong separators */
    " 0f8fad5b-d9cb-469f-a165-70867728950e",               /* leading space */
    "0f8fad5b-d9cb-469f-a165-70867728950e ",               /* trailing space */
    "0f8fad5b-d9cb-469f-a165-7086772895\xc3\xa9",          /* 36 bytes, non-hex UTF-8 */
    "+f8fad5b-d9cb-469f-a165-70867728950e",                /* sign */
};
#define MALFORMED_COUNT (sizeof MALFORMED_IDS / sizeof MALFORMED_IDS[0])

/* A caller's buffer for sesh_event_track_into, with guard bytes past SESH_MAX_ENTITY_SIZE:
 * filled with FILL before each call, so that a test sees every byte sesh wrote. */
#define FILL 0x5a
#define GUARD 64
typedef struct {
  char bytes[SESH_MAX_ENTITY_SIZE + GUARD];
} IntoBuffer;
#define SENTINEL_SIZE ((size_t)0x5e5e5e5e)

static void into_fill(IntoBuffer *b) { memset(b->bytes, FILL, sizeof b->bytes); }

/* Whether bytes [from, sizeof) are all still FILL. */
static bool into_untouched_from(const IntoBuffer *b, size_t from) {
  for (size_t i = from; i < sizeof b->bytes; i++) {
    if ((unsigned char)b->bytes[i] != FILL) return false;
  }
  return true;
}

/* ----- statuses, version, frees --------------------------------------------------------- */

static void test_status_names_and_messages(void) {
  static const char *const expected[] = {
      "ok",     "no_session",    "invalid_argument", "null_argument", "invalid_utf8", "closed",
      "store_error", "corrupt_state", "callback_error", "unsupported", "panic"};
  static const SeshStatus all[] = {
      SESH_STATUS_OK,           SESH_STATUS_NO_SESSION,     SESH_STATUS_INVALID_ARGUMENT,
      SESH_STATUS_NULL_ARGUMENT, SESH_STATUS_INVALID_UTF8,  SESH_STATUS_CLOSED,
      SESH_STATUS_STORE_ERROR,  SESH_STATUS_CORRUPT_STATE,  SESH_STATUS_CALLBACK_ERROR,
      SESH_STATUS_UNSUPPORTED,  SESH_STATUS_PANIC};
  const size_t n = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n; i++) {
    CHECK(all[i] == (SeshStatus)i);
    const char *name = sesh_status_name(all[i]);
    const char *message = sesh_status_message(all[i]);
    if (!CHECK(name != NULL) || !CHECK(message != NULL)) continue;
    if (!CHECK(strcmp(name, expected[i]) == 0)) fprintf(stderr, "  name %zu is \"%s\"\n", i, name);
    CHECK(strlen(message) > 0);
    /* Static: the same text on every call. */
    CHECK(sesh_status_name(all[i]) == name);
    CHECK(sesh_status_message(all[i]) == message);
    for (size_t j = 0; j < i; j++) {
      CHECK(strcmp(sesh_status_name(all[j]), name) != 0);
      CHECK(strcmp(sesh_status_message(all[j]), message) != 0);
    }
  }
  /* Values that are no status. (SESH_STATUS_PANIC + 1 is the first unused value.) */
  const int32_t bad[] = {-1, SESH_STATUS_PANIC + 1, 12, 100, 255, 256, INT32_MAX, INT32_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(sesh_status_name(bad[i]) == NULL);
    CHECK(sesh_status_message(bad[i]) == NULL);
  }
}

static void test_version(void) {
  const char *version = sesh_version();
  if (!CHECK(version != NULL)) return;
  CHECK(strlen(version) > 0);
  CHECK(version[0] >= '0' && version[0] <= '9');
  CHECK(strchr(version, '.') != NULL);
  CHECK(strcmp(sesh_version(), version) == 0);
}

static void test_frees_ignore_null(void) {
  sesh_string_free(NULL);
  sesh_handle_free(NULL);
  sesh_options_free(NULL);
  /* The library is still fine afterwards. */
  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  CHECK(options != NULL);
  sesh_options_free(options);
}

/* ----- NULL arguments ------------------------------------------------------------------- */

static void test_null_handle(void) {
  char *s = SENTINEL_STR;
  char *s2 = SENTINEL_STR;
  int64_t i = SENTINEL_I64;
  bool b = true;
  SeshStatus fault = SENTINEL_STATUS;

  CHECK_STATUS(sesh_handle_close(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track(NULL, NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track(NULL, VALID_ID, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_at(NULL, NULL, T0, &s), SESH_STATUS_NULL_ARGUMENT);
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  CHECK_STATUS(sesh_event_track_into(NULL, NULL, buffer.bytes, SESH_MAX_ENTITY_SIZE, &length),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_into(NULL, VALID_ID, buffer.bytes, SIZE_MAX, &length),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK(into_untouched_from(&buffer, 0));
  CHECK(length == SENTINEL_SIZE);
  CHECK_STATUS(sesh_app_background(NULL, NULL, &s, &s2), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_app_foreground(NULL, NULL, &s, &s2), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_new(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_begin(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_end(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_check(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_pause(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_resume(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_anonymous_set(NULL, true), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_user_reset(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_user_get_id(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_app_get_in_background(NULL, &b), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_id(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_index(NULL, &i), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_event_index(NULL, &i), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_previous_id(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_background_index(NULL, &i), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_foreground_index(NULL, &i), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_first_event_id(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_entity(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_handle_get_last_fault(NULL, &fault), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_handle_get_last_error(NULL, &s), SESH_STATUS_NULL_ARGUMENT);

  CHECK(s == SENTINEL_STR);
  CHECK(s2 == SENTINEL_STR);
  CHECK(i == SENTINEL_I64);
  CHECK(b == true);
  CHECK(fault == SENTINEL_STATUS);
}

/* A NULL out-parameter on a live handle: NULL_ARGUMENT, and the session does not move. */
static void test_null_out_params(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  char before[37];
  CHECK(session_id_of(h, before));
  int callbacks = rec.starts + rec.ends;

  char *s = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, NULL, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track(h, VALID_ID, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_at(h, NULL, T0, NULL), SESH_STATUS_NULL_ARGUMENT);
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  CHECK_STATUS(sesh_event_track_into(h, NULL, buffer.bytes, SESH_MAX_ENTITY_SIZE, NULL),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_into(h, NULL, NULL, SESH_MAX_ENTITY_SIZE, &length),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_into(h, NULL, NULL, 0, &length), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_event_track_into(h, NULL, NULL, SIZE_MAX, &length),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK(into_untouched_from(&buffer, 0));
  CHECK(length == SENTINEL_SIZE);
  CHECK(event_index_of(h) == 1);
  CHECK_STATUS(sesh_app_background(h, NULL, NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK(s == SENTINEL_STR);
  CHECK_STATUS(sesh_app_background(h, NULL, &s, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK(s == SENTINEL_STR);
  CHECK_STATUS(sesh_app_background(h, NULL, NULL, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK(!in_background_of(h));
  CHECK(event_index_of(h) == 1);
  /* Even when the move would be a no-op. */
  CHECK_STATUS(sesh_app_foreground(h, NULL, NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &s, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK(s == SENTINEL_STR);

  /* Foreground with a NULL out-parameter while in background. */
  char *event = NULL, *entity = NULL;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK(event_index_of(h) == 2);
  CHECK_STATUS(sesh_app_foreground(h, NULL, NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &s, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK(s == SENTINEL_STR);
  CHECK(in_background_of(h));
  CHECK(event_index_of(h) == 2);
  int64_t fg = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_foreground_index(h, &fg), SESH_STATUS_OK);
  CHECK(fg == 0);

  CHECK_STATUS(sesh_user_get_id(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_app_get_in_background(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_id(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_index(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_event_index(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_previous_id(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_background_index(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_foreground_index(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_first_event_id(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_session_get_entity(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_handle_get_last_fault(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_handle_get_last_error(h, NULL), SESH_STATUS_NULL_ARGUMENT);

  /* Nothing moved: same session, same index, no callback. */
  char after[37];
  CHECK(session_id_of(h, after));
  CHECK(strcmp(before, after) == 0);
  CHECK(event_index_of(h) == 2);
  CHECK(rec.starts + rec.ends == callbacks);
  CHECK(track_index(h, NULL) == 3);

  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  sesh_handle_free(h);
}

static void test_null_options_and_out(void) {
  char *s = SENTINEL_STR;
  SeshHandle *h = (SeshHandle *)SENTINEL_STR;

  CHECK_STATUS(sesh_options_new(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_handle_open(NULL, &h), SESH_STATUS_NULL_ARGUMENT);
  CHECK(h == (SeshHandle *)SENTINEL_STR);
  CHECK_STATUS(sesh_options_set_namespace(NULL, "ns"), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_foreground_timeout(NULL, 10), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_background_timeout(NULL, 10), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_max_duration(NULL, 10), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_continue_on_restart(NULL, false), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_anonymous(NULL, true), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_automatic(NULL, false), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_start_in_background(NULL, true), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_clock(NULL, test_clock_read, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_session_start_callback(NULL, recorder_on_start, NULL),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_session_end_callback(NULL, recorder_on_end, NULL),
               SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_log_callback(NULL, NULL, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_memory(NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_sqlite(NULL, "sesh.db"), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_get_last_error(NULL, &s), SESH_STATUS_NULL_ARGUMENT);
  CHECK(s == SENTINEL_STR);

  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  CHECK_STATUS(sesh_handle_open(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_namespace(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_sqlite(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_get_last_error(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  sesh_options_free(options);
}

/* ----- non-UTF-8 strings, malformed UUIDs, bad timestamps -------------------------------- */

/* Every call that takes an event id refuses `id` with `want`, writes nothing, changes nothing. */
static void refuse_event_id(SeshHandle *h, Recorder *rec, const char *id, SeshStatus want) {
  char before[37];
  CHECK(session_id_of(h, before));
  int64_t index = event_index_of(h);
  bool background = in_background_of(h);
  int callbacks = rec->starts + rec->ends;
  char *a = SENTINEL_STR, *b = SENTINEL_STR;

  CHECK_STATUS(sesh_event_track(h, id, &a), want);
  CHECK_STATUS(sesh_event_track_at(h, id, T0, &a), want);
  CHECK(a == SENTINEL_STR);
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SESH_MAX_ENTITY_SIZE, &length), want);
  CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SIZE_MAX, &length), want);
  CHECK(into_untouched_from(&buffer, 0));
  CHECK(length == SENTINEL_SIZE);
  if (background) {
    CHECK_STATUS(sesh_app_foreground(h, id, &a, &b), want);
  } else {
    CHECK_STATUS(sesh_app_background(h, id, &a, &b), want);
  }
  CHECK(a == SENTINEL_STR);
  CHECK(b == SENTINEL_STR);

  char after[37];
  CHECK(session_id_of(h, after));
  CHECK(strcmp(before, after) == 0);
  CHECK(event_index_of(h) == index);
  CHECK(in_background_of(h) == background);
  CHECK(rec->starts + rec->ends == callbacks);
  /* The failure left a message. */
  char *message = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
}

static void test_invalid_utf8(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  for (size_t i = 0; i < NOT_UTF8_COUNT; i++) {
    refuse_event_id(h, &rec, NOT_UTF8[i], SESH_STATUS_INVALID_UTF8);
  }
  /* And in background, through foreground. */
  char *event = NULL, *entity = NULL;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  sesh_string_free(event);
  sesh_string_free(entity);
  for (size_t i = 0; i < NOT_UTF8_COUNT; i++) {
    refuse_event_id(h, &rec, NOT_UTF8[i], SESH_STATUS_INVALID_UTF8);
  }
  sesh_handle_free(h);

  /* The option strings. */
  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  for (size_t i = 0; i < NOT_UTF8_COUNT; i++) {
    CHECK_STATUS(sesh_options_set_namespace(options, NOT_UTF8[i]), SESH_STATUS_INVALID_UTF8);
    CHECK_STATUS(sesh_options_set_store_sqlite(options, NOT_UTF8[i]), SESH_STATUS_INVALID_UTF8);
    char *message = NULL;
    CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
    CHECK(message != NULL && strlen(message) > 0);
    sesh_string_free(message);
  }
  /* The options still open a working handle on the default namespace. */
  CHECK_STATUS(sesh_options_set_clock(options, test_clock_read, &clock), SESH_STATUS_OK);
  h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  sesh_options_free(options);
}

static void test_malformed_uuids(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  for (size_t i = 0; i < MALFORMED_COUNT; i++) {
    refuse_event_id(h, &rec, MALFORMED_IDS[i], SESH_STATUS_INVALID_ARGUMENT);
  }
  sesh_handle_free(h);
}

/* Empty and very long (1 MiB) strings in every string argument: a clear status, nothing
 * changed, nothing leaked; a long namespace is text like any other. */
static void test_empty_and_huge_strings(void) {
  enum { HUGE = 1 << 20 };
  char *huge = malloc(HUGE + 1);
  CHECK(huge != NULL);
  if (!huge) return;
  memset(huge, 'a', HUGE);
  huge[HUGE] = '\0';
  char *huge_uuid_like = malloc(HUGE + 1);
  CHECK(huge_uuid_like != NULL);
  if (!huge_uuid_like) {
    free(huge);
    return;
  }
  for (size_t i = 0; i < HUGE; i++) huge_uuid_like[i] = (i % 5 == 4) ? '-' : 'f';
  huge_uuid_like[HUGE] = '\0';

  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  refuse_event_id(h, &rec, "", SESH_STATUS_INVALID_ARGUMENT);
  refuse_event_id(h, &rec, huge, SESH_STATUS_INVALID_ARGUMENT);
  refuse_event_id(h, &rec, huge_uuid_like, SESH_STATUS_INVALID_ARGUMENT);
  sesh_handle_free(h);

  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_clock(options, test_clock_read, &clock), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_namespace(options, ""), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_sqlite(options, ""), SESH_STATUS_INVALID_ARGUMENT);
  /* A 1 MiB namespace is accepted and works. */
  CHECK_STATUS(sesh_options_set_namespace(options, huge), SESH_STATUS_OK);
  h = open_with(options);
  CHECK(h != NULL);
  if (h) {
    CHECK(track_index(h, NULL) == 1);
    sesh_handle_free(h);
  }
  /* A 1 MiB path no file system takes: the open fails with store_error, no handle. */
  CHECK_STATUS(sesh_options_set_store_sqlite(options, huge), SESH_STATUS_OK);
  SeshHandle *none = (SeshHandle *)SENTINEL_STR;
  CHECK_STATUS(sesh_handle_open(options, &none), SESH_STATUS_STORE_ERROR);
  CHECK(none == (SeshHandle *)SENTINEL_STR);
  sesh_options_free(options);
  free(huge);
  free(huge_uuid_like);
}

/* Upper- and mixed-case UUIDs are taken and given back lower-case. */
static void test_upper_case_uuids(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  SeshHandle *h = open_default(&clock, NULL);
  char *entity = NULL, *event = NULL, *id = NULL;

  CHECK_STATUS(sesh_event_track(h, UPPER_ID, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventId", UPPER_ID_LOWERED));
  CHECK(strstr(entity, UPPER_ID) == NULL);
  sesh_string_free(entity);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &id), SESH_STATUS_OK);
  CHECK(id && strcmp(id, UPPER_ID_LOWERED) == 0);
  sesh_string_free(id);

  /* track_at, mixed case. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_event_track_at(h, "A3bB189E-8bF9-4888-9912-AcE4E6543002", T0, &entity),
               SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventId", VALID_ID));
  sesh_string_free(entity);

  /* A lifecycle event as a session's first event. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  entity = NULL;
  CHECK_STATUS(sesh_app_background(h, UPPER_ID, &event, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventId", UPPER_ID_LOWERED));
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  entity = NULL;
  CHECK_STATUS(sesh_app_foreground(h, UPPER_ID, &event, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventId", UPPER_ID_LOWERED));
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &id), SESH_STATUS_OK);
  CHECK(id && strcmp(id, UPPER_ID_LOWERED) == 0);
  sesh_string_free(id);
  sesh_handle_free(h);
}

static void expect_first_timestamp(SeshHandle *h, int64_t ts, const char *iso) {
  char *entity = NULL, *text = NULL;
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK_STATUS(sesh_event_track_at(h, NULL, ts, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventTimestamp", iso));
  CHECK(json_int(entity, "eventIndex") == 1);
  sesh_string_free(entity);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &text), SESH_STATUS_OK);
  CHECK(text && strcmp(text, iso) == 0);
  sesh_string_free(text);
}

static void test_timestamps(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  char before[37];
  CHECK(session_id_of(h, before));

  const int64_t bad[] = {-1, MAX_MS + 1, INT64_MAX, INT64_MIN, -T0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *entity = SENTINEL_STR;
    CHECK_STATUS(sesh_event_track_at(h, NULL, bad[i], &entity), SESH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(sesh_event_track_at(h, VALID_ID, bad[i], &entity), SESH_STATUS_INVALID_ARGUMENT);
    CHECK(entity == SENTINEL_STR);
  }
  char after[37];
  CHECK(session_id_of(h, after));
  CHECK(strcmp(before, after) == 0);
  CHECK(event_index_of(h) == 1);
  CHECK(rec.starts == 1 && rec.ends == 0);

  /* The event's own timestamp does not drive the session rules: the clock does. */
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track_at(h, NULL, 0, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "eventIndex") == 2);
  CHECK(json_str_is(entity, "sessionId", before));
  sesh_string_free(entity);
  CHECK_STATUS(sesh_event_track_at(h, NULL, MAX_MS, &entity), SESH_STATUS_OK);
  CHECK(json_int(entity, "eventIndex") == 3);
  CHECK(json_str_is(entity, "sessionId", before));
  sesh_string_free(entity);
  CHECK(rec.starts == 1 && rec.ends == 0);

  /* As a session's first event, the timestamp is firstEventTimestamp. */
  expect_first_timestamp(h, 0, "1970-01-01T00:00:00.000Z");
  expect_first_timestamp(h, MAX_MS, "9999-12-31T23:59:59.999Z");
  expect_first_timestamp(h, INT64_C(1234567891012), "2009-02-13T23:31:31.012Z");
  sesh_handle_free(h);
}

/* ----- the clock callback answering nonsense ------------------------------------------- */

typedef struct {
  int calls;
  int bad_level;
  char last[512];
} LogRecord;

static void on_log(void *user_data, int32_t level, const char *message) {
  LogRecord *log = user_data;
  log->calls++;
  if (level < SESH_LOG_LEVEL_ERROR || level > SESH_LOG_LEVEL_DEBUG) log->bad_level++;
  snprintf(log->last, sizeof log->last, "%s", message ? message : "(null)");
}

static void test_bad_clock_at_open(void) {
  const int64_t bad[] = {-1, MAX_MS + 1, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    TestClock clock;
    test_clock_init(&clock, bad[i]);
    LogRecord log = {0};
    SeshOptions *options = options_for(&clock, NULL);
    CHECK_STATUS(sesh_options_set_log_callback(options, on_log, &log), SESH_STATUS_OK);
    SeshHandle *h = (SeshHandle *)SENTINEL_STR;
    CHECK_STATUS(sesh_handle_open(options, &h), SESH_STATUS_CALLBACK_ERROR);
    CHECK(h == (SeshHandle *)SENTINEL_STR);
    CHECK(atomic_load(&clock.reads) > 0);
    char *message = NULL;
    CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
    CHECK(message != NULL && strlen(message) > 0);
    sesh_string_free(message);
    /* sesh_handle_open: "the reason is kept in the options ... and sent to the log callback". */
    if (!CHECK(log.calls > 0)) {
      fprintf(stderr, "  clock %lld: open failed with no log message\n", (long long)bad[i]);
    }
    CHECK(log.bad_level == 0);
    /* The same options open once the clock is sane. */
    test_clock_set(&clock, T0);
    h = open_with(options);
    sesh_handle_free(h);
    sesh_options_free(options);
  }
}

static void test_bad_clock_on_calls(void) {
  const int64_t bad[] = {-1, MAX_MS + 1, INT64_MAX, INT64_MIN};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    TestClock clock;
    test_clock_init(&clock, T0);
    Recorder rec;
    recorder_clear(&rec);
    LogRecord log = {0};
    SeshOptions *options = options_for(&clock, &rec);
    CHECK_STATUS(sesh_options_set_log_callback(options, on_log, &log), SESH_STATUS_OK);
    SeshHandle *h = open_with(options);
    sesh_options_free(options);
    CHECK(track_index(h, NULL) == 1);
    SeshStatus fault = SENTINEL_STATUS;
    CHECK_STATUS(sesh_handle_get_last_fault(h, &fault), SESH_STATUS_OK);
    CHECK_STATUS(fault, SESH_STATUS_OK);
    char before[37];
    CHECK(session_id_of(h, before));

    test_clock_set(&clock, bad[k]);
    char *a = SENTINEL_STR, *b = SENTINEL_STR;
    CHECK_STATUS(sesh_event_track(h, NULL, &a), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_event_track(h, VALID_ID, &a), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_event_track_at(h, NULL, T0, &a), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_app_background(h, NULL, &a, &b), SESH_STATUS_CALLBACK_ERROR);
    CHECK(a == SENTINEL_STR && b == SENTINEL_STR);
    CHECK_STATUS(sesh_session_new(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_session_end(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_session_check(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_session_pause(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_session_resume(h), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_anonymous_set(h, true), SESH_STATUS_CALLBACK_ERROR);
    CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_CALLBACK_ERROR);

    /* The message of the failure. */
    char *message = NULL;
    CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
    CHECK(message != NULL && strlen(message) > 0);
    sesh_string_free(message);
    /* sesh_handle_get_last_fault: "the last fault the handle met on its own (..., a bad
     * clock reading)"; faults go to the log callback. */
    fault = SENTINEL_STATUS;
    CHECK_STATUS(sesh_handle_get_last_fault(h, &fault), SESH_STATUS_OK);
    if (!CHECK_STATUS(fault, SESH_STATUS_CALLBACK_ERROR)) {
      fprintf(stderr, "  clock %lld: a bad clock reading is not the handle's last fault\n",
              (long long)bad[k]);
    }
    if (!CHECK(log.calls > 0)) {
      fprintf(stderr, "  clock %lld: a bad clock reading was not logged\n", (long long)bad[k]);
    }

    /* Nothing changed: same session, same index, same user, no callbacks, foreground,
     * not paused, not anonymous. */
    test_clock_set(&clock, T0 + 1000);
    char after[37];
    CHECK(session_id_of(h, after));
    CHECK(strcmp(before, after) == 0);
    CHECK(event_index_of(h) == 1);
    CHECK(!in_background_of(h));
    CHECK(rec.starts == 1 && rec.ends == 0);
    char *user = NULL;
    CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
    CHECK(user && strcmp(user, NIL_UUID) != 0);
    sesh_string_free(user);
    /* Not paused: a timeout renews. */
    test_clock_set(&clock, T0 + 1000 + 1800 * 1000 + 1);
    CHECK(track_index(h, NULL) == 1);
    CHECK(rec.ends == 1 && json_str_is(rec.json[1], "reason", "timeout"));
    CHECK(rec.ends == 1 && json_str_is(rec.json[1], "sessionId", before));
    sesh_handle_free(h);
  }
}

/* The edges of the clock's range are fine. */
static void test_clock_edges(void) {
  TestClock clock;
  test_clock_init(&clock, 0);
  SeshHandle *h = open_default(&clock, NULL);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventTimestamp", "1970-01-01T00:00:00.000Z"));
  sesh_string_free(entity);
  test_clock_set(&clock, MAX_MS);
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "firstEventTimestamp", "9999-12-31T23:59:59.999Z"));
  sesh_string_free(entity);
  sesh_handle_free(h);
}

/* ----- closed handles ------------------------------------------------------------------- */

static void test_closed(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);

  /* No failure yet: the last error is NULL. */
  char *message = SENTINEL_STR;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message == NULL);

  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  /* Closing does not end the session. */
  CHECK(rec.starts == 1 && rec.ends == 0);

  char *s = SENTINEL_STR, *s2 = SENTINEL_STR;
  int64_t i = SENTINEL_I64;
  bool b = true;
  SeshStatus fault = SENTINEL_STATUS;
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_event_track(h, NULL, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_event_track(h, VALID_ID, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_event_track_at(h, NULL, T0, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_app_background(h, NULL, &s, &s2), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_app_foreground(h, NULL, &s, &s2), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_pause(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_resume(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_anonymous_set(h, true), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_user_get_id(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_app_get_in_background(h, &b), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_id(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_index(h, &i), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_event_index(h, &i), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_previous_id(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_background_index(h, &i), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_foreground_index(h, &i), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_first_event_id(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_entity(h, &s), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_handle_get_last_fault(h, &fault), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_CLOSED);
  CHECK(s == SENTINEL_STR && s2 == SENTINEL_STR);
  CHECK(i == SENTINEL_I64);
  CHECK(b == true);
  CHECK(fault == SENTINEL_STATUS);
  /* No callback ran. */
  CHECK(rec.starts == 1 && rec.ends == 0);

  /* The last error works on a closed handle and tells of the last failure. */
  message = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
  sesh_handle_free(h);

  /* Freeing a handle that was never closed closes it. */
  h = open_default(&clock, NULL);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
}

/* ----- sesh_event_track_into: the caller's buffer ------------------------------------- */

/* One refused call: `want`, the buffer and *out_length as they were, nothing counted, a
 * message left. */
static void refuse_into(SeshHandle *h, Recorder *rec, const char *id, size_t capacity,
                        SeshStatus want, const char *what) {
  char before[37];
  CHECK(session_id_of(h, before));
  int64_t index = event_index_of(h);
  int callbacks = rec->starts + rec->ends;
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  if (!CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, capacity, &length), want)) {
    fprintf(stderr, "  track_into: %s, capacity %zu\n", what, capacity);
  }
  if (!CHECK(into_untouched_from(&buffer, 0))) fprintf(stderr, "  buffer written: %s\n", what);
  CHECK(length == SENTINEL_SIZE);
  char after[37];
  CHECK(session_id_of(h, after));
  CHECK(strcmp(before, after) == 0);
  CHECK(event_index_of(h) == index);
  CHECK(rec->starts + rec->ends == callbacks);
  char *message = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
}

/* One accepted call: OK, the entity and its NUL in the buffer, *out_length its length, the
 * next event index, and not one byte written past SESH_MAX_ENTITY_SIZE whatever the capacity
 * said. */
static void accept_into(SeshHandle *h, const char *id, size_t capacity, int64_t index) {
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  if (!CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, capacity, &length),
                    SESH_STATUS_OK)) {
    fprintf(stderr, "  track_into: capacity %zu\n", capacity);
    return;
  }
  CHECK(length > 0 && length < SESH_MAX_ENTITY_SIZE);
  CHECK(length == strnlen(buffer.bytes, SESH_MAX_ENTITY_SIZE));
  CHECK(buffer.bytes[length] == '\0');
  CHECK(json_int(buffer.bytes, "eventIndex") == index);
  /* Past the entity's NUL, the buffer is as it was; past SESH_MAX_ENTITY_SIZE always. */
  CHECK(into_untouched_from(&buffer, length + 1));
  if (!CHECK(into_untouched_from(&buffer, SESH_MAX_ENTITY_SIZE))) {
    fprintf(stderr, "  capacity %zu: written past SESH_MAX_ENTITY_SIZE\n", capacity);
  }
  CHECK(event_index_of(h) == index);
}

static void test_track_into(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);

  /* Too small: 0, 1, one below SESH_MAX_ENTITY_SIZE (also with an id that is fine). */
  const size_t small[] = {0, 1, SESH_MAX_ENTITY_SIZE / 2, SESH_MAX_ENTITY_SIZE - 1};
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
    refuse_into(h, &rec, NULL, small[i], SESH_STATUS_INVALID_ARGUMENT, "too small");
    refuse_into(h, &rec, VALID_ID, small[i], SESH_STATUS_INVALID_ARGUMENT, "too small, id");
  }
  /* Bad ids, with any capacity. */
  const size_t capacities[] = {SESH_MAX_ENTITY_SIZE, SIZE_MAX};
  for (size_t c = 0; c < 2; c++) {
    for (size_t i = 0; i < NOT_UTF8_COUNT; i++) {
      refuse_into(h, &rec, NOT_UTF8[i], capacities[c], SESH_STATUS_INVALID_UTF8, "not UTF-8");
    }
    for (size_t i = 0; i < MALFORMED_COUNT; i++) {
      refuse_into(h, &rec, MALFORMED_IDS[i], capacities[c], SESH_STATUS_INVALID_ARGUMENT,
                  "malformed id");
    }
  }

  /* Accepted: exactly SESH_MAX_ENTITY_SIZE, a little more, and capacities no buffer has
   * (the buffer here holds SESH_MAX_ENTITY_SIZE + GUARD bytes): sesh takes any capacity
   * above SESH_MAX_ENTITY_SIZE as SESH_MAX_ENTITY_SIZE and writes nowhere past it. */
  int64_t index = 1;
  accept_into(h, NULL, SESH_MAX_ENTITY_SIZE, ++index);
  accept_into(h, VALID_ID, SESH_MAX_ENTITY_SIZE, ++index);
  accept_into(h, NULL, SESH_MAX_ENTITY_SIZE + 1, ++index);
  accept_into(h, NULL, sizeof(IntoBuffer), ++index);
  accept_into(h, NULL, (size_t)PTRDIFF_MAX, ++index);
  accept_into(h, NULL, (size_t)PTRDIFF_MAX + 1, ++index);
  accept_into(h, UPPER_ID, SIZE_MAX, ++index);
  accept_into(h, NULL, SIZE_MAX, ++index);
  CHECK(rec.starts == 1 && rec.ends == 0);

  /* A new session's first event through track_into. */
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  accept_into(h, VALID_ID, SIZE_MAX, 1);
  CHECK(rec.starts == 2);
  sesh_handle_free(h);

  /* Manual mode outside a session: NO_SESSION, nothing written, nothing started. */
  SeshOptions *options = options_for(&clock, &rec);
  CHECK_STATUS(sesh_options_set_automatic(options, false), SESH_STATUS_OK);
  h = open_with(options);
  sesh_options_free(options);
  recorder_clear(&rec);
  IntoBuffer buffer;
  into_fill(&buffer);
  size_t length = SENTINEL_SIZE;
  CHECK_STATUS(sesh_event_track_into(h, NULL, buffer.bytes, SIZE_MAX, &length),
               SESH_STATUS_NO_SESSION);
  CHECK(into_untouched_from(&buffer, 0));
  CHECK(length == SENTINEL_SIZE);
  CHECK(rec.starts == 0);
  int64_t i64 = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_index(h, &i64), SESH_STATUS_NO_SESSION);
  sesh_handle_free(h);
}

/* ----- closed handles with bad arguments besides ---------------------------------------- */

/* A closed handle answers CLOSED before it looks at any other argument: NULL out-parameters,
 * NULL buffers, bad capacities, malformed or non-UTF-8 ids, bad timestamps. */
static void test_closed_before_arguments(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  Recorder rec;
  recorder_clear(&rec);
  SeshHandle *h = open_default(&clock, &rec);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);

  const char *bad_ids[] = {MALFORMED_IDS[1], MALFORMED_IDS[0], NOT_UTF8[0], NOT_UTF8[4],
                           VALID_ID, NULL};
  char *s = SENTINEL_STR;
  for (size_t k = 0; k < sizeof bad_ids / sizeof bad_ids[0]; k++) {
    const char *id = bad_ids[k];
    /* NULL out-parameters, and the bad id. */
    CHECK_STATUS(sesh_event_track(h, id, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track(h, id, &s), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_at(h, id, T0, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_at(h, id, -1, &s), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_at(h, id, INT64_MAX, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_background(h, id, NULL, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_background(h, id, &s, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_background(h, id, NULL, &s), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_foreground(h, id, NULL, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_foreground(h, id, &s, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_app_foreground(h, id, NULL, &s), SESH_STATUS_CLOSED);
    /* track_into: every bad buffer argument, and the bad id. */
    IntoBuffer buffer;
    into_fill(&buffer);
    size_t length = SENTINEL_SIZE;
    CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SESH_MAX_ENTITY_SIZE, &length),
                 SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SESH_MAX_ENTITY_SIZE, NULL),
                 SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, NULL, SESH_MAX_ENTITY_SIZE, &length),
                 SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, NULL, 0, NULL), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, 0, &length), SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SESH_MAX_ENTITY_SIZE - 1, &length),
                 SESH_STATUS_CLOSED);
    CHECK_STATUS(sesh_event_track_into(h, id, buffer.bytes, SIZE_MAX, &length),
                 SESH_STATUS_CLOSED);
    CHECK(into_untouched_from(&buffer, 0));
    CHECK(length == SENTINEL_SIZE);
  }
  CHECK(s == SENTINEL_STR);

  /* Every getter with a NULL out-parameter. */
  CHECK_STATUS(sesh_user_get_id(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_app_get_in_background(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_id(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_index(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_event_index(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_previous_id(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_background_index(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_foreground_index(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_first_event_id(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_first_event_timestamp(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_get_entity(h, NULL), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_handle_get_last_fault(h, NULL), SESH_STATUS_CLOSED);
  /* The calls with no other argument (or a bool), for completeness. */
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_begin(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_end(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_check(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_pause(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_session_resume(h), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_anonymous_set(h, false), SESH_STATUS_CLOSED);
  CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_CLOSED);
  /* The one call that works on a closed handle: its own NULL is NULL_ARGUMENT, and the
   * last error is CLOSED's message. */
  CHECK_STATUS(sesh_handle_get_last_error(h, NULL), SESH_STATUS_NULL_ARGUMENT);
  char *message = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  if (CHECK(message != NULL)) {
    CHECK(strstr(message, "closed") != NULL);
    sesh_string_free(message);
  }
  CHECK(rec.starts == 1 && rec.ends == 0);
  sesh_handle_free(h);
}

/* ----- last-error messages -------------------------------------------------------------- */

static void test_last_error_messages(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  SeshHandle *h = open_default(&clock, NULL);
  char *message = SENTINEL_STR;
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message == NULL);

  /* A getter with no session fails with no_session: a message. */
  int64_t index = SENTINEL_I64;
  CHECK_STATUS(sesh_session_get_index(h, &index), SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_handle_get_last_error(h, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);

  /* A bad id: a message; a later success keeps it. */
  char *entity = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, "nope", &entity), SESH_STATUS_INVALID_ARGUMENT);
  char *first = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &first), SESH_STATUS_OK);
  CHECK(first != NULL && strlen(first) > 0);
  CHECK(track_index(h, NULL) == 1);
  char *second = NULL;
  CHECK_STATUS(sesh_handle_get_last_error(h, &second), SESH_STATUS_OK);
  CHECK(first && second && strcmp(first, second) == 0);
  /* Each copy is the caller's. */
  CHECK(first != second);
  sesh_string_free(first);
  sesh_string_free(second);
  sesh_handle_free(h);

  /* Options: NULL until a setter fails, then why. */
  SeshOptions *options = NULL;
  CHECK_STATUS(sesh_options_new(&options), SESH_STATUS_OK);
  message = SENTINEL_STR;
  CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
  CHECK(message == NULL);
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 0), SESH_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sesh_options_get_last_error(options, &first), SESH_STATUS_OK);
  CHECK(first != NULL && strlen(first) > 0);
  /* A successful setter keeps it. */
  CHECK_STATUS(sesh_options_set_foreground_timeout(options, 60), SESH_STATUS_OK);
  /* The getter is no setter: its own NULL argument does not replace the message. */
  CHECK_STATUS(sesh_options_get_last_error(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  second = NULL;
  CHECK_STATUS(sesh_options_get_last_error(options, &second), SESH_STATUS_OK);
  if (!CHECK(first && second && strcmp(first, second) == 0)) {
    fprintf(stderr, "  options last error was \"%s\", now \"%s\"\n", first ? first : "(null)",
            second ? second : "(null)");
  }
  sesh_string_free(first);
  sesh_string_free(second);
  sesh_options_free(options);
}

int main(void) {
  test_status_names_and_messages();
  test_version();
  test_frees_ignore_null();
  test_null_handle();
  test_null_out_params();
  test_null_options_and_out();
  test_invalid_utf8();
  test_malformed_uuids();
  test_upper_case_uuids();
  test_empty_and_huge_strings();
  test_timestamps();
  test_bad_clock_at_open();
  test_bad_clock_on_calls();
  test_clock_edges();
  test_track_into();
  test_closed();
  test_closed_before_arguments();
  test_last_error_messages();
  return CHECK_EXIT();
}
