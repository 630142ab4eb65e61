/* A host that links sesh's static library AND its own SQLite (the system's libsqlite3):
 * every sqlite3_* call of the host must reach the host's SQLite, never the one bundled in
 * libsesh.a, while sesh keeps working on its own (bundled) SQLite.
 *
 *   host_sqlite DIR              the check: the host's sqlite3_* are the system's
 *   host_sqlite DIR --bundled    the control, linked with cargo's unprocessed libsesh.a:
 *                                there the host's calls reach sesh's SQLite (which shows
 *                                the check above can fail); exits 0 when they do
 *
 * It prints the version each SQLite reports, opens a sesh handle on an SQLite store in DIR,
 * tracks one event and checks the entity, then reads sesh's table with the host's SQLite. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sesh.h"

static int failures;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

static int64_t fixed_clock(void *user_data) {
  (void)user_data;
  return INT64_C(1700000000000);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: host_sqlite DIR [--bundled]\n");
    return 2;
  }
  int control = argc > 2 && strcmp(argv[2], "--bundled") == 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/host_sqlite-%ld.db", argv[1], (long)getpid());
  char sidecar[4200];

  /* 1. Which SQLite answers the host: the header's (the system's) or another. */
  const char *version = sqlite3_libversion();
  const char *source_id = sqlite3_sourceid();
  int is_system = strcmp(version, SQLITE_VERSION) == 0 &&
                  strcmp(source_id, SQLITE_SOURCE_ID) == 0 &&
                  sqlite3_libversion_number() == SQLITE_VERSION_NUMBER;
  printf("host's header: SQLite %s (%s)\n", SQLITE_VERSION, SQLITE_SOURCE_ID);
  printf("host's calls:  SQLite %s (%s)%s\n", version, source_id,
         is_system ? ", the system's" : ", NOT the system's");
  if (control) {
    if (is_system) {
      fprintf(stderr, "control: the host's sqlite3_* reached the system's SQLite although "
                      "linked after cargo's libsesh.a (or sesh bundles this very version)\n");
      return 1;
    }
    printf("control: linked with cargo's libsesh.a, the host gets sesh's SQLite\n");
    return 0;
  }
  CHECK(is_system);

  /* 2. sesh on an SQLite store (its own, bundled SQLite). */
  SeshOptions *options = NULL;
  CHECK(sesh_options_new(&options) == SESH_STATUS_OK);
  CHECK(sesh_options_set_namespace(options, "host-sqlite") == SESH_STATUS_OK);
  CHECK(sesh_options_set_clock(options, fixed_clock, NULL) == SESH_STATUS_OK);
  CHECK(sesh_options_set_store_sqlite(options, path) == SESH_STATUS_OK);
  SeshHandle *sesh = NULL;
  SeshStatus status = sesh_handle_open(options, &sesh);
  sesh_options_free(options);
  if (status != SESH_STATUS_OK) {
    fprintf(stderr, "sesh_handle_open: %s\n", sesh_status_name(status));
    return 1;
  }
  char *entity = NULL;
  CHECK(sesh_event_track(sesh, NULL, &entity) == SESH_STATUS_OK);
  CHECK(entity != NULL && strstr(entity, "client_session/jsonschema/1-0-2") != NULL);
  CHECK(entity != NULL && strstr(entity, "\"storageMechanism\":\"SQLITE\"") != NULL);
  CHECK(entity != NULL && strstr(entity, "\"eventIndex\":1") != NULL);
  printf("sesh %s: %s\n", sesh_version(), entity ? entity : "(no entity)");
  sesh_string_free(entity);
  CHECK(sesh_handle_close(sesh) == SESH_STATUS_OK);
  sesh_handle_free(sesh);

  /* 3. The host's SQLite reads what sesh's wrote. */
  sqlite3 *db = NULL;
  CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  sqlite3_stmt *statement = NULL;
  CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM sesh_state", -1, &statement, NULL) ==
        SQLITE_OK);
  int rows = -1;
  if (statement && sqlite3_step(statement) == SQLITE_ROW) rows = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  printf("host's SQLite reads %d row(s) of sesh_state\n", rows);
  CHECK(rows == 1);

  unlink(path);
  const char *suffixes[] = {"-wal", "-shm", "-sesh"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(sidecar, sizeof sidecar, "%s%s", path, suffixes[i]);
    unlink(sidecar);
  }
  if (failures) fprintf(stderr, "host_sqlite: %d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
