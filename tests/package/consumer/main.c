/* A tiny host built against the installed sesh package: one event on an injected clock. */
#include <sesh.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int64_t fixed_clock(void *user_data) {
  (void)user_data;
  return INT64_C(1700000000000);
}

int main(void) {
  SeshOptions *options = NULL;
  if (sesh_options_new(&options) != SESH_STATUS_OK) return 1;
  sesh_options_set_namespace(options, "consumer");
  sesh_options_set_clock(options, fixed_clock, NULL);

  SeshHandle *sesh = NULL;
  SeshStatus status = sesh_handle_open(options, &sesh);
  sesh_options_free(options);
  if (status != SESH_STATUS_OK) {
    fprintf(stderr, "open: %s\n", sesh_status_name(status));
    return 1;
  }

  char *entity = NULL;
  status = sesh_event_track(sesh, NULL, &entity);
  int ok = status == SESH_STATUS_OK && entity != NULL &&
           strstr(entity, "client_session/jsonschema/1-0-2") != NULL &&
           strstr(entity, "\"firstEventTimestamp\":\"2023-11-14T22:13:20.000Z\"") != NULL;
  printf("sesh %s: %s\n", sesh_version(), ok ? "ok" : "FAILED");
  if (!ok) {
    fprintf(stderr, "track: %s, entity %s\n", sesh_status_name(status),
            entity ? entity : "(null)");
  }
  sesh_string_free(entity);

  if (sesh_handle_close(sesh) != SESH_STATUS_OK) ok = 0;
  sesh_handle_free(sesh);
  return ok ? 0 : 1;
}
