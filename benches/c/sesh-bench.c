/* sesh-bench: the targets of the issue "Performance", measured through the C ABI only.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench -j2 --target sesh-bench
 *   ./build-bench/benches/c/sesh-bench            # the table (about a minute)
 *   ./build-bench/benches/c/sesh-bench --quick    # a few iterations: the ctest bench_smoke
 *   ./build-bench/benches/c/sesh-bench --case renew_sqlite --quick   # one case, to profile
 *
 * The machines this runs on are shared, so a time alone says little: every timed figure is
 * printed beside a baseline measured in the same run (the memory store's per-event time,
 * one thread's or one process's throughput, the open alone) and judged by its ratio to it.
 * Counts (transactions and pages per renewal) and sizes (heap, library) are judged as they
 * are. A target missed prints MISS; the exit status is 1 only when the run itself broke (a
 * sesh call failed, a child process died), never for a MISS.
 *
 * Every timed case runs on an injected clock (sesh_options_set_clock) that moves a fixed
 * step per reading, so that the session rules see the same time whatever the machine: 1 ms
 * per event for "in a running session", past the 30-minute timeout for "starts a new
 * session"; the cases with several threads or processes use a clock that stands still. A
 * figure is the median over --runs runs (7 by default) of the mean cost in each run, in
 * wall-clock time; the note gives the thread's CPU time too ("cpu"), which the load of other
 * processes on the machine does not inflate.
 *
 * Heap figures come from glibc's mallinfo2(). The SQLite rows split a handle's heap with
 * SQLite's own accounting (sqlite3_status64, sqlite3_db_status), and the renewal's pages
 * are counted by a VFS shim that wraps SQLite's default VFS: the bundled SQLite is part of
 * cargo's libsesh.a (which CMake links the bench with; the libsesh.a it hands out keeps
 * those symbols local), and the bench reaches it through weak declarations, for
 * measurement only. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sesh.h"

#ifndef SESH_BENCH_LIBRARY
#define SESH_BENCH_LIBRARY ""
#endif
#ifndef SESH_BENCH_STRIP
#define SESH_BENCH_STRIP "strip"
#endif

extern char **environ;

/* ----- the bundled SQLite, for attribution only ----------------------------------------- */

typedef struct sqlite3 sqlite3;
__attribute__((weak)) int sqlite3_open_v2(const char *path, sqlite3 **db, int flags,
                                          const char *vfs);
typedef int (*SqliteRowFn)(void *arg, int columns, char **values, char **names);
__attribute__((weak)) int sqlite3_exec(sqlite3 *db, const char *sql, SqliteRowFn callback,
                                       void *arg, char **error);
__attribute__((weak)) int sqlite3_close(sqlite3 *db);
__attribute__((weak)) int sqlite3_status64(int op, long long *current, long long *highwater,
                                           int reset);
__attribute__((weak)) int sqlite3_db_status(sqlite3 *db, int op, int *current, int *highwater,
                                            int reset);
typedef struct sqlite3_stmt sqlite3_stmt;
__attribute__((weak)) int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int bytes,
                                             sqlite3_stmt **statement, const char **tail);
__attribute__((weak)) int sqlite3_bind_text(sqlite3_stmt *statement, int index,
                                            const char *text, int bytes,
                                            void (*destructor)(void *));
__attribute__((weak)) int sqlite3_step(sqlite3_stmt *statement);
__attribute__((weak)) int sqlite3_reset(sqlite3_stmt *statement);
__attribute__((weak)) int sqlite3_finalize(sqlite3_stmt *statement);
#define BENCH_SQLITE_OPEN_READWRITE 0x00000002
#define BENCH_SQLITE_OPEN_CREATE 0x00000004
#define BENCH_SQLITE_DONE 101
#define BENCH_SQLITE_STATUS_MEMORY_USED 0
#define BENCH_SQLITE_DBSTATUS_CACHE_USED 1

static bool sqlite_reachable(void) {
  return sqlite3_open_v2 && sqlite3_exec && sqlite3_close && sqlite3_status64 &&
         sqlite3_db_status;
}

/* The VFS and file method tables, as sqlite3.h declares them; only the members the shim
 * reads or replaces are named, the rest are copied as they are. */
typedef struct sqlite3_file sqlite3_file;
typedef struct {
  int iVersion;
  int (*xClose)(sqlite3_file *);
  int (*xRead)(sqlite3_file *, void *, int amount, long long offset);
  int (*xWrite)(sqlite3_file *, const void *, int amount, long long offset);
  void *other[15]; /* xTruncate ... xUnfetch (version 3) */
} BenchIoMethods;
struct sqlite3_file {
  const BenchIoMethods *methods;
};
typedef struct BenchVfs BenchVfs;
struct BenchVfs {
  int iVersion;
  int szOsFile;
  int mxPathname;
  BenchVfs *pNext;
  const char *zName;
  void *pAppData;
  int (*xOpen)(BenchVfs *, const char *name, sqlite3_file *, int flags, int *out_flags);
  void *other[15]; /* xDelete ... xNextSystemCall (version 3) */
};
__attribute__((weak)) BenchVfs *sqlite3_vfs_find(const char *name);
__attribute__((weak)) int sqlite3_vfs_register(BenchVfs *vfs, int make_default);
__attribute__((weak)) int sqlite3_vfs_unregister(BenchVfs *vfs);
#define BENCH_SQLITE_OPEN_MAIN_DB 0x00000100
#define BENCH_SQLITE_OPEN_WAL 0x00080000
#define BENCH_WAL_FRAME_HEADER 24

static long long sqlite_memory_used(void) {
  long long current = 0, highwater = 0;
  if (sqlite3_status64) sqlite3_status64(BENCH_SQLITE_STATUS_MEMORY_USED, &current, &highwater, 0);
  return current;
}

/* ----- counting what SQLite writes --------------------------------------------------------- */

/* A shim over the default VFS: files it opens are the default VFS's own (same structure,
 * same methods) with one int more behind them (what kind of file), and a method table
 * whose xWrite counts before it calls the real one. What it counts: WAL frames (a frame is
 * written as its 24-byte header, then its page), commit frames among them (a commit
 * frame's header names the database size, other frames 0), and pages written to the
 * database file itself (checkpoints). */
typedef struct {
  long long wal_frames, wal_commits, db_pages;
} WriteCounts;

static WriteCounts write_counts;
static BenchVfs shim_vfs, *real_vfs;
static int real_file_size;

/* What the shim keeps behind the default VFS's file structure. */
typedef struct {
  const BenchIoMethods *real;
  int kind;
} ShimFile;

/* A method table per table of the default VFS (it has one for database files, another for
 * journals and WAL files), each its copy with xWrite replaced. */
#define SHIM_TABLES 4
static const BenchIoMethods *real_tables[SHIM_TABLES];
static BenchIoMethods shim_tables[SHIM_TABLES];

/* Whether the shim is SQLite's default VFS now. */
static bool counting_writes;

static ShimFile *shim_file(sqlite3_file *file) {
  return (ShimFile *)((char *)file + real_file_size);
}

static int shim_write(sqlite3_file *file, const void *data, int amount, long long offset) {
  const ShimFile *shim = shim_file(file);
  if (shim->kind == BENCH_SQLITE_OPEN_WAL && amount == BENCH_WAL_FRAME_HEADER) {
    const unsigned char *header = data;
    write_counts.wal_frames++;
    if (header[4] | header[5] | header[6] | header[7]) write_counts.wal_commits++;
  } else if (shim->kind == BENCH_SQLITE_OPEN_MAIN_DB) {
    write_counts.db_pages++;
  }
  return shim->real->xWrite(file, data, amount, offset);
}

static int shim_open(BenchVfs *vfs, const char *name, sqlite3_file *file, int flags,
                     int *out_flags) {
  (void)vfs;
  int rc = real_vfs->xOpen(real_vfs, name, file, flags, out_flags);
  ShimFile *shim = shim_file(file);
  shim->real = file->methods;
  shim->kind = flags & (BENCH_SQLITE_OPEN_MAIN_DB | BENCH_SQLITE_OPEN_WAL);
  if (rc == 0 && file->methods) {
    for (int i = 0; i < SHIM_TABLES; i++) {
      if (!real_tables[i]) {
        real_tables[i] = file->methods;
        shim_tables[i] = *file->methods;
        shim_tables[i].xWrite = shim_write;
      }
      if (real_tables[i] == file->methods) {
        file->methods = &shim_tables[i];
        break;
      }
    }
    /* A fifth kind of table would stay as it is, its writes not counted. */
  }
  return rc;
}

/* Makes the counting shim SQLite's default VFS (until count_writes_stop). */
static bool count_writes_start(void) {
  if (!sqlite3_vfs_find || !sqlite3_vfs_register || !sqlite3_vfs_unregister) return false;
  if (!real_vfs) {
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 3) {
      real_vfs = NULL;
      return false;
    }
    shim_vfs = *real_vfs;
    real_file_size = (real_vfs->szOsFile + 15) / 16 * 16;
    shim_vfs.szOsFile = real_file_size + (int)sizeof(ShimFile);
    shim_vfs.zName = "sesh-bench-count";
    shim_vfs.pNext = NULL;
    shim_vfs.xOpen = shim_open;
  }
  counting_writes = sqlite3_vfs_register(&shim_vfs, 1) == 0;
  return counting_writes;
}

static void count_writes_stop(void) {
  if (counting_writes) {
    counting_writes = false;
    sqlite3_vfs_unregister(&shim_vfs);
    sqlite3_vfs_register(real_vfs, 1);
  }
}

/* ----- settings --------------------------------------------------------------------------- */

#define T0 INT64_C(1700000000000)
#define STEP_IN_SESSION_MS 1
#define STEP_SPARSE_MS 1000
/* Past the default 1800 s timeout: every event renews. */
#define STEP_RENEW_MS INT64_C(1800001)
#define THREADS 8

typedef struct {
  bool quick;
  int runs;
  const char *only; /* comma-separated case names, or NULL for all */
  const char *library;
  const char *strip;
  char dir[256];
} Settings;

static Settings settings;
static int failures;

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("sesh-bench: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  failures++;
}

/* Iterations per run: `full` normally, `full / 100` (at least 20) with --quick. */
static long iterations(long full) {
  if (!settings.quick) return full;
  long quick = full / 100;
  return quick < 20 ? 20 : quick;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread, user and system: what the machine's load does not inflate
 * (but time spent waiting, e.g. in fsync, does not count either). */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, int count) {
  qsort(values, (size_t)count, sizeof *values, compare_double);
  return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

/* ----- the rows ----------------------------------------------------------------------------- */

typedef enum { UNIT_NS, UNIT_US, UNIT_EVENTS_PER_S, UNIT_COUNT, UNIT_BYTES } Unit;
typedef enum { TARGET_NONE, TARGET_AT_MOST, TARGET_AT_LEAST } TargetKind;
typedef enum { ROW_SKIPPED, ROW_MEASURED, ROW_NOT_MEASURED } RowState;

typedef struct {
  const char *name;
  const char *group; /* what --case selects */
  Unit unit;
  /* The row this one is divided by, measured in the same run; NULL for a baseline itself
   * and for the rows judged as they are (counts, sizes). */
  const char *baseline;
  TargetKind target_kind;
  double target; /* on the ratio to the baseline when there is one, else on the value */
  const char *target_text;
  const char *what;
  RowState state;
  double value;
  char note[256];
} Row;

/* Every field the table does not name starts empty: not measured yet, no note. */
#define ROW(name_, group_, unit_, baseline_, kind_, target_, target_text_, what_)            \
  {.name = name_, .group = group_, .unit = unit_, .baseline = baseline_, .target_kind = kind_, \
   .target = target_, .target_text = target_text_, .what = what_}

/* The targets the issue "Performance" states as ratios. A renewal, which is one SQLite
 * transaction, and an open, which opens SQLite, are judged against what SQLite alone does for
 * them in the same run. */
static Row rows[] = {
    ROW("track_memory", "track_memory", UNIT_NS, NULL, TARGET_NONE, 0, "baseline",
        "event in a running session, memory store, sesh_event_track + sesh_string_free"),
    ROW("track_into_memory", "track_into_memory", UNIT_NS, "track_memory", TARGET_NONE, 0, "-",
        "event in a running session, memory store, sesh_event_track_into (caller buffer)"),
    ROW("track_sqlite", "track_sqlite", UNIT_NS, "track_memory", TARGET_AT_MOST, 1.5, "<= 1.50",
        "event in a running session, SQLite file (coordination file, exact kill rule), "
        "continue_on_restart on, 1 ms apart"),
    ROW("track_into_sqlite", "track_into_sqlite", UNIT_NS, "track_into_memory", TARGET_NONE, 0,
        "-", "as track_sqlite, with sesh_event_track_into"),
    ROW("track_sqlite_1s", "track_sqlite_1s", UNIT_NS, "track_memory", TARGET_NONE, 0, "-",
        "as track_sqlite, 1 s apart"),
    ROW("session_new_memory", "session_new_memory", UNIT_NS, "track_memory", TARGET_AT_MOST, 10,
        "<= 10.00", "sesh_session_new + one event, memory store"),
    ROW("sqlite_commit", "renew_sqlite", UNIT_NS, NULL, TARGET_NONE, 0, "baseline",
        "SQLite alone: one transaction writing one row like sesh's state (prepared statements, "
        "WAL, synchronous=NORMAL)"),
    ROW("renew_sqlite", "renew_sqlite", UNIT_NS, "sqlite_commit", TARGET_AT_MOST, 2, "<= 2.00",
        "event that starts a new session (clock past the timeout), SQLite file"),
    ROW("renew_sqlite_commits", "renew_sqlite", UNIT_COUNT, NULL, TARGET_AT_MOST, 1, "<= 1.00",
        "  SQLite transactions per renewal (WAL commit frames, counted by a VFS shim)"),
    ROW("renew_sqlite_pages", "renew_sqlite", UNIT_COUNT, NULL, TARGET_NONE, 0, "-",
        "  pages written per renewal (WAL frames; checkpoints' pages in the note)"),
    ROW("sqlite_open", "open_sqlite", UNIT_US, NULL, TARGET_NONE, 0, "baseline",
        "SQLite alone on that file: open, read the journal mode and the state row, close"),
    ROW("open_sqlite", "open_sqlite", UNIT_US, "sqlite_open", TARGET_AT_MOST, 2, "<= 2.00",
        "sesh_handle_open on an existing SQLite file, restoring its session"),
    ROW("open_track_sqlite", "open_sqlite", UNIT_US, "open_sqlite", TARGET_AT_MOST, 2, "<= 2.00",
        "sesh_handle_open as open_sqlite + the first event, against the open alone"),
    ROW("procs_1", "procs", UNIT_EVENTS_PER_S, NULL, TARGET_NONE, 0, "baseline",
        "1 process tracking on an SQLite namespace (its own handle, track + free)"),
    ROW("procs_2", "procs", UNIT_EVENTS_PER_S, "procs_1", TARGET_AT_LEAST, 1.0, ">= 1.00",
        "2 processes tracking on that namespace at once, throughput together"),
    ROW("threads_1", "threads", UNIT_EVENTS_PER_S, NULL, TARGET_NONE, 0, "baseline",
        "1 thread tracking on one handle (memory store, track + free)"),
    ROW("threads_8", "threads", UNIT_EVENTS_PER_S, "threads_1", TARGET_AT_LEAST, 0.9, ">= 0.90",
        "8 threads tracking on that handle at once, throughput together"),
    ROW("heap_memory", "heap", UNIT_BYTES, NULL, TARGET_AT_MOST, 65536, "<= 64 KiB",
        "heap per open handle, memory store (open + 1 event)"),
    ROW("heap_sqlite", "heap", UNIT_BYTES, NULL, TARGET_NONE, 0, "-",
        "heap per open handle, SQLite file (open + 1 event), everything"),
    ROW("heap_sqlite_page_cache", "heap", UNIT_BYTES, NULL, TARGET_NONE, 0, "-",
        "  of which SQLite's page cache (sqlite3_db_status CACHE_USED, every table read)"),
    ROW("heap_sqlite_beyond_cache", "heap", UNIT_BYTES, NULL, TARGET_AT_MOST, 65536, "<= 64 KiB",
        "  heap per SQLite handle beyond SQLite's page cache"),
    ROW("heap_sqlite_sqlite_other", "heap", UNIT_BYTES, NULL, TARGET_NONE, 0, "-",
        "    of which SQLite besides its page cache (connection, lookaside, schema, statements)"),
    ROW("heap_sqlite_sesh", "heap", UNIT_BYTES, NULL, TARGET_NONE, 0, "-",
        "    of which sesh itself (engine, tracker, handle)"),
    ROW("lib_stripped", "lib", UNIT_BYTES, NULL, TARGET_AT_MOST, 2500000, "<= 2.5 MB",
        "libsesh.so, stripped, x86-64, bundled SQLite (strip -o copy)"),
};
#define ROW_COUNT (sizeof rows / sizeof rows[0])

static Row *row(const char *name) {
  for (size_t i = 0; i < ROW_COUNT; i++) {
    if (strcmp(rows[i].name, name) == 0) return &rows[i];
  }
  fprintf(stderr, "sesh-bench: no row %s\n", name);
  abort();
}

static void set_row(const char *name, double value) {
  Row *r = row(name);
  r->state = ROW_MEASURED;
  r->value = value;
}

static void not_measured(const char *name, const char *why) {
  Row *r = row(name);
  r->state = ROW_NOT_MEASURED;
  snprintf(r->note, sizeof r->note, "not measured: %s", why);
}

static void note(const char *name, const char *format, ...) {
  Row *r = row(name);
  va_list args;
  va_start(args, format);
  vsnprintf(r->note, sizeof r->note, format, args);
  va_end(args);
}

static bool selected(const char *group) {
  if (!settings.only) return true;
  size_t length = strlen(group);
  for (const char *at = settings.only; *at;) {
    const char *end = strchr(at, ',');
    size_t n = end ? (size_t)(end - at) : strlen(at);
    if (n == length && strncmp(at, group, n) == 0) return true;
    if (!end) break;
    at = end + 1;
  }
  return false;
}

/* A figure in the unit its ratio is taken in: times in ns (a row in us against one in ns). */
static double comparable(const Row *r) { return r->unit == UNIT_US ? r->value * 1000 : r->value; }

static void format_value(const Row *r, double value, char *out, size_t size) {
  switch (r->unit) {
    case UNIT_NS: snprintf(out, size, "%.0f ns", value); break;
    case UNIT_US: snprintf(out, size, "%.1f us", value); break;
    case UNIT_EVENTS_PER_S: snprintf(out, size, "%.2f M/s", value / 1e6); break;
    case UNIT_COUNT: snprintf(out, size, "%.2f", value); break;
    case UNIT_BYTES: snprintf(out, size, "%.0f B", value); break;
  }
}

/* One line per row, columns two spaces apart at least (scripts/bench-table reads them):
 * case, measured, baseline, the baseline's figure, ratio, target, result, what [note].
 * result: pass or MISS against the target, info when there is none, base for a baseline,
 * n/a when it could not be measured, skip when not selected. */
static void print_table(void) {
  printf("%-25s  %12s  %-17s  %12s  %7s  %-9s  %-6s  %s\n", "case", "measured", "baseline",
         "baseline is", "ratio", "target", "result", "what");
  for (size_t i = 0; i < ROW_COUNT; i++) {
    const Row *r = &rows[i];
    const Row *base = r->baseline ? row(r->baseline) : NULL;
    char value[32] = "-", base_value[32] = "-", ratio_text[32] = "-";
    const char *result = "n/a";
    if (r->state == ROW_MEASURED) {
      format_value(r, r->value, value, sizeof value);
      double judged = r->value;
      bool judge = true;
      if (base) {
        if (base->state == ROW_MEASURED && base->value > 0) {
          format_value(base, base->value, base_value, sizeof base_value);
          judged = comparable(r) / comparable(base);
          snprintf(ratio_text, sizeof ratio_text, "%.2f", judged);
        } else {
          judge = false; /* the baseline was not measured in this run: nothing to judge by */
        }
      }
      if (!judge) result = "n/a";
      else if (r->target_kind == TARGET_AT_MOST) result = judged <= r->target ? "pass" : "MISS";
      else if (r->target_kind == TARGET_AT_LEAST) result = judged >= r->target ? "pass" : "MISS";
      else result = r->baseline ? "info" : (strcmp(r->target_text, "baseline") == 0 ? "base" : "info");
    } else if (r->state == ROW_SKIPPED) {
      result = "skip";
    }
    printf("%-25s  %12s  %-17s  %12s  %7s  %-9s  %-6s  %s", r->name, value,
           r->baseline ? r->baseline : "-", base_value, ratio_text, r->target_text, result,
           r->what);
    if (r->note[0]) printf(" [%s]", r->note);
    putchar('\n');
  }
}

/* ----- the clock, the temporary directory, opening handles ------------------------------ */

/* One thread reads it at a time (the single-threaded cases): a plain counter. */
typedef struct {
  int64_t now;
  int64_t step;
} StepClock;

static int64_t step_clock_read(void *user_data) {
  StepClock *clock = user_data;
  clock->now += clock->step;
  return clock->now;
}

/* Read by many threads at once: time stands still, so the clock itself never contends. */
static int64_t frozen_clock_read(void *user_data) { return *(const int64_t *)user_data; }

static void temp_path(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", settings.dir, name);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static bool ok(SeshStatus status, const char *what) {
  if (status == SESH_STATUS_OK) return true;
  const char *name = sesh_status_name(status);
  fail("%s returned %s", what, name ? name : "an unknown status");
  return false;
}

/* Options on `clock`; `sqlite_name` NULL for the memory store. */
static SeshOptions *make_options(SeshClockFn clock, void *clock_data, const char *sqlite_name) {
  SeshOptions *options = NULL;
  if (!ok(sesh_options_new(&options), "sesh_options_new")) return NULL;
  bool good = ok(sesh_options_set_clock(options, clock, clock_data), "sesh_options_set_clock") &&
              ok(sesh_options_set_continue_on_restart(options, true), "set_continue_on_restart");
  if (good && sqlite_name) {
    char path[512];
    temp_path(path, sizeof path, sqlite_name);
    good = ok(sesh_options_set_store_sqlite(options, path), "sesh_options_set_store_sqlite");
  }
  if (!good) {
    sesh_options_free(options);
    return NULL;
  }
  return options;
}

static SeshHandle *open_handle(const SeshOptions *options) {
  SeshHandle *handle = NULL;
  if (!options || !ok(sesh_handle_open(options, &handle), "sesh_handle_open")) return NULL;
  return handle;
}

static bool track_once(SeshHandle *handle) {
  char *entity = NULL;
  bool good = ok(sesh_event_track(handle, NULL, &entity), "sesh_event_track");
  sesh_string_free(entity);
  return good;
}

static int64_t session_index(SeshHandle *handle) {
  int64_t index = -1;
  ok(sesh_session_get_index(handle, &index), "sesh_session_get_index");
  return index;
}

/* ----- per-event cases ---------------------------------------------------------------------- */

typedef enum { WITH_TRACK, WITH_TRACK_INTO } Call;

/* One event; false when it failed. */
static inline bool one_event(SeshHandle *handle, Call call) {
  if (call == WITH_TRACK) {
    char *entity = NULL;
    SeshStatus status = sesh_event_track(handle, NULL, &entity);
    if (status != SESH_STATUS_OK) return ok(status, "sesh_event_track");
    sesh_string_free(entity);
  } else {
    char buffer[SESH_MAX_ENTITY_SIZE];
    size_t length = 0;
    SeshStatus status = sesh_event_track_into(handle, NULL, buffer, sizeof buffer, &length);
    if (status != SESH_STATUS_OK) return ok(status, "sesh_event_track_into");
  }
  return true;
}

/* Runs `count` events; false when one failed. With `latencies`, times each event into it. */
static bool run_events(SeshHandle *handle, Call call, long count, double *latencies) {
  for (long i = 0; i < count; i++) {
    uint64_t start = latencies ? now_ns() : 0;
    if (!one_event(handle, call)) return false;
    if (latencies) latencies[i] = (double)(now_ns() - start);
  }
  return true;
}

/* Median ns per event of `runs` runs of `count` events each. Every event must stay in the
 * session (`renews` false) or start a new one (`renews` true): checked by the index. With
 * `sample`, each event is timed too (two clock_gettime calls more per event), and the note
 * gives the median, p99 and maximum of single events: the row is the mean, writes to the
 * store and SQLite's checkpoints included; the median event is the typical one. */
static void per_event_case(const char *name, const char *sqlite_name, Call call, int64_t step,
                           long count, bool renews, bool sample) {
  if (!selected(row(name)->group)) return;
  StepClock clock = {T0, step};
  SeshOptions *options = make_options(step_clock_read, &clock, sqlite_name);
  SeshHandle *handle = open_handle(options);
  sesh_options_free(options);
  double *latencies = sample ? calloc((size_t)(count * settings.runs), sizeof *latencies) : NULL;
  if (!handle || (sample && !latencies)) {
    not_measured(name, "cannot open a handle");
    free(latencies);
    if (handle) sesh_handle_free(handle);
    return;
  }
  double per_run[64], cpu_per_run[64];
  WriteCounts written = {0, 0, 0};
  bool good = run_events(handle, call, count / 10 + 1, NULL); /* warm up; opens the session */
  /* Each run holds one more block of an entity's size, so that the string sesh allocates
   * for each entity (malloc hands the same one back event after event) sits at another heap
   * address: an event's time varies with that address by up to half, for every store alike
   * (measured: 77-131 ns on the memory store over 12 addresses), and a median over one
   * address would be a draw. */
  void *shifts[64];
  int shifted = 0;
  size_t entity_size = SESH_MAX_ENTITY_SIZE;
  char *entity = NULL;
  if (good && ok(sesh_session_get_entity(handle, &entity), "sesh_session_get_entity") &&
      entity) {
    entity_size = strlen(entity) + 1; /* malloc's size class of the strings to move */
  }
  sesh_string_free(entity);
  for (int run = 0; good && run < settings.runs; run++) {
    if (run > 0) shifts[shifted++] = malloc(entity_size);
    int64_t index_before = session_index(handle);
    WriteCounts before = write_counts;
    uint64_t start = now_ns(), cpu_start = cpu_ns();
    good = run_events(handle, call, count, sample ? latencies + run * count : NULL);
    uint64_t elapsed = now_ns() - start;
    cpu_per_run[run] = (double)(cpu_ns() - cpu_start) / (double)count;
    written.wal_frames += write_counts.wal_frames - before.wal_frames;
    written.wal_commits += write_counts.wal_commits - before.wal_commits;
    written.db_pages += write_counts.db_pages - before.db_pages;
    int64_t index_after = session_index(handle);
    int64_t expected = renews ? index_before + count : index_before;
    if (good && index_after != expected) {
      fail("%s: session index went from %lld to %lld, expected %lld", name,
           (long long)index_before, (long long)index_after, (long long)expected);
      good = false;
    }
    per_run[run] = (double)elapsed / (double)count;
  }
  if (good) {
    set_row(name, median(per_run, settings.runs));
    double cpu = median(cpu_per_run, settings.runs);
    if (sample) {
      long all = count * settings.runs;
      double middle = median(latencies, (int)all); /* sorts them */
      note(name,
           "cpu %.0f ns; mean of %ld events x %d runs; single events: median %.0f ns, "
           "p99 %.0f ns, max %.0f ns",
           cpu, count, settings.runs, middle, latencies[all * 99 / 100], latencies[all - 1]);
    } else {
      note(name, "cpu %.0f ns; mean of %ld events x %d runs", cpu, count, settings.runs);
    }
  } else {
    not_measured(name, "a call failed");
  }
  if (renews && sqlite_name) {
    double events = (double)count * settings.runs;
    if (!good) {
      not_measured("renew_sqlite_commits", "a call failed");
      not_measured("renew_sqlite_pages", "a call failed");
    } else if (!counting_writes) {
      not_measured("renew_sqlite_commits", "no VFS shim: the bundled SQLite is not reachable");
      not_measured("renew_sqlite_pages", "no VFS shim: the bundled SQLite is not reachable");
    } else {
      set_row("renew_sqlite_commits", (double)written.wal_commits / events);
      set_row("renew_sqlite_pages", (double)written.wal_frames / events);
      note("renew_sqlite_commits", "%lld commits over %.0f renewals", written.wal_commits,
           events);
      note("renew_sqlite_pages",
           "%lld WAL frames over %.0f renewals; checkpoints wrote %.3f database pages per "
           "renewal",
           written.wal_frames, events, (double)written.db_pages / events);
    }
  }
  free(latencies);
  for (int i = 0; i < shifted; i++) free(shifts[i]);
  ok(sesh_handle_close(handle), "sesh_handle_close");
  sesh_handle_free(handle);
}

/* sqlite_commit: what a renewal cannot do without, SQLite's own transaction: BEGIN, one upsert
 * of a row the size of sesh's state, COMMIT, through prepared statements on a WAL file with
 * synchronous=NORMAL (sesh's settings), on the bundled SQLite. */
static void sqlite_commit_case(void) {
  if (!selected("renew_sqlite")) return;
  if (!sqlite_reachable() || !sqlite3_prepare_v2 || !sqlite3_bind_text || !sqlite3_step ||
      !sqlite3_reset || !sqlite3_finalize) {
    not_measured("sqlite_commit", "the bundled SQLite is not reachable");
    return;
  }
  char path[512];
  temp_path(path, sizeof path, "commit.db");
  sqlite3 *db = NULL;
  sqlite3_stmt *begin = NULL, *upsert = NULL, *commit = NULL;
  bool good =
      sqlite3_open_v2(path, &db, BENCH_SQLITE_OPEN_READWRITE | BENCH_SQLITE_OPEN_CREATE, NULL) ==
          0 &&
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE state (namespace TEXT PRIMARY KEY, state) WITHOUT ROWID;",
                   NULL, NULL, NULL) == 0 &&
      sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) == 0 &&
      sqlite3_prepare_v2(db,
                         "INSERT INTO state (namespace, state) VALUES (?1, ?2) ON CONFLICT "
                         "(namespace) DO UPDATE SET state = excluded.state",
                         -1, &upsert, NULL) == 0 &&
      sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) == 0;
  long count = iterations(20000);
  double per_run[64];
  char state[400];
  for (int run = 0; good && run < settings.runs; run++) {
    uint64_t start = now_ns();
    for (long i = 0; good && i < count; i++) {
      /* A different row each time, as each renewal's state is. */
      int length = snprintf(state, sizeof state,
                            "{\"version\":1,\"user_id\":\"00000000-0000-4000-8000-000000000001\","
                            "\"session_index\":%ld,\"last_session_id\":\"00000000-0000-4000-8000-"
                            "%012ld\",\"in_background\":false,\"anonymous\":false,\"session\":{"
                            "\"id\":\"00000000-0000-4000-8000-%012ld\",\"previous_id\":null,"
                            "\"event_index\":1025,\"first_event\":null,\"started_at\":%ld,"
                            "\"last_activity\":%ld,\"background_index\":0,"
                            "\"foreground_index\":0},\"generation\":%ld}",
                            i, i, i + 1, i, i, i);
      good = sqlite3_step(begin) == BENCH_SQLITE_DONE && sqlite3_reset(begin) == 0 &&
             sqlite3_bind_text(upsert, 1, "default", -1, NULL) == 0 &&
             sqlite3_bind_text(upsert, 2, state, length, NULL) == 0 &&
             sqlite3_step(upsert) == BENCH_SQLITE_DONE && sqlite3_reset(upsert) == 0 &&
             sqlite3_step(commit) == BENCH_SQLITE_DONE && sqlite3_reset(commit) == 0;
    }
    per_run[run] = (double)(now_ns() - start) / (double)count;
  }
  if (begin) sqlite3_finalize(begin);
  if (upsert) sqlite3_finalize(upsert);
  if (commit) sqlite3_finalize(commit);
  if (db) sqlite3_close(db);
  if (good) {
    set_row("sqlite_commit", median(per_run, settings.runs));
    note("sqlite_commit", "mean of %ld transactions x %d runs", count, settings.runs);
  } else {
    not_measured("sqlite_commit", "an SQLite call failed");
  }
}

/* ----- opening on an existing store --------------------------------------------------------- */

/* open_sqlite: the open alone; open_track_sqlite: the open and the first event after it,
 * each timed on its own in the same iteration. The first event goes on the restored session
 * (1 ms after the previous one). */
static int count_row(void *arg, int columns, char **values, char **names) {
  (void)columns;
  (void)values;
  (void)names;
  ++*(int *)arg;
  return 0;
}

/* sqlite_open: what an open cannot do without, SQLite's own: open the file, read its journal
 * mode and the namespace's state row, close. */
static void sqlite_open_baseline(const char *file, long count, bool good) {
  if (!good) {
    not_measured("sqlite_open", "the store could not be prepared");
    return;
  }
  if (!sqlite_reachable()) {
    not_measured("sqlite_open", "the bundled SQLite is not reachable");
    return;
  }
  char path[512];
  temp_path(path, sizeof path, file);
  double per_run[64];
  for (int run = 0; good && run < settings.runs; run++) {
    uint64_t total = 0;
    for (long i = 0; good && i < count; i++) {
      sqlite3 *db = NULL;
      int rows = 0;
      uint64_t start = now_ns();
      good = sqlite3_open_v2(path, &db, BENCH_SQLITE_OPEN_READWRITE, NULL) == 0 &&
             sqlite3_exec(db, "PRAGMA journal_mode", count_row, &rows, NULL) == 0 &&
             sqlite3_exec(db, "SELECT state FROM sesh_state WHERE namespace = 'default'",
                          count_row, &rows, NULL) == 0 &&
             rows == 2;
      if (db) sqlite3_close(db);
      total += now_ns() - start;
    }
    per_run[run] = (double)total / (double)count / 1000.0;
  }
  if (good) {
    set_row("sqlite_open", median(per_run, settings.runs));
    note("sqlite_open", "%ld opens x %d runs", count, settings.runs);
  } else {
    not_measured("sqlite_open", "an SQLite call failed");
  }
}

static void open_case(void) {
  const char *name = "open_sqlite";
  if (!selected(row(name)->group)) return;
  StepClock clock = {T0, STEP_IN_SESSION_MS};
  SeshOptions *options = make_options(step_clock_read, &clock, "open.db");
  SeshHandle *handle = open_handle(options);
  char *session_id = NULL;
  bool good = handle && track_once(handle) && track_once(handle) &&
              ok(sesh_session_get_id(handle, &session_id), "sesh_session_get_id");
  if (handle) {
    good = ok(sesh_handle_close(handle), "sesh_handle_close") && good;
    sesh_handle_free(handle);
  }
  long count = iterations(300);
  double per_run[64], first_per_run[64], whole_per_run[64], cpu_per_run[64];
  sqlite_open_baseline("open.db", count, good);
  for (int run = 0; good && run < settings.runs; run++) {
    uint64_t open_total = 0, first_total = 0, whole_total = 0, cpu_total = 0;
    for (long i = 0; good && i < count; i++) {
      SeshHandle *h = NULL;
      uint64_t cpu_start = cpu_ns(), start = now_ns();
      SeshStatus status = sesh_handle_open(options, &h);
      uint64_t opened = now_ns();
      cpu_total += cpu_ns() - cpu_start;
      if (!ok(status, "sesh_handle_open")) {
        good = false;
        break;
      }
      uint64_t first_start = now_ns();
      good = track_once(h);
      uint64_t first_end = now_ns();
      if (good && i == 0) { /* outside the timing: the session really was restored */
        char *restored = NULL;
        good = ok(sesh_session_get_id(h, &restored), "sesh_session_get_id (restored)");
        if (good && strcmp(restored, session_id) != 0) {
          fail("open_sqlite: the session was not restored (%s, then %s)", session_id, restored);
          good = false;
        }
        sesh_string_free(restored);
      }
      uint64_t before_close = now_ns();
      good = ok(sesh_handle_close(h), "sesh_handle_close") && good;
      sesh_handle_free(h);
      uint64_t end = now_ns();
      open_total += opened - start;
      first_total += first_end - first_start;
      whole_total += (opened - start) + (end - before_close);
    }
    per_run[run] = (double)open_total / (double)count / 1000.0;
    first_per_run[run] = (double)(open_total + first_total) / (double)count / 1000.0;
    whole_per_run[run] = (double)whole_total / (double)count / 1000.0;
    cpu_per_run[run] = (double)cpu_total / (double)count / 1000.0;
  }
  if (good) {
    set_row(name, median(per_run, settings.runs));
    note(name, "cpu %.1f us; open + close + free %.1f us; %ld opens x %d runs",
         median(cpu_per_run, settings.runs), median(whole_per_run, settings.runs), count,
         settings.runs);
    set_row("open_track_sqlite", median(first_per_run, settings.runs));
    note("open_track_sqlite", "the same opens, each followed by one event");
  } else {
    not_measured(name, "a call failed");
    not_measured("open_track_sqlite", "a call failed");
  }
  sesh_string_free(session_id);
  sesh_options_free(options);
}

/* ----- a new session on the memory store ---------------------------------------------------- */

static void session_new_case(void) {
  const char *name = "session_new_memory";
  if (!selected(row(name)->group)) return;
  StepClock clock = {T0, STEP_IN_SESSION_MS};
  SeshOptions *options = make_options(step_clock_read, &clock, NULL);
  SeshHandle *handle = open_handle(options);
  sesh_options_free(options);
  if (!handle) {
    not_measured(name, "cannot open a handle");
    return;
  }
  long count = iterations(200000);
  double per_run[64], cpu_per_run[64];
  bool good = true;
  for (long i = 0; good && i < count / 10 + 1; i++) { /* warm up */
    good = ok(sesh_session_new(handle), "sesh_session_new") && one_event(handle, WITH_TRACK);
  }
  for (int run = 0; good && run < settings.runs; run++) {
    int64_t index_before = session_index(handle);
    uint64_t start = now_ns(), cpu_start = cpu_ns();
    for (long i = 0; good && i < count; i++) {
      good = ok(sesh_session_new(handle), "sesh_session_new") && one_event(handle, WITH_TRACK);
    }
    per_run[run] = (double)(now_ns() - start) / (double)count;
    cpu_per_run[run] = (double)(cpu_ns() - cpu_start) / (double)count;
    int64_t index_after = session_index(handle);
    if (good && index_after != index_before + count) {
      fail("%s: session index went from %lld to %lld, expected %lld", name,
           (long long)index_before, (long long)index_after, (long long)(index_before + count));
      good = false;
    }
  }
  if (good) {
    set_row(name, median(per_run, settings.runs));
    note(name, "cpu %.0f ns; mean of %ld sessions x %d runs", median(cpu_per_run, settings.runs),
         count, settings.runs);
  } else {
    not_measured(name, "a call failed");
  }
  ok(sesh_handle_close(handle), "sesh_handle_close");
  sesh_handle_free(handle);
}

/* ----- processes on one SQLite namespace ---------------------------------------------------- */

/* What a child reports through its pipe. */
typedef struct {
  uint64_t began, ended;
  long failed;
} ChildReport;

static bool read_all(int fd, void *data, size_t size) {
  char *at = data;
  while (size > 0) {
    ssize_t n = read(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= (size_t)n;
  }
  return true;
}

static bool write_all(int fd, const void *data, size_t size) {
  const char *at = data;
  while (size > 0) {
    ssize_t n = write(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= (size_t)n;
  }
  return true;
}

/* In a child: opens its own handle on the namespace, says it is ready, waits for the go,
 * tracks `count` events, reports, closes. Never returns. */
static void child_main(const char *file, long count, int ready, int go, int report) {
  int64_t frozen = T0;
  SeshOptions *options = make_options(frozen_clock_read, &frozen, file);
  SeshHandle *handle = open_handle(options);
  sesh_options_free(options);
  ChildReport result = {0, 0, handle ? 0 : 1};
  char byte = 1;
  if (!write_all(ready, &byte, 1) || !read_all(go, &byte, 1)) _exit(2);
  result.began = now_ns();
  for (long i = 0; handle && i < count; i++) {
    char *entity = NULL;
    if (sesh_event_track(handle, NULL, &entity) != SESH_STATUS_OK) {
      result.failed++;
      continue;
    }
    sesh_string_free(entity);
  }
  result.ended = now_ns();
  if (handle) {
    if (sesh_handle_close(handle) != SESH_STATUS_OK) result.failed++;
    sesh_handle_free(handle);
  }
  _exit(write_all(report, &result, sizeof result) && result.failed == 0 ? 0 : 1);
}

/* Events per second of `children` processes tracking `count` events each at once, from
 * the first one's start to the last one's end; 0 when a child failed. */
static double processes_throughput(const char *file, int children, long count) {
  int ready[2], go[2], report[2];
  if (pipe(ready) || pipe(go) || pipe(report)) {
    fail("pipe failed: %s", strerror(errno));
    return 0;
  }
  fflush(NULL);
  pid_t pids[2] = {0, 0};
  int started = 0;
  for (; started < children; started++) {
    pid_t pid = fork();
    if (pid < 0) {
      fail("fork failed: %s", strerror(errno));
      break;
    }
    if (pid == 0) {
      close(ready[0]);
      close(go[1]);
      close(report[0]);
      child_main(file, count, ready[1], go[0], report[1]);
    }
    pids[started] = pid;
  }
  close(ready[1]);
  close(go[0]);
  close(report[1]);
  bool good = started == children;
  char byte;
  for (int i = 0; good && i < children; i++) good = read_all(ready[0], &byte, 1);
  for (int i = 0; good && i < children; i++) good = write_all(go[1], &byte, 1);
  close(go[1]);
  uint64_t began = UINT64_MAX, ended = 0;
  for (int i = 0; good && i < children; i++) {
    ChildReport result;
    good = read_all(report[0], &result, sizeof result) && result.failed == 0;
    if (good && result.began < began) began = result.began;
    if (good && result.ended > ended) ended = result.ended;
  }
  close(ready[0]);
  close(report[0]);
  for (int i = 0; i < started; i++) {
    int status = 0;
    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      good = false;
    }
  }
  if (!good || ended <= began) {
    fail("%d processes tracking on %s: a child failed", children, file);
    return 0;
  }
  return (double)(count * children) / ((double)(ended - began) / 1e9);
}

/* The parent prepares the store (a session with one event) and closes it before forking:
 * a child must not inherit a live handle. Every process reads a clock that stands still, so
 * that the processes' clocks never disagree; each child tracks `count` events. Afterwards
 * the namespace holds the same session, with every event counted exactly once. */
static void processes_case(void) {
  if (!selected("procs")) return;
  const char *file = "procs.db";
  int64_t frozen = T0;
  SeshOptions *options = make_options(frozen_clock_read, &frozen, file);
  SeshHandle *handle = open_handle(options);
  int64_t index_before = handle && track_once(handle) ? session_index(handle) : -1;
  if (handle) {
    ok(sesh_handle_close(handle), "sesh_handle_close");
    sesh_handle_free(handle);
  }
  long count = iterations(400000);
  double one[64], two[64];
  bool good = index_before > 0;
  long events = 0;
  for (int run = 0; good && run < settings.runs; run++) {
    one[run] = processes_throughput(file, 1, count);
    two[run] = processes_throughput(file, 2, count);
    good = one[run] > 0 && two[run] > 0;
    events += 3 * count;
  }
  if (good) { /* every event counted once, in the one session */
    handle = open_handle(options);
    int64_t event_index = -1;
    good = handle && ok(sesh_session_get_event_index(handle, &event_index), "get_event_index");
    if (good && (session_index(handle) != index_before || event_index != 1 + events)) {
      fail("procs: session %lld event %lld after the runs, expected session %lld event %ld",
           (long long)session_index(handle), (long long)event_index, (long long)index_before,
           1 + events);
      good = false;
    }
    if (handle) {
      ok(sesh_handle_close(handle), "sesh_handle_close");
      sesh_handle_free(handle);
    }
  }
  sesh_options_free(options);
  if (good) {
    double t1 = median(one, settings.runs), t2 = median(two, settings.runs);
    set_row("procs_1", t1);
    set_row("procs_2", t2);
    note("procs_1", "%.0f ns/event; %ld events x %d runs", 1e9 / t1, count, settings.runs);
    note("procs_2", "%.0f ns/event wall; %ld events per process x %d runs; %ld CPUs online",
         1e9 / t2, count, settings.runs, sysconf(_SC_NPROCESSORS_ONLN));
  } else {
    not_measured("procs_1", "a call or a child failed");
    not_measured("procs_2", "a call or a child failed");
  }
}

/* ----- threads ------------------------------------------------------------------------------ */

typedef struct {
  SeshHandle *handle;
  pthread_barrier_t *start;
  long count;
  long failed;
  /* Each worker times itself: with more threads than CPUs, the main thread may not run
   * again until the workers are done. */
  uint64_t began, ended;
} Worker;

static void *worker_main(void *argument) {
  Worker *w = argument;
  pthread_barrier_wait(w->start);
  w->began = now_ns();
  for (long i = 0; i < w->count; i++) {
    char *entity = NULL;
    if (sesh_event_track(w->handle, NULL, &entity) != SESH_STATUS_OK) {
      w->failed++;
      continue;
    }
    sesh_string_free(entity);
  }
  w->ended = now_ns();
  return NULL;
}

/* Events per second of `threads` threads sharing `handle`, `total` events in all. */
static double threaded_throughput(SeshHandle *handle, int threads, long total, bool *good) {
  pthread_t ids[THREADS];
  Worker workers[THREADS];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  for (int t = 0; t < threads; t++) {
    workers[t] = (Worker){.handle = handle, .start = &start, .count = total / threads};
    if (pthread_create(&ids[t], NULL, worker_main, &workers[t]) != 0) {
      fail("pthread_create failed");
      abort();
    }
  }
  pthread_barrier_wait(&start);
  long failed = 0;
  uint64_t began = UINT64_MAX, ended = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    failed += workers[t].failed;
    if (workers[t].began < began) began = workers[t].began;
    if (workers[t].ended > ended) ended = workers[t].ended;
  }
  uint64_t elapsed = ended - began;
  pthread_barrier_destroy(&start);
  if (failed) {
    fail("%ld tracks failed with %d threads", failed, threads);
    *good = false;
  }
  return (double)(total / threads * threads) / ((double)elapsed / 1e9);
}

static void threads_case(void) {
  if (!selected("threads")) return;
  int64_t frozen = T0;
  SeshOptions *options = make_options(frozen_clock_read, &frozen, NULL);
  SeshHandle *handle = open_handle(options);
  sesh_options_free(options);
  if (!handle) {
    not_measured("threads_1", "cannot open a handle");
    not_measured("threads_8", "cannot open a handle");
    return;
  }
  long total = iterations(800000);
  bool good = run_events(handle, WITH_TRACK, total / 10, NULL);
  double one[64], eight[64];
  for (int run = 0; good && run < settings.runs; run++) {
    one[run] = threaded_throughput(handle, 1, total, &good);
    eight[run] = threaded_throughput(handle, THREADS, total, &good);
  }
  if (good) {
    double t1 = median(one, settings.runs), t8 = median(eight, settings.runs);
    set_row("threads_1", t1);
    set_row("threads_8", t8);
    note("threads_1", "%.0f ns/event", 1e9 / t1);
    note("threads_8", "%.0f ns/event wall; %ld events x %d runs; %ld CPUs online", 1e9 / t8,
         total, settings.runs, sysconf(_SC_NPROCESSORS_ONLN));
  } else {
    not_measured("threads_1", "a call failed");
    not_measured("threads_8", "a call failed");
  }
  ok(sesh_handle_close(handle), "sesh_handle_close");
  sesh_handle_free(handle);
}

/* ----- heap per handle ---------------------------------------------------------------------- */

static long long heap_in_use(void) {
  struct mallinfo2 info = mallinfo2();
  return (long long)info.uordblks + (long long)info.hblkhd;
}

#define HEAP_HANDLES_MAX 64

/* Opens `count` handles (SQLite files heap-<i>.db, or the memory store), tracks one event on
 * each, and returns the heap they hold together, and SQLite's share in `*sqlite_bytes`. */
static long long heap_of_handles(int count, bool sqlite, long long *sqlite_bytes, bool *good) {
  SeshHandle *handles[HEAP_HANDLES_MAX] = {0};
  StepClock clock = {T0, STEP_IN_SESSION_MS};
  SeshOptions *options[HEAP_HANDLES_MAX] = {0};
  char name[64];
  /* Options are made before the baseline and freed after the measure: they are no handle. */
  for (int i = 0; i < count; i++) {
    snprintf(name, sizeof name, "heap-%d.db", i);
    options[i] = make_options(step_clock_read, &clock, sqlite ? name : NULL);
    if (!options[i]) *good = false;
  }
  long long heap_before = heap_in_use(), sqlite_before = sqlite_memory_used();
  for (int i = 0; *good && i < count; i++) {
    handles[i] = open_handle(options[i]);
    if (!handles[i] || !track_once(handles[i])) *good = false;
  }
  long long heap = heap_in_use() - heap_before;
  *sqlite_bytes = sqlite_memory_used() - sqlite_before;
  for (int i = 0; i < count; i++) {
    if (handles[i]) {
      ok(sesh_handle_close(handles[i]), "sesh_handle_close");
      sesh_handle_free(handles[i]);
    }
    sesh_options_free(options[i]);
  }
  return heap;
}

typedef struct {
  char names[16][64];
  int count;
} TableNames;

static int collect_table(void *arg, int columns, char **values, char **names) {
  (void)names;
  TableNames *tables = arg;
  if (columns == 1 && values[0] && tables->count < 16 && strlen(values[0]) < 64) {
    strcpy(tables->names[tables->count++], values[0]);
  }
  return 0;
}

/* The page cache a connection holds once it has read every row of every table in the store
 * file, as sesh's own connection does when it opens (it checks that its tables are
 * readable): what SQLite itself accounts for, sqlite3_db_status CACHE_USED (the pages held,
 * the pager and one page of scratch space). */
static long long page_cache_of(const char *file) {
  char path[512];
  temp_path(path, sizeof path, file);
  sqlite3 *db = NULL;
  long long bytes = -1;
  TableNames tables = {.count = 0};
  bool read = sqlite3_open_v2(path, &db, BENCH_SQLITE_OPEN_READWRITE, NULL) == 0 &&
              sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == 0 &&
              sqlite3_exec(db, "SELECT name FROM sqlite_master WHERE type = 'table'",
                           collect_table, &tables, NULL) == 0;
  for (int i = 0; read && i < tables.count; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", tables.names[i]);
    read = sqlite3_exec(db, sql, NULL, NULL, NULL) == 0;
  }
  int current = 0, highwater = 0;
  if (read &&
      sqlite3_db_status(db, BENCH_SQLITE_DBSTATUS_CACHE_USED, &current, &highwater, 0) == 0) {
    bytes = current;
  }
  if (db) sqlite3_close(db);
  return bytes;
}

static void heap_case(void) {
  if (!selected("heap")) return;
  int count = settings.quick ? 8 : HEAP_HANDLES_MAX;
  bool good = true;
  char name[64];
  /* Every store file holds a session already, as an app's store does after its first run;
   * one warm-up handle of each kind takes the library's one-time allocations. */
  StepClock clock = {T0, STEP_IN_SESSION_MS};
  for (int i = 0; good && i < count; i++) {
    snprintf(name, sizeof name, "heap-%d.db", i);
    SeshOptions *options = make_options(step_clock_read, &clock, name);
    SeshHandle *handle = open_handle(options);
    good = handle && track_once(handle);
    if (handle) sesh_handle_free(handle);
    sesh_options_free(options);
  }
  long long ignored;
  if (good) heap_of_handles(1, false, &ignored, &good);
  if (good) heap_of_handles(1, true, &ignored, &good);

  long long sqlite_in_memory_handles = 0, sqlite_in_sqlite_handles = 0;
  long long memory = good ? heap_of_handles(count, false, &sqlite_in_memory_handles, &good) : 0;
  long long sqlite = good ? heap_of_handles(count, true, &sqlite_in_sqlite_handles, &good) : 0;
  if (!good) {
    for (size_t i = 0; i < ROW_COUNT; i++) {
      if (strcmp(rows[i].group, "heap") == 0) not_measured(rows[i].name, "a call failed");
    }
    return;
  }
  double per_memory = (double)memory / count, per_sqlite = (double)sqlite / count;
  set_row("heap_memory", per_memory);
  note("heap_memory", "%.1f KiB; mallinfo2 delta over %d handles", per_memory / 1024, count);
  set_row("heap_sqlite", per_sqlite);
  note("heap_sqlite", "%.1f KiB; mallinfo2 delta over %d handles, one file each", per_sqlite / 1024,
       count);
  if (!sqlite_reachable()) {
    const char *why = "the bundled SQLite's symbols are not linked in";
    not_measured("heap_sqlite_page_cache", why);
    not_measured("heap_sqlite_beyond_cache", why);
    not_measured("heap_sqlite_sqlite_other", why);
    not_measured("heap_sqlite_sesh", why);
    return;
  }
  long long cache = page_cache_of("heap-0.db");
  if (cache < 0) {
    not_measured("heap_sqlite_page_cache", "sqlite3_db_status failed");
    not_measured("heap_sqlite_beyond_cache", "sqlite3_db_status failed");
    not_measured("heap_sqlite_sqlite_other", "sqlite3_db_status failed");
    not_measured("heap_sqlite_sesh", "sqlite3_db_status failed");
    return;
  }
  double sqlite_share = (double)sqlite_in_sqlite_handles / count;
  set_row("heap_sqlite_page_cache", (double)cache);
  note("heap_sqlite_page_cache", "%.1f KiB; a bare connection that read every table of a store",
       (double)cache / 1024);
  set_row("heap_sqlite_beyond_cache", per_sqlite - (double)cache);
  note("heap_sqlite_beyond_cache", "%.1f KiB", (per_sqlite - (double)cache) / 1024);
  set_row("heap_sqlite_sqlite_other", sqlite_share - (double)cache);
  note("heap_sqlite_sqlite_other",
       "%.1f KiB; sqlite3_status64 MEMORY_USED delta %.1f KiB/handle minus the page cache",
       (sqlite_share - (double)cache) / 1024, sqlite_share / 1024);
  set_row("heap_sqlite_sesh", per_sqlite - sqlite_share);
  note("heap_sqlite_sesh", "%.1f KiB; the rest of the mallinfo2 delta, malloc overhead included",
       (per_sqlite - sqlite_share) / 1024);
}

/* ----- the stripped shared library ---------------------------------------------------------- */

static void library_case(void) {
  const char *name = "lib_stripped";
  if (!selected(row(name)->group)) return;
  struct stat st;
  if (!settings.library[0] || stat(settings.library, &st) != 0) {
    not_measured(name, "no libsesh.so (--lib PATH)");
    return;
  }
  char stripped[512];
  temp_path(stripped, sizeof stripped, "libsesh-stripped.so");
  char *argv[] = {(char *)settings.strip, "-o", stripped, (char *)settings.library, NULL};
  pid_t pid;
  int status = 0;
  if (posix_spawnp(&pid, settings.strip, NULL, NULL, argv, environ) != 0 ||
      waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      stat(stripped, &st) != 0) {
    not_measured(name, "strip failed (--strip PATH)");
    return;
  }
  set_row(name, (double)st.st_size);
  note(name, "%.2f MiB; unstripped %s", (double)st.st_size / (1024.0 * 1024.0),
       settings.library);
}

/* ----- main --------------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: sesh-bench [--quick] [--runs N] [--case NAME[,NAME...]] [--lib PATH] "
          "[--strip PATH]\n"
          "cases: track_memory track_into_memory track_sqlite track_into_sqlite "
          "track_sqlite_1s session_new_memory renew_sqlite open_sqlite procs threads heap lib\n"
          "(a ratio needs its baseline's case in the same run: track_memory for most)\n");
}

static void print_machine(void) {
  char model[256] = "unknown CPU";
  FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
  if (cpuinfo) {
    char line[512];
    while (fgets(line, sizeof line, cpuinfo)) {
      if (strncmp(line, "model name", 10) == 0) {
        const char *colon = strchr(line, ':');
        if (colon) {
          snprintf(model, sizeof model, "%s", colon + 2);
          model[strcspn(model, "\n")] = '\0';
        }
        break;
      }
    }
    fclose(cpuinfo);
  }
  double load = -1;
  FILE *loadavg = fopen("/proc/loadavg", "r");
  if (loadavg) {
    if (fscanf(loadavg, "%lf", &load) != 1) load = -1;
    fclose(loadavg);
  }
  char date[64] = "unknown";
  time_t now = time(NULL);
  struct tm utc;
  if (gmtime_r(&now, &utc)) strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &utc);
  printf("sesh %s; median of %d runs%s; injected clock\n", sesh_version(), settings.runs,
         settings.quick ? " (--quick: few iterations, figures not meaningful)" : "");
  printf("machine: %s; %ld CPUs online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
  if (load >= 0) {
    printf("date: %s; load average %.2f at the start\n", date, load);
  } else {
    printf("date: %s\n", date);
  }
}

int main(int argc, char **argv) {
  settings.runs = 7;
  settings.library = SESH_BENCH_LIBRARY;
  settings.strip = SESH_BENCH_STRIP;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      settings.quick = true;
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      settings.runs = atoi(argv[++i]);
      if (settings.runs < 1 || settings.runs > 64) {
        usage();
        return 2;
      }
    } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
      settings.only = argv[++i];
    } else if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc) {
      settings.library = argv[++i];
    } else if (strcmp(argv[i], "--strip") == 0 && i + 1 < argc) {
      settings.strip = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  if (settings.quick && settings.runs > 3) settings.runs = 3;
  const char *tmp = getenv("TMPDIR");
  snprintf(settings.dir, sizeof settings.dir, "%s/sesh-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(settings.dir)) {
    fprintf(stderr, "sesh-bench: cannot make a temporary directory: %s\n", strerror(errno));
    return 1;
  }
  print_machine();
  fflush(stdout);

  per_event_case("track_memory", NULL, WITH_TRACK, STEP_IN_SESSION_MS, iterations(500000), false,
                 false);
  per_event_case("track_into_memory", NULL, WITH_TRACK_INTO, STEP_IN_SESSION_MS,
                 iterations(500000), false, false);
  per_event_case("track_sqlite", "track.db", WITH_TRACK, STEP_IN_SESSION_MS, iterations(200000),
                 false, false);
  per_event_case("track_into_sqlite", "track-into.db", WITH_TRACK_INTO, STEP_IN_SESSION_MS,
                 iterations(200000), false, false);
  per_event_case("track_sqlite_1s", "track-1s.db", WITH_TRACK, STEP_SPARSE_MS, iterations(20000),
                 false, true);
  session_new_case();
  sqlite_commit_case();
  if (selected("renew_sqlite") && !count_writes_start()) {
    fprintf(stderr, "sesh-bench: cannot install the VFS shim: pages are not counted\n");
  }
  per_event_case("renew_sqlite", "renew.db", WITH_TRACK, STEP_RENEW_MS, iterations(20000), true,
                 true);
  count_writes_stop();
  open_case();
  processes_case();
  threads_case();
  heap_case();
  library_case();

  print_table();
  remove_tree(settings.dir);
  return failures ? 1 : 0;
}
