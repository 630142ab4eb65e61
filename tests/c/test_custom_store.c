/* Custom stores through the C ABI (SeshCustomStore, sesh_options_set_store_custom,
 * sesh_store_sink_write), with an in-memory store written here in C:
 *   - destroy runs exactly once, whoever lets go of the store last (options, handles, a
 *     second set_store_custom), and never when set_store_custom fails;
 *   - the declared storage_mechanism is the entity's storageMechanism;
 *   - a store that fails, returns garbage or returns nothing never stops tracking: open
 *     succeeds, the fault is the handle's last fault (store_error / corrupt_state) and goes
 *     to the log callback, and a failed write is retried once the store works again;
 *   - sesh_store_sink_write's argument checks;
 *   - store callbacks that call sesh again do not deadlock;
 *   - the keys sesh uses: "sesh.user_id" and "sesh.state.<namespace>". */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"

static const char *const STORED_USER = "5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a91";

/* ----- an in-memory store ------------------------------------------------------------------ */

#define MEM_RECORDS 8
#define MEM_KEYS_SEEN 8

typedef struct MemStore {
  char key[MEM_RECORDS][128];
  char *value[MEM_RECORDS];
  int count;

  /* Behaviour. */
  int fail_get;             /* every get returns SESH_STATUS_STORE_ERROR */
  int fail_get_state;       /* gets of "sesh.state.*" return SESH_STATUS_STORE_ERROR */
  int fail_set;             /* every set returns SESH_STATUS_STORE_ERROR */
  int corrupt_status;       /* every get returns SESH_STATUS_CORRUPT_STATE */
  const char *garbage_key;  /* a get of this key hands back garbage_len bytes of garbage */
  const char *garbage;
  size_t garbage_len;
  int probe_sink;           /* get tries the sink's argument checks first */
  SeshHandle *reenter;      /* get and set call sesh's getters on this handle */
  /* ... and track an event on it, this many times (a set that always tracked would never
   * be done: each event it tracks is a new state to set). */
  int reenter_track;        /* from set */

  /* What happened. */
  atomic_int destroyed;
  int gets, sets, failed_sets;
  char seen[MEM_KEYS_SEEN][128];
  int seen_count;
  int seen_overflow;
  SeshStatus probe_null_data, probe_empty;
  int reentered;
  int reentry_depth;
} MemStore;

static int mem_find(const MemStore *m, const char *key) {
  for (int i = 0; i < m->count; i++) {
    if (strcmp(m->key[i], key) == 0) return i;
  }
  return -1;
}

/* The value kept under key, or NULL. */
static const char *mem_value(const MemStore *m, const char *key) {
  int i = mem_find(m, key);
  return i >= 0 ? m->value[i] : NULL;
}

static void mem_put(MemStore *m, const char *key, const char *value) {
  int i = mem_find(m, key);
  if (i < 0) {
    if (!CHECK(m->count < MEM_RECORDS) || !CHECK(strlen(key) < sizeof m->key[0])) return;
    i = m->count++;
    strcpy(m->key[i], key);
    m->value[i] = NULL;
  }
  free(m->value[i]);
  size_t n = strlen(value) + 1;
  m->value[i] = malloc(n);
  if (!m->value[i]) abort();
  memcpy(m->value[i], value, n);
}

static void mem_note_key(MemStore *m, const char *key) {
  for (int i = 0; i < m->seen_count; i++) {
    if (strcmp(m->seen[i], key) == 0) return;
  }
  if (m->seen_count < MEM_KEYS_SEEN && strlen(key) < sizeof m->seen[0]) {
    strcpy(m->seen[m->seen_count++], key);
  } else {
    m->seen_overflow++;
  }
}

/* Calls back into sesh from inside a store callback; `*track` > 0: tracks an event too. */
static void mem_reenter(MemStore *m, int *track) {
  if (!m->reenter || m->reentry_depth > 0) return;
  m->reentry_depth++;
  m->reentered++;
  char *text = NULL;
  int64_t index = 0;
  SeshStatus fault = SESH_STATUS_OK;
  bool in_background = false;
  CHECK_STATUS(sesh_user_get_id(m->reenter, &text), SESH_STATUS_OK);
  sesh_string_free(text);
  text = NULL;
  SeshStatus s = sesh_session_get_id(m->reenter, &text);
  CHECK(s == SESH_STATUS_OK || s == SESH_STATUS_NO_SESSION);
  sesh_string_free(text);
  s = sesh_session_get_event_index(m->reenter, &index);
  CHECK(s == SESH_STATUS_OK || s == SESH_STATUS_NO_SESSION);
  CHECK_STATUS(sesh_handle_get_last_fault(m->reenter, &fault), SESH_STATUS_OK);
  CHECK_STATUS(sesh_app_get_in_background(m->reenter, &in_background), SESH_STATUS_OK);
  if (*track > 0) {
    (*track)--;
    char *entity = NULL;
    CHECK_STATUS(sesh_event_track(m->reenter, NULL, &entity), SESH_STATUS_OK);
    CHECK(entity != NULL);
    sesh_string_free(entity);
  }
  m->reentry_depth--;
}

static int32_t mem_get(void *user_data, const char *key, SeshStoreSink *sink) {
  MemStore *m = user_data;
  m->gets++;
  mem_note_key(m, key);
  if (m->fail_get || (m->fail_get_state && strncmp(key, "sesh.state.", 11) == 0)) {
    return SESH_STATUS_STORE_ERROR;
  }
  if (m->corrupt_status) return SESH_STATUS_CORRUPT_STATE;
  if (m->garbage_key && strcmp(key, m->garbage_key) == 0) {
    return sesh_store_sink_write(sink, m->garbage, m->garbage_len);
  }
  const char *value = mem_value(m, key);
  if (!value) return SESH_STATUS_OK; /* not found: nothing written */
  if (m->probe_sink) {
    /* Wrong arguments change nothing; an empty value and garbage are replaced by the
     * last write. */
    m->probe_null_data = sesh_store_sink_write(sink, NULL, 5);
    m->probe_empty = sesh_store_sink_write(sink, NULL, 0);
    CHECK_STATUS(sesh_store_sink_write(sink, "garbage", 7), SESH_STATUS_OK);
  }
  return sesh_store_sink_write(sink, value, strlen(value));
}

static int32_t mem_set(void *user_data, const char *key, const char *value) {
  MemStore *m = user_data;
  m->sets++;
  mem_note_key(m, key);
  mem_reenter(m, &m->reenter_track);
  if (m->fail_set) {
    m->failed_sets++;
    return SESH_STATUS_STORE_ERROR;
  }
  mem_put(m, key, value);
  return SESH_STATUS_OK;
}

/* Counts only: the test reads the records after sesh let go, and frees them itself. */
static void mem_destroy(void *user_data) {
  MemStore *m = user_data;
  atomic_fetch_add(&m->destroyed, 1);
}

static void mem_init(MemStore *m) {
  memset(m, 0, sizeof *m);
  atomic_store(&m->destroyed, 0);
}

static void mem_free(MemStore *m) {
  for (int i = 0; i < m->count; i++) free(m->value[i]);
  m->count = 0;
}

static SeshCustomStore mem_custom(MemStore *m, int32_t mechanism) {
  SeshCustomStore store;
  store.user_data = m;
  store.storage_mechanism = mechanism;
  store.get = mem_get;
  store.set = mem_set;
  store.destroy = mem_destroy;
  return store;
}

/* Options with the test clock and the store `m`. */
static SeshOptions *options_on(TestClock *clock, MemStore *m) {
  SeshOptions *options = options_for(clock, NULL);
  SeshCustomStore store = mem_custom(m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_OK);
  return options;
}

/* ----- a log recorder ---------------------------------------------------------------------- */

typedef struct {
  int calls;
  int32_t last_level;
  char last_message[512];
} LogRecorder;

static void log_record(void *user_data, int32_t level, const char *message) {
  LogRecorder *log = user_data;
  log->calls++;
  log->last_level = level;
  snprintf(log->last_message, sizeof log->last_message, "%s", message ? message : "(null)");
}

static SeshStatus last_fault_of(SeshHandle *h) {
  SeshStatus fault = SENTINEL_STATUS;
  CHECK_STATUS(sesh_handle_get_last_fault(h, &fault), SESH_STATUS_OK);
  return fault;
}

static int64_t session_index_of(SeshHandle *h) {
  int64_t index = -1;
  CHECK_STATUS(sesh_session_get_index(h, &index), SESH_STATUS_OK);
  return index;
}

/* ----- destroy: exactly once --------------------------------------------------------------- */

static void test_destroy_options_freed_before_handle(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  CHECK(atomic_load(&m.destroyed) == 0);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  CHECK(atomic_load(&m.destroyed) == 0); /* closed, but the handle still holds the store */
  sesh_handle_free(h);
  CHECK(atomic_load(&m.destroyed) == 1);
  mem_free(&m);
}

static void test_destroy_handle_freed_before_options(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h = open_with(options);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h); /* closes and frees */
  CHECK(atomic_load(&m.destroyed) == 0);
  sesh_options_free(options);
  CHECK(atomic_load(&m.destroyed) == 1);
  mem_free(&m);
}

static void test_destroy_options_without_handle(void) {
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(NULL, &m);
  sesh_options_free(options);
  CHECK(atomic_load(&m.destroyed) == 1);
  CHECK(m.gets == 0 && m.sets == 0);
}

static void test_destroy_two_handles_from_one_options(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h1 = open_with(options);
  SeshHandle *h2 = open_with(options);
  sesh_options_free(options);
  CHECK(track_index(h1, NULL) == 1);
  sesh_handle_free(h1);
  CHECK(atomic_load(&m.destroyed) == 0);
  /* The second handle still works on the store. */
  int sets_before = m.sets;
  CHECK(track_index(h2, NULL) >= 1);
  CHECK_STATUS(sesh_handle_close(h2), SESH_STATUS_OK);
  CHECK(m.sets > sets_before);
  CHECK(atomic_load(&m.destroyed) == 0);
  sesh_handle_free(h2);
  CHECK(atomic_load(&m.destroyed) == 1);
  mem_free(&m);
}

static void test_destroy_when_replaced(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore a, b;
  mem_init(&a);
  mem_init(&b);

  /* Replaced before any handle: the first goes at once, the second stays. */
  SeshOptions *options = options_on(&clock, &a);
  SeshCustomStore store_b = mem_custom(&b, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  CHECK_STATUS(sesh_options_set_store_custom(options, &store_b), SESH_STATUS_OK);
  CHECK(atomic_load(&a.destroyed) == 1);
  CHECK(atomic_load(&b.destroyed) == 0);
  SeshHandle *h = open_with(options);
  CHECK(a.gets == 0 && b.gets > 0); /* the handle uses the second store */
  sesh_options_free(options);
  CHECK(atomic_load(&b.destroyed) == 0);
  sesh_handle_free(h);
  CHECK(atomic_load(&a.destroyed) == 1);
  CHECK(atomic_load(&b.destroyed) == 1);
  mem_free(&a);
  mem_free(&b);

  /* Replaced while a handle uses it: it goes when that handle does. */
  mem_init(&a);
  mem_init(&b);
  options = options_on(&clock, &a);
  h = open_with(options);
  store_b = mem_custom(&b, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  CHECK_STATUS(sesh_options_set_store_custom(options, &store_b), SESH_STATUS_OK);
  CHECK(atomic_load(&a.destroyed) == 0);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  CHECK(atomic_load(&a.destroyed) == 1);
  CHECK(atomic_load(&b.destroyed) == 0);
  sesh_options_free(options);
  CHECK(atomic_load(&a.destroyed) == 1);
  CHECK(atomic_load(&b.destroyed) == 1);
  mem_free(&a);
  mem_free(&b);

  /* Replaced by the memory store. */
  mem_init(&a);
  options = options_on(&clock, &a);
  CHECK_STATUS(sesh_options_set_store_memory(options), SESH_STATUS_OK);
  CHECK(atomic_load(&a.destroyed) == 1);
  sesh_options_free(options);
  CHECK(atomic_load(&a.destroyed) == 1);
}

static void test_destroy_never_when_set_fails(void) {
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_for(NULL, NULL);

  SeshCustomStore store = mem_custom(&m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  store.get = NULL;
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_NULL_ARGUMENT);
  store = mem_custom(&m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  store.set = NULL;
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_NULL_ARGUMENT);
  store = mem_custom(&m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  store.get = NULL;
  store.set = NULL;
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_NULL_ARGUMENT);
  const int32_t bad_mechanisms[] = {99, -1, SESH_STORAGE_MECHANISM_FLASH_LSO + 1, INT32_MIN,
                                    INT32_MAX};
  for (size_t i = 0; i < sizeof bad_mechanisms / sizeof bad_mechanisms[0]; i++) {
    store = mem_custom(&m, bad_mechanisms[i]);
    CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_INVALID_ARGUMENT);
  }
  char *message = NULL;
  CHECK_STATUS(sesh_options_get_last_error(options, &message), SESH_STATUS_OK);
  CHECK(message != NULL && strlen(message) > 0);
  sesh_string_free(message);
  store = mem_custom(&m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  CHECK_STATUS(sesh_options_set_store_custom(NULL, &store), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_options_set_store_custom(options, NULL), SESH_STATUS_NULL_ARGUMENT);
  sesh_options_free(options);
  CHECK(atomic_load(&m.destroyed) == 0);
  CHECK(m.gets == 0 && m.sets == 0);

  /* A failed call leaves the store the options had: it is neither destroyed nor replaced. */
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore a, b;
  mem_init(&a);
  mem_init(&b);
  options = options_on(&clock, &a);
  store = mem_custom(&b, 99);
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_INVALID_ARGUMENT);
  store = mem_custom(&b, SESH_STORAGE_MECHANISM_COOKIE1);
  store.set = NULL;
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_NULL_ARGUMENT);
  CHECK(atomic_load(&a.destroyed) == 0);
  SeshHandle *h = open_with(options);
  CHECK(a.gets > 0);
  CHECK(b.gets == 0 && b.sets == 0);
  char *entity = NULL;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
  CHECK(json_str_is(entity, "storageMechanism", "LOCAL_STORAGE"));
  sesh_string_free(entity);
  sesh_handle_free(h);
  sesh_options_free(options);
  CHECK(atomic_load(&a.destroyed) == 1);
  CHECK(atomic_load(&b.destroyed) == 0);
  mem_free(&a);

  /* A store without destroy is fine. */
  mem_init(&m);
  options = options_for(&clock, NULL);
  store = mem_custom(&m, SESH_STORAGE_MECHANISM_LOCAL_STORAGE);
  store.destroy = NULL;
  CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_OK);
  h = open_with(options);
  sesh_options_free(options);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  CHECK(atomic_load(&m.destroyed) == 0);
  mem_free(&m);
}

/* ----- storageMechanism -------------------------------------------------------------------- */

static void test_storage_mechanism_in_entity(void) {
  static const struct {
    int32_t code;
    const char *name;
  } cases[] = {
      {SESH_STORAGE_MECHANISM_LOCAL_STORAGE, "LOCAL_STORAGE"},
      {SESH_STORAGE_MECHANISM_SQLITE, "SQLITE"},
      {SESH_STORAGE_MECHANISM_COOKIE1, "COOKIE_1"},
      {SESH_STORAGE_MECHANISM_COOKIE3, "COOKIE_3"},
      {SESH_STORAGE_MECHANISM_FLASH_LSO, "FLASH_LSO"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    TestClock clock;
    test_clock_init(&clock, T0);
    Recorder rec;
    recorder_clear(&rec);
    MemStore m;
    mem_init(&m);
    SeshOptions *options = options_for(&clock, &rec);
    SeshCustomStore store = mem_custom(&m, cases[i].code);
    CHECK_STATUS(sesh_options_set_store_custom(options, &store), SESH_STATUS_OK);
    SeshHandle *h = open_with(options);
    sesh_options_free(options);
    char *entity = NULL;
    CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_OK);
    if (!CHECK(json_str_is(entity, "storageMechanism", cases[i].name))) {
      fprintf(stderr, "  mechanism %d: %s\n", (int)cases[i].code, entity ? entity : "(null)");
    }
    sesh_string_free(entity);
    /* The start callback and the getter say the same. */
    CHECK(rec.starts == 1 && json_str_is(rec.json[0], "storageMechanism", cases[i].name));
    entity = NULL;
    CHECK_STATUS(sesh_session_get_entity(h, &entity), SESH_STATUS_OK);
    CHECK(json_str_is(entity, "storageMechanism", cases[i].name));
    sesh_string_free(entity);
    sesh_handle_free(h);
    CHECK(atomic_load(&m.destroyed) == 1);
    mem_free(&m);
  }
}

/* ----- a store that fails, returns garbage or nothing -------------------------------------- */

/* A store holding the user STORED_USER and a namespace state with `sessions` + 1
 * sessions, the last one running with one event, written by sesh itself. */
static void mem_fill(MemStore *m, TestClock *clock, int sessions) {
  mem_put(m, "sesh.user_id", STORED_USER);
  SeshOptions *options = options_on(clock, m);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  for (int i = 0; i < sessions; i++) {
    CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  }
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  sesh_handle_free(h);
  atomic_store(&m->destroyed, 0);
}

static void test_get_fails(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  LogRecorder log = {0};
  MemStore m;
  mem_init(&m);
  m.fail_get = 1;
  SeshOptions *options = options_on(&clock, &m);
  CHECK_STATUS(sesh_options_set_log_callback(options, log_record, &log), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_STORE_ERROR);
  CHECK(log.calls > 0);
  CHECK(log.last_level == SESH_LOG_LEVEL_WARN); /* "tracking in memory" follows the error */
  /* Tracking goes on in memory; nothing is written over records that could not be read. */
  m.fail_get = 0;
  CHECK(track_index(h, NULL) == 1);
  CHECK(track_index(h, NULL) == 2);
  CHECK(track_index(h, NULL) == 3);
  CHECK(session_index_of(h) == 1);
  CHECK(m.sets == 0);
  CHECK(mem_value(&m, "sesh.state.default") == NULL);
  sesh_handle_free(h);
  CHECK(atomic_load(&m.destroyed) == 1);
  mem_free(&m);

  /* Only the state cannot be read: the stored user stays. */
  mem_init(&m);
  mem_put(&m, "sesh.user_id", STORED_USER);
  m.fail_get_state = 1;
  options = options_on(&clock, &m);
  h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_STORE_ERROR);
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(user && strcmp(user, STORED_USER) == 0);
  sesh_string_free(user);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  mem_free(&m);
}

/* Opens on a store whose get of `key` hands back `len` bytes of `garbage`; the open works,
 * reports corrupt_state and starts clean, and tracking goes on. */
static void expect_corrupt(const char *key, const char *garbage, size_t len, bool user_kept) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  mem_fill(&m, &clock, 3);
  m.garbage_key = key;
  m.garbage = garbage;
  m.garbage_len = len;
  LogRecorder log = {0};
  Recorder rec;
  recorder_clear(&rec);
  SeshOptions *options = options_on(&clock, &m);
  CHECK_STATUS(sesh_options_set_log_callback(options, log_record, &log), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_start_callback(options, recorder_on_start, &rec),
               SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_end_callback(options, recorder_on_end, &rec),
               SESH_STATUS_OK);
  SeshHandle *h = NULL;
  if (!CHECK_STATUS(sesh_handle_open(options, &h), SESH_STATUS_OK)) {
    fprintf(stderr, "  garbage under %s: %.*s\n", key, (int)len, garbage ? garbage : "");
    sesh_options_free(options);
    mem_free(&m);
    return;
  }
  sesh_options_free(options);
  if (!CHECK(last_fault_of(h) == SESH_STATUS_CORRUPT_STATE)) {
    fprintf(stderr, "  garbage under %s: %.*s\n", key, (int)len, garbage ? garbage : "");
  }
  CHECK(log.calls > 0);
  /* Clean: no session goes on, none ended at open. */
  CHECK(event_index_of(h) == -1);
  CHECK(rec.ends == 0);
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(user));
  CHECK((user && strcmp(user, mem_value(&m, "sesh.user_id")) == 0));
  /* The clean state went to the store at open, under that user. */
  CHECK(json_str_is(mem_value(&m, "sesh.state.default"), "userId", user));
  CHECK(json_int(mem_value(&m, "sesh.state.default"), "sessionIndex") == 0);
  /* Tracking goes on from scratch: the state was unreadable. */
  CHECK(track_index(h, NULL) == 1);
  CHECK(session_index_of(h) == 1);
  if (user_kept) {
    CHECK(user && strcmp(user, STORED_USER) == 0);
  } else {
    CHECK(user && strcmp(user, STORED_USER) != 0);
  }
  sesh_string_free(user);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  sesh_handle_free(h);
  /* What was written over the garbage is readable again: a fresh open finds no fault. */
  m.garbage_key = NULL;
  options = options_on(&clock, &m);
  h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_OK);
  CHECK(session_index_of(h) == 1);
  CHECK(event_index_of(h) == 1);
  sesh_handle_free(h);
  mem_free(&m);
}

static void test_get_garbage(void) {
  static const char *const STATE_GARBAGE[] = {
      "not json",
      "",
      "{}",
      "[]",
      "null",
      "42",
      "{\"version\":1",
      /* wrong types */
      "{\"version\":1,\"userId\":5,\"sessionIndex\":\"2\",\"lastSessionId\":null,"
      "\"inBackground\":0,\"anonymous\":false,\"session\":null}",
      "{\"version\":\"1\",\"userId\":\"5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a91\",\"sessionIndex\":2,"
      "\"lastSessionId\":null,\"inBackground\":false,\"anonymous\":false,\"session\":null}",
      "{\"version\":1,\"userId\":\"5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a91\",\"sessionIndex\":-2,"
      "\"lastSessionId\":null,\"inBackground\":false,\"anonymous\":false,\"session\":null}",
      "{\"version\":1,\"userId\":\"5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a91\",\"sessionIndex\":2,"
      "\"lastSessionId\":null,\"inBackground\":false,\"anonymous\":false,\"session\":[]}",
      /* an id that is not a UUID */
      "{\"version\":1,\"userId\":\"5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a91\",\"sessionIndex\":1,"
      "\"lastSessionId\":\"nope\",\"inBackground\":false,\"anonymous\":false,\"session\":null}",
  };
  for (size_t i = 0; i < sizeof STATE_GARBAGE / sizeof STATE_GARBAGE[0]; i++) {
    expect_corrupt("sesh.state.default", STATE_GARBAGE[i], strlen(STATE_GARBAGE[i]), true);
  }
  /* Bytes that are not UTF-8, and a NUL inside the value. */
  static const char NOT_UTF8[] = "{\"version\":1,\xff\xfe\x80}";
  expect_corrupt("sesh.state.default", NOT_UTF8, sizeof NOT_UTF8 - 1, true);
  static const char WITH_NUL[] = "{}\0{}";
  expect_corrupt("sesh.state.default", WITH_NUL, sizeof WITH_NUL - 1, true);
  /* An unreadable user id: every namespace starts clean under a new one. */
  expect_corrupt("sesh.user_id", "not-a-uuid", 10, false);
  expect_corrupt("sesh.user_id", "\xc3\x28\xa0\xa1", 4, false);
  expect_corrupt("sesh.user_id", "", 0, false);
  static const char USER_NOT_UTF8[] = "5b0e7d7e-8a52-4a8e-9c3f-2d1f0e6b7a9\xe9";
  expect_corrupt("sesh.user_id", USER_NOT_UTF8, sizeof USER_NOT_UTF8 - 1, false);

  /* get returning SESH_STATUS_CORRUPT_STATE itself. */
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  m.corrupt_status = 1;
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_CORRUPT_STATE);
  CHECK(track_index(h, NULL) == 1);
  sesh_handle_free(h);
  mem_free(&m);
}

static void test_get_nothing_is_a_clean_start(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  LogRecorder log = {0};
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(&clock, &m);
  CHECK_STATUS(sesh_options_set_log_callback(options, log_record, &log), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_OK);
  CHECK(log.calls == 0);
  CHECK(event_index_of(h) == -1);
  CHECK(track_index(h, NULL) == 1);
  CHECK(session_index_of(h) == 1);
  /* The new user and state went to the store. */
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);
  CHECK(is_lower_uuid_v4(user));
  CHECK(user && mem_value(&m, "sesh.user_id") &&
        strcmp(mem_value(&m, "sesh.user_id"), user) == 0);
  const char *state = mem_value(&m, "sesh.state.default");
  CHECK(json_str_is(state, "userId", user));
  CHECK(json_int(state, "sessionIndex") == 1);
  sesh_string_free(user);
  CHECK(last_fault_of(h) == SESH_STATUS_OK);
  sesh_handle_free(h);
  mem_free(&m);
}

/* ----- a set that fails, then works: the write is retried ---------------------------------- */

static void test_set_fails_then_retries(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  LogRecorder log = {0};
  MemStore m;
  mem_init(&m);
  m.fail_set = 1;
  SeshOptions *options = options_on(&clock, &m);
  CHECK_STATUS(sesh_options_set_log_callback(options, log_record, &log), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  /* open writes the new user and state: that failed. */
  CHECK(m.failed_sets > 0);
  CHECK(last_fault_of(h) == SESH_STATUS_STORE_ERROR);
  CHECK(log.calls > 0);
  CHECK(log.last_level == SESH_LOG_LEVEL_ERROR);
  CHECK(strlen(log.last_message) > 0);
  /* Tracking goes on. */
  for (int i = 1; i <= 3; i++) {
    test_clock_set(&clock, T0 + 1000 * i);
    CHECK(track_index(h, NULL) == i);
  }
  CHECK(m.count == 0);
  CHECK(last_fault_of(h) == SESH_STATUS_STORE_ERROR);
  char session_id[37];
  CHECK(session_id_of(h, session_id));
  char *user = NULL;
  CHECK_STATUS(sesh_user_get_id(h, &user), SESH_STATUS_OK);

  /* The store works again: the next call writes what is pending. */
  m.fail_set = 0;
  int failed_before = m.failed_sets;
  test_clock_set(&clock, T0 + 4000);
  CHECK(track_index(h, NULL) == 4);
  CHECK(m.failed_sets == failed_before);
  CHECK(user && mem_value(&m, "sesh.user_id") &&
        strcmp(mem_value(&m, "sesh.user_id"), user) == 0);
  const char *state = mem_value(&m, "sesh.state.default");
  if (CHECK(state != NULL)) {
    CHECK(json_str_is(state, "userId", user));
    CHECK(json_int(state, "sessionIndex") == 1);
    CHECK(json_str_is(state, "id", session_id)); /* the session's id comes first */
    CHECK(json_int(state, "eventIndex") >= 4);   /* may reserve indexes ahead */
    CHECK(json_int(state, "lastActivity") == T0 + 4000);
  }
  /* close writes the exact state. */
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  state = mem_value(&m, "sesh.state.default");
  CHECK(json_int(state, "eventIndex") == 4);
  sesh_handle_free(h);
  sesh_string_free(user);

  /* A reopen continues it. */
  options = options_on(&clock, &m);
  h = open_with(options);
  sesh_options_free(options);
  CHECK(last_fault_of(h) == SESH_STATUS_OK);
  char reopened[37];
  CHECK(session_id_of(h, reopened) && strcmp(reopened, session_id) == 0);
  CHECK(track_index(h, NULL) == 5);
  sesh_handle_free(h);
  mem_free(&m);

  /* close while the store still fails: store_error, and closed all the same. */
  mem_init(&m);
  m.fail_set = 1;
  options = options_on(&clock, &m);
  h = open_with(options);
  sesh_options_free(options);
  CHECK(track_index(h, NULL) == 1);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_STORE_ERROR);
  char *entity = SENTINEL_STR;
  CHECK_STATUS(sesh_event_track(h, NULL, &entity), SESH_STATUS_CLOSED);
  CHECK(entity == SENTINEL_STR);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_CLOSED);
  sesh_handle_free(h);
  CHECK(atomic_load(&m.destroyed) == 1);
  mem_free(&m);
}

/* ----- sesh_store_sink_write --------------------------------------------------------------- */

static void test_sink_write_arguments(void) {
  CHECK_STATUS(sesh_store_sink_write(NULL, "x", 1), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_store_sink_write(NULL, NULL, 0), SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sesh_store_sink_write(NULL, NULL, 5), SESH_STATUS_NULL_ARGUMENT);

  /* Inside get: NULL data with a length is refused and changes nothing; NULL with 0 is an
   * empty value; the last write is the value. */
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  mem_fill(&m, &clock, 0);
  m.probe_sink = 1;
  m.probe_null_data = SENTINEL_STATUS;
  m.probe_empty = SENTINEL_STATUS;
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  CHECK_STATUS(m.probe_null_data, SESH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(m.probe_empty, SESH_STATUS_OK);
  /* The real value, written last, was read: the session goes on. */
  CHECK(last_fault_of(h) == SESH_STATUS_OK);
  CHECK(event_index_of(h) == 1);
  CHECK(track_index(h, NULL) == 2);
  sesh_handle_free(h);
  mem_free(&m);
}

/* ----- store callbacks that call sesh again ------------------------------------------------ */

static void on_watchdog(int signal_number) {
  (void)signal_number;
  static const char message[] = "test_custom_store: a store callback that calls sesh again "
                                "deadlocked\n";
  ssize_t ignored = write(2, message, sizeof message - 1);
  (void)ignored;
  _exit(3);
}

static void test_reentrant_store_callbacks(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  MemStore m;
  mem_init(&m);
  SeshOptions *options = options_on(&clock, &m);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  /* A deadlock ends the test (exit status 3) instead of hanging it. */
  alarm(60);

  /* Getters from get and set. */
  m.reenter = h;
  CHECK(track_index(h, NULL) == 1);
  char *event = NULL, *entity = NULL;
  CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
  sesh_string_free(event);
  sesh_string_free(entity);
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(track_index(h, NULL) == 1);
  CHECK(m.reentered > 0);

  /* An event tracked from inside set: sesh queues its write and does not wait for itself. */
  int reentered = m.reentered;
  m.reenter_track = 1;
  CHECK_STATUS(sesh_session_new(h), SESH_STATUS_OK);
  CHECK(m.reentered > reentered);
  CHECK(m.reenter_track == 0);
  int64_t index = event_index_of(h);
  CHECK(index == 1); /* the event tracked from set counted, in the new session */

  /* get runs only at open, before the handle exists: events never call it. */
  int gets = m.gets;
  int64_t next = track_index(h, NULL);
  CHECK(m.gets == gets);
  CHECK(next > index);
  m.reenter = NULL;
  alarm(0);

  /* Whatever was tracked from inside the callbacks reached the store. */
  int64_t last = event_index_of(h);
  CHECK(last >= next);
  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  const char *state = mem_value(&m, "sesh.state.default");
  CHECK(json_int(state, "eventIndex") == last);
  sesh_handle_free(h);
  mem_free(&m);
}

/* ----- the keys ---------------------------------------------------------------------------- */

static void expect_keys(const MemStore *m, const char *state_key) {
  CHECK(m->seen_overflow == 0);
  CHECK(m->seen_count == 2);
  bool user = false, state = false;
  for (int i = 0; i < m->seen_count; i++) {
    if (strcmp(m->seen[i], "sesh.user_id") == 0) {
      user = true;
    } else if (strcmp(m->seen[i], state_key) == 0) {
      state = true;
    } else {
      check_at(0, "only the user and state keys", __FILE__, __LINE__);
      fprintf(stderr, "  key \"%s\"\n", m->seen[i]);
    }
  }
  CHECK(user && state);
}

static void test_keys(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  const char *const namespaces[] = {NULL, "shop", "n\xc3\xa4me with spaces"};
  const char *const state_keys[] = {"sesh.state.default", "sesh.state.shop",
                                    "sesh.state.n\xc3\xa4me with spaces"};
  for (int i = 0; i < 3; i++) {
    MemStore m;
    mem_init(&m);
    SeshOptions *options = options_on(&clock, &m);
    if (namespaces[i]) {
      CHECK_STATUS(sesh_options_set_namespace(options, namespaces[i]), SESH_STATUS_OK);
    }
    SeshHandle *h = open_with(options);
    sesh_options_free(options);
    CHECK(track_index(h, NULL) == 1);
    char *event = NULL, *entity = NULL;
    CHECK_STATUS(sesh_app_background(h, NULL, &event, &entity), SESH_STATUS_OK);
    sesh_string_free(event);
    sesh_string_free(entity);
    CHECK_STATUS(sesh_user_reset(h), SESH_STATUS_OK);
    CHECK(track_index(h, NULL) == 1);
    CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
    sesh_handle_free(h);
    expect_keys(&m, state_keys[i]);
    /* Values: the user id as text, the state as JSON holding the same user. */
    const char *user = mem_value(&m, "sesh.user_id");
    CHECK(is_lower_uuid_v4(user));
    const char *state = mem_value(&m, state_keys[i]);
    CHECK(state && state[0] == '{' && json_str_is(state, "userId", user));
    mem_free(&m);
  }
}

int main(void) {
  signal(SIGALRM, on_watchdog);
  alarm(120);
  test_destroy_options_freed_before_handle();
  test_destroy_handle_freed_before_options();
  test_destroy_options_without_handle();
  test_destroy_two_handles_from_one_options();
  test_destroy_when_replaced();
  test_destroy_never_when_set_fails();
  test_storage_mechanism_in_entity();
  test_get_fails();
  test_get_garbage();
  test_get_nothing_is_a_clean_start();
  test_set_fails_then_retries();
  test_sink_write_arguments();
  test_reentrant_store_callbacks();
  test_keys();
  return CHECK_EXIT();
}
