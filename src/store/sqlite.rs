//! The SQLite store, the default for a device: one file, WAL, one row of state per
//! namespace, and the installation's user id shared by all of them.
//!
//! sesh keeps to its own tables (`sesh_meta`, `sesh_state`), so the file may belong to the
//! host and hold other tables too. A file that is not an SQLite database is never written:
//! opening it fails with `store_error`.

use super::{SharedUser, StorageMechanism, Store};
use crate::error::{Error, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

/// The layout of sesh's tables; a later release migrates from lower versions.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a write waits for another handle or process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const USER_KEY: &str = "user_id";
const UPSERT_META: &str = "INSERT INTO sesh_meta (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const UPSERT_STATE: &str = "INSERT INTO sesh_state (namespace, state) VALUES (?1, ?2)
     ON CONFLICT (namespace) DO UPDATE SET state = excluded.state";
const SCHEMA_KEY: &str = "schema_version";
/// Ties the coordination file beside the database to it.
const STORE_ID_KEY: &str = "store_id";

/// A store in an SQLite file.
pub struct SqliteStore {
    connection: Mutex<Connection>,
    path: PathBuf,
    shared_user: Arc<SharedUser>,
    /// What opening found damaged and repaired, for the handle to report.
    repairs: Vec<Error>,
    /// What opening chose that the host should hear (the log callback, as information).
    notes: Vec<String>,
}

fn store_error(context: &str, err: impl std::fmt::Display) -> Error {
    Error::store(format!("{context}: {err}"))
}

/// An SQLite failure, saying so plainly when the disk is full.
fn sqlite_error(context: &str, err: rusqlite::Error) -> Error {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::DiskFull =>
        {
            Error::store(format!("{context}: the disk is full ({err})"))
        }
        _ => store_error(context, err),
    }
}

impl SqliteStore {
    /// Opens (or creates, readable by its owner only) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        create_owner_only(path)?;
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_error("cannot open the SQLite store", e))?;
        // SQLite reserves 48 KiB of lookaside memory per connection by default; a store
        // that keeps one small row per namespace does well with 8 KiB.
        // SAFETY: the connection was just opened and has run no statement, so no lookaside
        // slot is in use; a NULL buffer lets SQLite allocate the slots itself.
        unsafe {
            rusqlite::ffi::sqlite3_db_config(
                connection.handle(),
                rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                256 as std::ffi::c_int,
                32 as std::ffi::c_int,
            );
        }
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sqlite_error("cannot set the busy timeout", e))?;
        // Read before any write: a file that is not a database, or one damaged where sesh
        // keeps its state, fails here and is left as it was.
        let tables = verify_readable(&connection)?;
        // A database that holds the host's own tables keeps the journal mode the host chose
        // (switching to WAL would be for good, and the host may rely on its mode): sesh's
        // processes coordinate through their own file, not through WAL, and work in either.
        let hosts_own = tables
            .iter()
            .any(|t| !t.starts_with("sesh_") && !t.starts_with("sqlite_"));
        let mut notes = Vec::new();
        let mode: String = if hosts_own {
            connection
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .map_err(|e| sqlite_error("cannot read the journal mode", e))?
        } else {
            retry_while_busy(|| {
                connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            })
            .map_err(|e| sqlite_error("cannot switch the store to WAL", e))?
        };
        if mode.eq_ignore_ascii_case("wal") {
            // In WAL mode NORMAL loses no committed transaction when the process dies;
            // only a power cut can take back the last ones.
            connection
                .execute_batch("PRAGMA synchronous=NORMAL;")
                .map_err(|e| sqlite_error("cannot set synchronous=NORMAL", e))?;
        } else if hosts_own {
            notes.push(format!(
                "the store is the host's own database in {mode} journal mode: sesh keeps that mode"
            ));
        } else {
            return Err(Error::store(format!(
                "the store stays in {mode} journal mode, not WAL"
            )));
        }
        let mut store = SqliteStore {
            connection: Mutex::new(connection),
            path: path.to_path_buf(),
            shared_user: shared_user_for(path),
            repairs: Vec::new(),
            notes,
        };
        store.migrate()?;
        Ok(store)
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn migrate(&mut self) -> Result<()> {
        let mut connection = self.connection();
        let created = retry_while_busy(|| {
            // Dropped without a commit, the transaction rolls back.
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            transaction.execute_batch(
                "CREATE TABLE IF NOT EXISTS sesh_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS sesh_state (namespace TEXT PRIMARY KEY, state) WITHOUT ROWID;
                 INSERT OR IGNORE INTO sesh_meta (key, value) VALUES ('schema_version', 1);",
            )?;
            transaction.commit()
        });
        if let Err(e) = created {
            return Err(sqlite_error("cannot create sesh's tables", e));
        }
        drop(connection);
        let version = self.read_cell("SELECT value FROM sesh_meta WHERE key = ?1", SCHEMA_KEY)?;
        match version {
            Cell::Integer(v) if v == SCHEMA_VERSION => Ok(()),
            Cell::Integer(v) if v > SCHEMA_VERSION => Err(Error::store(format!(
                "the store was written by a newer sesh (schema {v})"
            ))),
            _ => {
                // sesh's own tables are there: only the version cell is damaged.
                self.connection()
                    .execute(UPSERT_META, params![SCHEMA_KEY, SCHEMA_VERSION])
                    .map_err(|e| sqlite_error("cannot repair the schema version", e))?;
                self.repairs.push(Error::corrupt(
                    "the store's schema version was unreadable and was rewritten",
                ));
                Ok(())
            }
        }
    }

    /// Writes one row in its own (autocommit) transaction, with a cached statement.
    fn upsert(&self, sql: &str, key: &str, value: &str, what: &str) -> Result<()> {
        self.connection()
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(params![key, value]))
            .map(|_| ())
            .map_err(|e| sqlite_error(&format!("cannot write the {what}"), e))
    }

    fn read_cell(&self, sql: &str, key: &str) -> Result<Cell> {
        self.connection()
            .query_row(sql, params![key], |row| {
                Ok(match row.get_ref(0)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(i) => Cell::Integer(i),
                    ValueRef::Text(t) => match std::str::from_utf8(t) {
                        Ok(text) => Cell::Text(text.to_owned()),
                        Err(_) => Cell::Unreadable,
                    },
                    ValueRef::Real(_) | ValueRef::Blob(_) => Cell::Unreadable,
                })
            })
            .optional()
            .map(|cell| cell.unwrap_or(Cell::Missing))
            .map_err(|e| sqlite_error("cannot read the store", e))
    }

    /// Text of a record; a cell of another type is unreadable, reported as such.
    fn read_text(&self, sql: &str, key: &str, what: &str) -> Result<Option<String>> {
        match self.read_cell(sql, key)? {
            Cell::Missing => Ok(None),
            Cell::Text(text) => Ok(Some(text)),
            _ => Err(Error::corrupt(format!("the stored {what} is not text"))),
        }
    }
}

/// Runs `step` again while another connection holds the lock it needs. The busy timeout
/// covers most waits, but SQLite answers a journal-mode switch that races another opener
/// with "database is locked" at once, without calling the busy handler.
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if matches!(
                    error.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// Reads the schema and every row of sesh's own tables (a few: one per namespace).
/// Returns the names of the file's tables.
fn verify_readable(connection: &Connection) -> Result<Vec<String>> {
    let unreadable = |e: rusqlite::Error| match &e {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::DiskFull =>
        {
            sqlite_error("cannot read the store", e)
        }
        _ => store_error("the store file is not a readable SQLite database", e),
    };
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(unreadable)?;
    for table in ["sesh_meta", "sesh_state"] {
        if !tables.iter().any(|t| t == table) {
            continue;
        }
        let mut statement = connection
            .prepare(&format!("SELECT * FROM {table}"))
            .map_err(unreadable)?;
        let columns = statement.column_count();
        let mut rows = statement.query([]).map_err(unreadable)?;
        while let Some(row) = rows.next().map_err(unreadable)? {
            for column in 0..columns {
                row.get_ref(column).map_err(unreadable)?;
            }
        }
    }
    Ok(tables)
}

enum Cell {
    Missing,
    Null,
    Integer(i64),
    Text(String),
    Unreadable,
}

/// Handles on one file in this process learn of a user reset through one [`SharedUser`].
fn shared_user_for(path: &Path) -> Arc<SharedUser> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Weak<SharedUser>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut files = FILES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    files.retain(|_, shared| shared.strong_count() > 0);
    if let Some(shared) = files.get(&key).and_then(Weak::upgrade) {
        return shared;
    }
    let shared = Arc::new(SharedUser::default());
    files.insert(key, Arc::downgrade(&shared));
    shared
}

/// Creates the file with mode 0600 when it does not exist, so that SQLite (and its WAL
/// and shared-memory files, which copy the database's mode) never make it world-readable.
fn create_owner_only(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(store_error("cannot create the store file", err)),
    }
}

impl Store for SqliteStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::Sqlite
    }

    fn load_user(&mut self) -> Result<Option<String>> {
        self.read_text(
            "SELECT value FROM sesh_meta WHERE key = ?1",
            USER_KEY,
            "user id",
        )
    }

    fn shared_user(&self) -> Arc<SharedUser> {
        self.shared_user.clone()
    }

    fn take_repairs(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.repairs)
    }

    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn claim_user(&mut self, candidate: &str) -> Result<String> {
        let mut connection = self.connection();
        let claimed = (|| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            transaction.execute(
                "INSERT OR IGNORE INTO sesh_meta (key, value) VALUES (?1, ?2)",
                params![USER_KEY, candidate],
            )?;
            let kept: String = transaction.query_row(
                "SELECT value FROM sesh_meta WHERE key = ?1",
                params![USER_KEY],
                |row| row.get(0),
            )?;
            transaction.commit()?;
            Ok(kept)
        })();
        claimed.map_err(|e: rusqlite::Error| sqlite_error("cannot keep the user id", e))
    }

    fn save(&mut self, user_id: Option<&str>, namespace: &str, state: &str) -> Result<()> {
        let mut connection = self.connection();
        let saved = (|| {
            let transaction = connection.transaction()?;
            if let Some(user_id) = user_id {
                transaction
                    .prepare_cached(UPSERT_META)?
                    .execute(params![USER_KEY, user_id])?;
            }
            transaction
                .prepare_cached(UPSERT_STATE)?
                .execute(params![namespace, state])?;
            transaction.commit()
        })();
        saved.map_err(|e| sqlite_error("cannot write the session state", e))
    }

    fn database_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn claim_store_id(&mut self, candidate: &str) -> Result<String> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT OR IGNORE INTO sesh_meta (key, value) VALUES (?1, ?2)",
                params![STORE_ID_KEY, candidate],
            )
            .and_then(|_| {
                connection.query_row(
                    "SELECT value FROM sesh_meta WHERE key = ?1",
                    params![STORE_ID_KEY],
                    |row| row.get::<_, String>(0),
                )
            })
            .map_err(|e| sqlite_error("cannot keep the store id", e))
    }

    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.upsert(UPSERT_META, USER_KEY, user_id, "user id")
    }

    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        self.read_text(
            "SELECT state FROM sesh_state WHERE namespace = ?1",
            namespace,
            "session state",
        )
    }

    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        self.upsert(UPSERT_STATE, namespace, state, "session state")
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sesh-sqlite-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.db")
    }

    #[test]
    fn keeps_user_and_state_across_opens() {
        let path = temp_path("roundtrip");
        {
            let mut store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.load_user().unwrap(), None);
            store.save_user("u").unwrap();
            store.save_state("a", "{\"x\":1}").unwrap();
            store.save_state("a", "{\"x\":2}").unwrap();
            store.flush().unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load_user().unwrap().as_deref(), Some("u"));
        assert_eq!(store.load_state("a").unwrap().as_deref(), Some("{\"x\":2}"));
        assert_eq!(store.load_state("b").unwrap(), None);
        assert_eq!(store.storage_mechanism(), StorageMechanism::Sqlite);
    }

    #[cfg(unix)]
    #[test]
    fn creates_the_file_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("mode");
        SqliteStore::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn refuses_a_file_that_is_not_a_database_and_leaves_it_untouched() {
        let path = temp_path("notadb");
        let garbage = b"this is a text file, not a database, and it stays that way\n".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert_eq!(err.kind, ErrorKind::StoreError);
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
        assert!(!path.with_extension("db-wal").exists());
    }

    #[test]
    fn shares_the_file_with_the_hosts_own_tables() {
        let path = temp_path("shared");
        {
            let host = Connection::open(&path).unwrap();
            host.execute_batch(
                "CREATE TABLE host_things (a); INSERT INTO host_things VALUES (42);",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        store.save_state("n", "{}").unwrap();
        drop(store);
        let host = Connection::open(&path).unwrap();
        let kept: i64 = host
            .query_row("SELECT a FROM host_things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 42);
    }

    #[test]
    fn keeps_the_journal_mode_of_the_hosts_own_database_and_says_so() {
        let path = temp_path("journal");
        {
            let host = Connection::open(&path).unwrap();
            host.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE host_things (a);")
                .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        store.save_state("n", "{}").unwrap();
        let notes = store.take_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("delete journal mode"), "{notes:?}");
        drop(store);
        let host = Connection::open(&path).unwrap();
        let mode: String = host
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        // A store sesh made itself is in WAL and says nothing.
        let own = temp_path("journal-own");
        let mut store = SqliteStore::open(&own).unwrap();
        assert!(store.take_notes().is_empty());
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = sqlite_error("cannot write the session state", full);
        assert_eq!(err.kind, ErrorKind::StoreError);
        assert!(err.message.contains("the disk is full"), "{}", err.message);
    }

    #[test]
    fn a_cell_of_the_wrong_type_is_corrupt_state() {
        let path = temp_path("mistyped");
        SqliteStore::open(&path).unwrap();
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch(
                "INSERT INTO sesh_state VALUES ('n', x'00ff');
                 INSERT INTO sesh_meta VALUES ('user_id', 12);",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.load_state("n").unwrap_err().kind,
            ErrorKind::CorruptState
        );
        assert_eq!(store.load_user().unwrap_err().kind, ErrorKind::CorruptState);
    }
}
