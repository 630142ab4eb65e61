/*
 * A custom sesh store kept in one file: a complete example of SeshCustomStore.
 *
 * Records are kept in memory and the whole file is rewritten on every set, to a temporary
 * file first and then renamed over the old one: a process killed at any instant leaves
 * either the old file or the new one, never half of each. (Add fsync() before the rename
 * to survive power loss too; sesh's SQLite store is the better choice for busy apps.)
 *
 * File format, one record after another:  "<key length> <value length>\n<key><value>\n"
 *
 * The store takes no lock: sesh calls it one call at a time for each handle, so use it with
 * one handle at a time (options that open several handles at once would need a mutex
 * around get and set). Two processes must not use the same file at once.
 */
#ifndef SESH_EXAMPLE_FILE_STORE_H
#define SESH_EXAMPLE_FILE_STORE_H

#include <sesh.h>

/*
 * Fills *out with a store keeping its records in the file at `path` (read now if it
 * exists). Returns 0, or -1 when the file exists but cannot be read as such a store (it is
 * then left as it is) or memory runs out.
 * Hand *out to sesh_options_set_store_custom(): sesh then owns it and calls its destroy
 * function once. If that call fails, sesh took nothing: call out->destroy(out->user_data).
 */
int file_store_open(const char *path, SeshCustomStore *out);

#endif
