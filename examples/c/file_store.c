/* A file-backed custom store for sesh: see file_store.h. */
#define _POSIX_C_SOURCE 200809L

#include "file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Record {
    char *key;
    char *value;
} Record;

typedef struct FileStore {
    char *path;
    char *temporary_path;
    Record *records;
    size_t count;
} FileStore;

static char *copy_text(const char *text, size_t length) {
    char *copy = malloc(length + 1);
    if (copy) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

static Record *find(FileStore *store, const char *key) {
    for (size_t i = 0; i < store->count; i++) {
        if (strcmp(store->records[i].key, key) == 0) {
            return &store->records[i];
        }
    }
    return NULL;
}

/* Adds or replaces a record in memory; 0 on success. */
static int put(FileStore *store, const char *key, size_t key_length, const char *value,
               size_t value_length) {
    char *new_value = copy_text(value, value_length);
    if (!new_value) {
        return -1;
    }
    char *new_key = copy_text(key, key_length);
    if (!new_key) {
        free(new_value);
        return -1;
    }
    Record *existing = find(store, new_key);
    if (existing) {
        free(new_key);
        free(existing->value);
        existing->value = new_value;
        return 0;
    }
    Record *grown = realloc(store->records, (store->count + 1) * sizeof(Record));
    if (!grown) {
        free(new_key);
        free(new_value);
        return -1;
    }
    store->records = grown;
    store->records[store->count].key = new_key;
    store->records[store->count].value = new_value;
    store->count++;
    return 0;
}

/* Reads the file's records; 0 when it is absent or well-formed. */
static int load(FileStore *store) {
    FILE *file = fopen(store->path, "rb");
    if (!file) {
        /* No file yet is an empty store; a file that is there but cannot be opened is not
         * (starting empty would overwrite it at the first set). */
        return errno == ENOENT ? 0 : -1;
    }
    int result = 0;
    int scanned = 0;
    size_t key_length = 0;
    size_t value_length = 0;
    while ((scanned = fscanf(file, "%zu %zu", &key_length, &value_length)) == 2) {
        if (fgetc(file) != '\n' || key_length > (1u << 20) || value_length > (1u << 24)) {
            result = -1;
            break;
        }
        char *buffer = malloc(key_length + value_length + 1);
        if (!buffer) {
            result = -1;
            break;
        }
        size_t wanted = key_length + value_length;
        int ok = fread(buffer, 1, wanted, file) == wanted && fgetc(file) == '\n' &&
                 put(store, buffer, key_length, buffer + key_length, value_length) == 0;
        free(buffer);
        if (!ok) {
            result = -1;
            break;
        }
    }
    /* The file must end right after a record: anything else (a lone number, text that is
     * no record, a read error) is damage, and damage is never read as an empty store. */
    if (result == 0 && (scanned != EOF || ferror(file) || !feof(file))) {
        result = -1;
    }
    fclose(file);
    return result;
}

/* Writes every record to a temporary file, then renames it over the store's file. */
static int save(FileStore *store) {
    /* Readable by its owner only, like sesh's SQLite store: it holds the user id. */
    int descriptor = open(store->temporary_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (descriptor < 0) {
        return -1;
    }
    FILE *file = fdopen(descriptor, "wb");
    if (!file) {
        close(descriptor);
        return -1;
    }
    int ok = 1;
    for (size_t i = 0; i < store->count && ok; i++) {
        const Record *record = &store->records[i];
        ok = fprintf(file, "%zu %zu\n%s%s\n", strlen(record->key), strlen(record->value),
                     record->key, record->value) > 0;
    }
    ok = (fclose(file) == 0) && ok;
    return ok && rename(store->temporary_path, store->path) == 0 ? 0 : -1;
}

/* get: hand the value to sesh through the sink; say nothing when there is none. */
static int32_t file_store_get(void *user_data, const char *key, SeshStoreSink *sink) {
    FileStore *store = user_data;
    const Record *record = find(store, key);
    if (record) {
        return sesh_store_sink_write(sink, record->value, strlen(record->value));
    }
    return SESH_STATUS_OK;
}

/* set: keep the value, and the file, or report a failure (sesh will write again). */
static int32_t file_store_set(void *user_data, const char *key, const char *value) {
    FileStore *store = user_data;
    if (put(store, key, strlen(key), value, strlen(value)) != 0 || save(store) != 0) {
        return SESH_STATUS_STORE_ERROR;
    }
    return SESH_STATUS_OK;
}

/* destroy: sesh calls it once, when nothing uses the store any more. */
static void file_store_destroy(void *user_data) {
    FileStore *store = user_data;
    for (size_t i = 0; i < store->count; i++) {
        free(store->records[i].key);
        free(store->records[i].value);
    }
    free(store->records);
    free(store->path);
    free(store->temporary_path);
    free(store);
}

int file_store_open(const char *path, SeshCustomStore *out) {
    FileStore *store = calloc(1, sizeof(FileStore));
    if (!store) {
        return -1;
    }
    size_t length = strlen(path);
    store->path = copy_text(path, length);
    store->temporary_path = malloc(length + 5);
    if (!store->path || !store->temporary_path) {
        file_store_destroy(store);
        return -1;
    }
    memcpy(store->temporary_path, path, length);
    memcpy(store->temporary_path + length, ".tmp", 5);
    if (load(store) != 0) {
        file_store_destroy(store);
        return -1;
    }
    out->user_data = store;
    out->storage_mechanism = SESH_STORAGE_MECHANISM_LOCAL_STORAGE;
    out->get = file_store_get;
    out->set = file_store_set;
    out->destroy = file_store_destroy;
    return 0;
}
