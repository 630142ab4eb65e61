/* One handle, 8 threads, 2000 mixed calls each: tracks, background/foreground, getters,
 * new_session, pause/resume and check. Every call must return ok, and no two events of one
 * session may share an eventIndex. The injected clock moves 1 ms per reading, so readings
 * race the way a real clock's do. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

#define THREADS 8
#define CALLS 2000

typedef struct {
  char session_id[37];
  int64_t event_index;
} Seen;

typedef struct {
  atomic_int starts;
  atomic_int ends;
  /* Ends for a reason no call here should cause (timeout, clock_changed, ...). */
  atomic_int odd_ends;
} Counts;

typedef struct {
  SeshHandle *handle;
  uint32_t seed;
  int index;
  Seen seen[CALLS];
  int seen_count;
  int bad_status;
  int bad_json;
  int not_increasing;
} Worker;

static void on_start(void *user_data, const char *json) {
  Counts *counts = user_data;
  atomic_fetch_add(&counts->starts, 1);
  (void)json;
}

static void on_end(void *user_data, const char *json) {
  Counts *counts = user_data;
  atomic_fetch_add(&counts->ends, 1);
  if (!json_str_is(json, "reason", "new_session")) atomic_fetch_add(&counts->odd_ends, 1);
}

static void expect_ok(Worker *w, SeshStatus status, const char *what) {
  if (status != SESH_STATUS_OK) {
    if (w->bad_status++ < 5) {
      fprintf(stderr, "thread %d: %s returned %s\n", w->index, what, check_status_name(status));
    }
  }
}

/* Keeps the (sessionId, eventIndex) of an entity; a thread's own events in one session must
 * come with growing indexes. */
static void record_entity(Worker *w, const char *entity) {
  if (!entity) {
    w->bad_json++;
    return;
  }
  Seen *seen = &w->seen[w->seen_count];
  if (json_str(entity, "sessionId", seen->session_id, sizeof seen->session_id) != 1) {
    w->bad_json++;
    return;
  }
  seen->event_index = json_int(entity, "eventIndex");
  if (seen->event_index < 1) {
    w->bad_json++;
    return;
  }
  if (w->seen_count > 0) {
    const Seen *previous = &w->seen[w->seen_count - 1];
    if (strcmp(previous->session_id, seen->session_id) == 0 &&
        previous->event_index >= seen->event_index) {
      w->not_increasing++;
    }
  }
  w->seen_count++;
}

/* xorshift32: each thread its own sequence, no libc state shared. */
static uint32_t next_random(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static void *work(void *arg) {
  Worker *w = arg;
  SeshHandle *h = w->handle;
  for (int i = 0; i < CALLS; i++) {
    int pick = (int)(next_random(&w->seed) % 100);
    char *a = NULL, *b = NULL;
    int64_t n = 0;
    bool flag = false;
    if (pick < 45) {
      expect_ok(w, sesh_event_track(h, NULL, &a), "sesh_event_track");
      record_entity(w, a);
    } else if (pick < 50) {
      expect_ok(w, sesh_event_track_at(h, "0F8FAD5B-D9CB-469F-A165-70867728950E", T0, &a),
                "sesh_event_track_at");
      record_entity(w, a);
    } else if (pick < 60) {
      SeshStatus status = (pick & 1) ? sesh_app_background(h, NULL, &a, &b)
                                     : sesh_app_foreground(h, NULL, &a, &b);
      expect_ok(w, status, "sesh_app_background/foreground");
      /* Both NULL when the state did not change; else both written. */
      if ((a == NULL) != (b == NULL)) w->bad_json++;
      if (b) record_entity(w, b);
    } else if (pick < 63) {
      expect_ok(w, sesh_session_new(h), "sesh_session_new");
    } else if (pick < 66) {
      expect_ok(w, sesh_session_pause(h), "sesh_session_pause");
    } else if (pick < 69) {
      expect_ok(w, sesh_session_resume(h), "sesh_session_resume");
    } else if (pick < 71) {
      expect_ok(w, sesh_session_check(h), "sesh_session_check");
    } else if (pick < 75) {
      expect_ok(w, sesh_session_get_id(h, &a), "sesh_session_get_id");
      if (!is_lower_uuid_v4(a)) w->bad_json++;
    } else if (pick < 78) {
      expect_ok(w, sesh_session_get_index(h, &n), "sesh_session_get_index");
      if (n < 1) w->bad_json++;
    } else if (pick < 81) {
      expect_ok(w, sesh_session_get_event_index(h, &n), "sesh_session_get_event_index");
      if (n < 0) w->bad_json++;
    } else if (pick < 84) {
      expect_ok(w, sesh_session_get_entity(h, &a), "sesh_session_get_entity");
      if (!a || json_int(a, "sessionIndex") < 1) w->bad_json++;
    } else if (pick < 86) {
      expect_ok(w, sesh_session_get_previous_id(h, &a), "sesh_session_get_previous_id");
    } else if (pick < 88) {
      expect_ok(w, sesh_session_get_background_index(h, &n), "sesh_session_get_background_index");
      expect_ok(w, sesh_session_get_foreground_index(h, &n), "sesh_session_get_foreground_index");
    } else if (pick < 90) {
      expect_ok(w, sesh_session_get_first_event_id(h, &a), "sesh_session_get_first_event_id");
      expect_ok(w, sesh_session_get_first_event_timestamp(h, &b),
                "sesh_session_get_first_event_timestamp");
    } else if (pick < 93) {
      expect_ok(w, sesh_app_get_in_background(h, &flag), "sesh_app_get_in_background");
    } else if (pick < 96) {
      expect_ok(w, sesh_user_get_id(h, &a), "sesh_user_get_id");
      if (!is_lower_uuid_v4(a)) w->bad_json++;
    } else {
      SeshStatus fault = SENTINEL_STATUS;
      expect_ok(w, sesh_handle_get_last_fault(h, &fault), "sesh_handle_get_last_fault");
      if (fault != SESH_STATUS_OK) w->bad_json++;
    }
    sesh_string_free(a);
    sesh_string_free(b);
  }
  return NULL;
}

static int compare_seen(const void *x, const void *y) {
  const Seen *a = x, *b = y;
  int by_id = strcmp(a->session_id, b->session_id);
  if (by_id) return by_id;
  return (a->event_index > b->event_index) - (a->event_index < b->event_index);
}

int main(void) {
  TestClock clock;
  test_clock_init(&clock, T0);
  atomic_store(&clock.step, 1);
  Counts counts;
  atomic_init(&counts.starts, 0);
  atomic_init(&counts.ends, 0);
  atomic_init(&counts.odd_ends, 0);

  SeshOptions *options = options_for(&clock, NULL);
  CHECK_STATUS(sesh_options_set_session_start_callback(options, on_start, &counts), SESH_STATUS_OK);
  CHECK_STATUS(sesh_options_set_session_end_callback(options, on_end, &counts), SESH_STATUS_OK);
  SeshHandle *h = open_with(options);
  sesh_options_free(options);
  /* A session from the start, so that every getter has one to show. */
  CHECK(track_index(h, NULL) == 1);

  static Worker workers[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t].handle = h;
    workers[t].seed = 0x5e5u + (uint32_t)t * 7919u;
    workers[t].index = t;
    CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);

  static Seen all[THREADS * CALLS];
  size_t total = 0;
  for (int t = 0; t < THREADS; t++) {
    CHECK(workers[t].bad_status == 0);
    CHECK(workers[t].bad_json == 0);
    CHECK(workers[t].not_increasing == 0);
    CHECK(workers[t].seen_count > CALLS / 3);
    memcpy(&all[total], workers[t].seen, (size_t)workers[t].seen_count * sizeof(Seen));
    total += (size_t)workers[t].seen_count;
  }

  /* No (sessionId, eventIndex) twice. */
  qsort(all, total, sizeof all[0], compare_seen);
  int duplicates = 0, sessions = total > 0;
  for (size_t i = 1; i < total; i++) {
    if (strcmp(all[i - 1].session_id, all[i].session_id) != 0) {
      sessions++;
    } else if (all[i - 1].event_index == all[i].event_index) {
      if (duplicates++ < 5) {
        fprintf(stderr, "eventIndex %lld twice in session %s\n", (long long)all[i].event_index,
                all[i].session_id);
      }
    }
  }
  CHECK(duplicates == 0);
  /* Sessions came and went: every start but the running one's has its end, and only
   * new_session ended any (the clock never went back, nothing timed out). */
  int starts = atomic_load(&counts.starts), ends = atomic_load(&counts.ends);
  CHECK(sessions > 1);
  CHECK(starts >= sessions);
  CHECK(ends == starts - 1);
  CHECK(atomic_load(&counts.odd_ends) == 0);
  fprintf(stderr, "%zu events in %d sessions (%d started, %d ended)\n", total, sessions, starts,
          ends);

  CHECK_STATUS(sesh_handle_close(h), SESH_STATUS_OK);
  sesh_handle_free(h);
  return CHECK_EXIT();
}
