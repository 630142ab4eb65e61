//! `sesh-inspect PATH`: what an SQLite store of sesh holds, read strictly read-only.
//!
//! The database is opened with `SQLITE_OPEN_READ_ONLY` (URI `file:PATH?mode=ro`; a missing
//! file is never created) and read in one plain read transaction: no write, no journal-mode
//! switch, no lock an app would wait for. The coordination file `PATH-sesh` is opened
//! `O_RDONLY` and its bytes read with `pread`; the processes holding a namespace are asked
//! of the kernel with `fcntl(F_GETLK)`, which takes no lock. README, "Seeing sessions".
//!
//! Exit status: 0 read; 2 no such file; 3 not an SQLite database, or damaged; 4 an SQLite
//! database without sesh's tables; 5 written by a newer sesh (schema version); 1 any other
//! failure (cannot read); 64 bad arguments.

#[path = "common/span.rs"]
mod span;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Value, json};
use sesh::engine::state::{self, NamespaceState};
use sesh::engine::{Config, Engine, Notice};
use sesh::id::SequentialIds;
use sesh::store::StorageMechanism;
use sesh::sync::coord::{self, CoordFile, Image};
use sesh::timestamp::format_iso8601;
use span::span;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use uuid::Uuid;

const EXIT_OTHER: u8 = 1;
const EXIT_MISSING: u8 = 2;
const EXIT_NOT_SQLITE: u8 = 3;
const EXIT_FOREIGN: u8 = 4;
const EXIT_NEWER: u8 = 5;
const EXIT_USAGE: u8 = 64;

/// The schema version this build reads (the library's).
const SCHEMA_VERSION: i64 = sesh::store::sqlite::SCHEMA_VERSION;
/// The default timeouts the verdict "would it continue" is judged with.
const DEFAULT_TIMEOUT_S: u64 = 1800;
/// How far the default clock may read behind a stored activity and meet it (README).
const CLOCK_ALLOWANCE_MS: i64 = 1000;

const USAGE: &str = "usage: sesh-inspect [--json] [--now MS] PATH\n\
    Shows what the SQLite store at PATH (and its coordination file PATH-sesh) holds, \
    read-only.\n  --json     one JSON object instead of text\n  --now MS   judge times \
    against MS (ms since the epoch) instead of the system clock\n";

struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let mut json_out = false;
    let mut now = None;
    let mut path = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--json") => json_out = true,
            Some("--now") => match args.next().and_then(|v| v.to_str()?.parse::<i64>().ok()) {
                Some(ms) if sesh::timestamp::is_valid(ms) => now = Some(ms),
                _ => return usage("--now takes milliseconds since the epoch"),
            },
            Some("-h" | "--help") => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(flag) if flag.starts_with("--") => {
                return usage(&format!("unknown option {flag}"));
            }
            _ if path.is_none() => path = Some(PathBuf::from(arg)),
            _ => return usage("one PATH only"),
        }
    }
    let Some(path) = path else {
        return usage("no PATH given");
    };
    let now = now.unwrap_or_else(|| sesh::timestamp::system_time_ms(std::time::SystemTime::now()));
    match inspect(&path, now) {
        Ok(report) => {
            if json_out {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", text(&report));
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("sesh-inspect: {}: {}", path.display(), failure.message);
            if json_out {
                println!(
                    "{}",
                    json!({"path": path.display().to_string(), "error": failure.message,
                           "exit_status": failure.code})
                );
            }
            ExitCode::from(failure.code)
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprint!("sesh-inspect: {message}\n{USAGE}");
    ExitCode::from(EXIT_USAGE)
}

/// `file:` URI of a path, with the characters a URI gives a meaning escaped.
fn uri_for(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'?' | b'#' | b'%' | b'"' | b' ' | 0x00..=0x1f | 0x7f..=0xff => {
                let _ = write!(uri, "%{byte:02X}");
            }
            _ => uri.push(*byte as char),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

fn sqlite_failure(err: &rusqlite::Error) -> Failure {
    let damaged = matches!(
        err,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    );
    if damaged {
        fail(
            EXIT_NOT_SQLITE,
            format!("not an SQLite database, or a damaged one ({err})"),
        )
    } else {
        fail(EXIT_OTHER, format!("cannot read the store ({err})"))
    }
}

/// A `sesh_meta` cell, as text for the report.
enum Cell {
    Missing,
    Integer(i64),
    Text(String),
    Other(&'static str),
}

fn meta(connection: &Connection, key: &str) -> Result<Cell, Failure> {
    connection
        .query_row("SELECT value FROM sesh_meta WHERE key = ?1", [key], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Integer(i) => Cell::Integer(i),
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(t) => Cell::Text(t.to_owned()),
                    Err(_) => Cell::Other("text that is not UTF-8"),
                },
                ValueRef::Null => Cell::Other("NULL"),
                ValueRef::Real(_) => Cell::Other("a real number"),
                ValueRef::Blob(_) => Cell::Other("a blob"),
            })
        })
        .optional()
        .map(|cell| cell.unwrap_or(Cell::Missing))
        .map_err(|e| sqlite_failure(&e))
}

fn uuid_cell(cell: Cell) -> (Option<Uuid>, Option<String>) {
    match cell {
        Cell::Text(text) => match sesh::id::parse_hyphenated(&text) {
            Some(id) => (Some(id), None),
            None => (None, Some(format!("unreadable ({text:?} is not a UUID)"))),
        },
        Cell::Missing => (None, Some("none yet".into())),
        Cell::Integer(i) => (None, Some(format!("unreadable (the integer {i})"))),
        Cell::Other(what) => (None, Some(format!("unreadable ({what})"))),
    }
}

/// What SQLite holds, read in one read transaction.
struct Stored {
    schema_version: Value,
    user_id: (Option<Uuid>, Option<String>),
    store_id: (Option<Uuid>, Option<String>),
    journal_mode: String,
    /// (namespace, state and generation, or why it is unreadable)
    namespaces: Vec<(String, Decoded)>,
}

fn read_sqlite(path: &Path) -> Result<Stored, Failure> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(
                EXIT_MISSING,
                "no such file (sesh-inspect never creates one)",
            ));
        }
        Err(e) => return Err(fail(EXIT_OTHER, format!("cannot read it ({e})"))),
        Ok(meta) if meta.is_dir() => return Err(fail(EXIT_NOT_SQLITE, "a directory, not a store")),
        Ok(_) => {}
    }
    // The header first, with a plain read: SQLite takes an empty file for an empty database.
    let mut head = [0u8; 20];
    let read = {
        use std::io::Read;
        let mut file = std::fs::File::open(path)
            .map_err(|e| fail(EXIT_OTHER, format!("cannot open it for reading ({e})")))?;
        let mut done = 0;
        while done < head.len() {
            match file.read(&mut head[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(EXIT_OTHER, format!("cannot read it ({e})"))),
            }
        }
        done
    };
    if read == 0 {
        return Err(fail(EXIT_FOREIGN, "an empty file: no sesh store (yet)"));
    }
    if read < 20 || &head[..16] != b"SQLite format 3\0" {
        return Err(fail(
            EXIT_NOT_SQLITE,
            "not an SQLite database (its first bytes are not SQLite's header)",
        ));
    }
    // A WAL database whose -wal and -shm files are gone was closed by its last user, which
    // checkpointed everything into it: read it as immutable, so that SQLite neither makes
    // those files (a read-only connection would, and leave them behind) nor locks. Else the
    // read is an ordinary reader's: the live -shm, or a shared lock in rollback mode.
    let wal_mode = head[18] == 2 && head[19] == 2;
    let sibling = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name).exists()
    };
    let immutable = wal_mode && !sibling("-wal") && !sibling("-shm");
    let mut uri = uri_for(path);
    if immutable {
        uri.push_str("&immutable=1");
    }
    let connection = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_failure(&e))?;
    let _ = connection.busy_timeout(std::time::Duration::from_secs(2));
    // One plain read transaction: every figure comes from one snapshot.
    connection
        .execute_batch("BEGIN DEFERRED")
        .map_err(|e| sqlite_failure(&e))?;
    let stored = read_tables(&connection);
    let _ = connection.execute_batch("COMMIT");
    // An immutable read reports "delete"; the header says what the file is in.
    stored.map(|mut stored| {
        if wal_mode {
            stored.journal_mode = "wal".into();
        }
        stored
    })
}

fn read_tables(connection: &Connection) -> Result<Stored, Failure> {
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| sqlite_failure(&e))?;
    if !tables.iter().any(|t| t == "sesh_meta") {
        return Err(fail(
            EXIT_FOREIGN,
            "an SQLite database without sesh's tables (no sesh_meta): not a sesh store",
        ));
    }
    let schema_version = match meta(connection, "schema_version")? {
        Cell::Integer(v) if v > SCHEMA_VERSION => {
            return Err(fail(
                EXIT_NEWER,
                format!(
                    "written by a newer sesh (schema version {v}; this sesh-inspect reads {SCHEMA_VERSION})"
                ),
            ));
        }
        Cell::Integer(v) => json!(v),
        Cell::Missing => json!("missing (the library rewrites it at the next open)"),
        Cell::Text(t) => json!(format!("unreadable ({t:?}; the library rewrites it)")),
        Cell::Other(what) => json!(format!("unreadable ({what}; the library rewrites it)")),
    };
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap_or_else(|_| "unknown".into());
    let user_id = uuid_cell(meta(connection, "user_id")?);
    let store_id = uuid_cell(meta(connection, "store_id")?);
    let mut namespaces = Vec::new();
    if tables.iter().any(|t| t == "sesh_state") {
        let mut statement = connection
            .prepare("SELECT namespace, state FROM sesh_state ORDER BY namespace")
            .map_err(|e| sqlite_failure(&e))?;
        let mut rows = statement.query([]).map_err(|e| sqlite_failure(&e))?;
        while let Some(row) = rows.next().map_err(|e| sqlite_failure(&e))? {
            let name = match row.get_ref(0).map_err(|e| sqlite_failure(&e))? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            };
            let decoded = match row.get_ref(1).map_err(|e| sqlite_failure(&e))? {
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(text) => state::decode_at(text).map_err(|e| e.message),
                    Err(_) => Err("the state is not UTF-8 text".into()),
                },
                _ => Err("the state is not text".into()),
            };
            namespaces.push((name, decoded));
        }
    }
    Ok(Stored {
        schema_version,
        user_id,
        store_id,
        journal_mode,
        namespaces,
    })
}

/// The coordination file, read: its image and the open descriptor (for F_GETLK).
struct Coordination {
    path: PathBuf,
    status: Result<(Image, std::fs::File), String>,
}

fn read_coordination(database: &Path, store_id: Option<Uuid>) -> Coordination {
    let path = CoordFile::path_for(database);
    let status = (|| {
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    "missing (made at the next open; until then SQLite's state is all there is)"
                        .to_owned(),
                );
            }
            Err(e) => return Err(format!("cannot be opened for reading ({e})")),
        };
        let mut bytes = vec![0u8; coord::file_size() + 1];
        let mut done = 0;
        while done < bytes.len() {
            use std::os::unix::fs::FileExt;
            match file.read_at(&mut bytes[done..], done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot be read ({e})")),
            }
        }
        bytes.truncate(done);
        let image = coord::read_image(&bytes)?;
        if store_id.is_some_and(|id| id != image.store_id) {
            return Err(
                "it belongs to another database (another store id): the library rebuilds it"
                    .to_owned(),
            );
        }
        Ok((image, file))
    })();
    Coordination { path, status }
}

fn iso(ms: i64) -> String {
    format_iso8601(ms)
}

/// "12 min ago", "in 3 s" (a time ahead of now).
fn ago(now: i64, then: i64) -> String {
    let (length, ahead) = if now >= then {
        (now - then, false)
    } else {
        (then - now, true)
    };
    let text = span(length);
    if ahead {
        format!("{text} ahead of now")
    } else {
        format!("{text} ago")
    }
}

/// What a handle opened now with the default options would do with `state`, judged as the
/// library judges it at open (the first holder; a handle opening beside a live one joins).
fn verdict(state: &NamespaceState, store_user: Uuid, now: i64, held: bool) -> Value {
    let Some(session) = &state.session else {
        return json!({"continues": false, "reason": null,
            "text": "no current session: the next event starts one"});
    };
    if held {
        return json!({"continues": true, "reason": null,
            "text": "a process holds the namespace: a handle opened now joins its session"});
    }
    let config = Config {
        foreground_timeout_seconds: DEFAULT_TIMEOUT_S,
        background_timeout_seconds: DEFAULT_TIMEOUT_S,
        ..Config::default()
    };
    // The default clock meets a stored activity up to a second ahead of it.
    let now = sesh::sync::shared::meet(now, session.last_activity, CLOCK_ALLOWANCE_MS);
    let mut notices = Vec::new();
    let opened = Engine::open(
        config,
        Box::new(SequentialIds::default()),
        StorageMechanism::Sqlite,
        store_user,
        Some(state.clone()),
        now,
        &mut notices,
    );
    let reason = notices.iter().find_map(|notice| match notice {
        Notice::Ended(summary) => serde_json::to_value(summary.reason).ok(),
        _ => None,
    });
    let judged = if state.in_background {
        "background"
    } else {
        "foreground"
    };
    match (opened, reason) {
        (Err(e), _) => {
            json!({"continues": null, "reason": null, "text": format!("cannot judge: {e}")})
        }
        (Ok(_), None) => json!({"continues": true, "reason": null, "text": format!(
            "yes: {} idle, within the {judged} timeout ({DEFAULT_TIMEOUT_S} s)",
            span((now - session.last_activity).max(0)))}),
        (Ok(_), Some(reason)) => {
            let why = match reason.as_str() {
                Some("timeout") => format!(
                    "{} idle, past the {judged} timeout ({DEFAULT_TIMEOUT_S} s)",
                    span(now - session.last_activity)
                ),
                Some("clock_changed") => "the clock reads before the last activity".to_owned(),
                Some("user_changed") => "the store's user id changed since".to_owned(),
                Some(other) => other.to_owned(),
                None => String::new(),
            };
            json!({"continues": false, "reason": reason,
                   "text": format!("no: it would end ({}): {why}", reason.as_str().unwrap_or("?"))})
        }
    }
}

fn inspect(path: &Path, now: i64) -> Result<Value, Failure> {
    let stored = read_sqlite(path)?;
    let coordination = read_coordination(path, stored.store_id.0);
    let image = coordination.status.as_ref().ok();
    let (user_id, user_source) = match (image.and_then(|(i, _)| i.user), stored.user_id.0) {
        (Some(user), _) => (Some(user), "coordination file"),
        (None, Some(user)) => (Some(user), "sqlite"),
        (None, None) => (None, "none"),
    };
    let mut namespaces: Vec<Value> = Vec::new();
    let mut names: Vec<String> = stored.namespaces.iter().map(|(n, _)| n.clone()).collect();
    if let Some((image, _)) = image {
        for slot in &image.slots {
            if slot.identity_ok && !names.contains(&slot.name) {
                names.push(slot.name.clone());
            }
        }
    }
    for name in names {
        let sqlite = stored
            .namespaces
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, decoded)| decoded.clone());
        namespaces.push(namespace_report(&name, sqlite, image, user_id, now));
    }
    let coordination_json = match &coordination.status {
        Ok((image, _)) => json!({
            "path": coordination.path.display().to_string(),
            "status": "ok",
            "store_id": image.store_id.to_string(),
            "user_id": image.user.map(|u| u.to_string()),
            "claimed_slots": image.slots.len(),
        }),
        Err(why) => json!({
            "path": coordination.path.display().to_string(),
            "status": "unusable",
            "note": why,
        }),
    };
    let text_or = |(id, note): &(Option<Uuid>, Option<String>)| match id {
        Some(id) => json!(id.to_string()),
        None => json!(note.clone().unwrap_or_default()),
    };
    Ok(json!({
        "path": path.display().to_string(),
        "now": now,
        "now_iso": iso(now),
        "schema_version": stored.schema_version,
        "journal_mode": stored.journal_mode,
        "user_id": user_id.map(|u| u.to_string()),
        "user_id_source": user_source,
        "sqlite_user_id": text_or(&stored.user_id),
        "store_id": text_or(&stored.store_id),
        "coordination_file": coordination_json,
        "namespaces": namespaces,
    }))
}

type Decoded = Result<(NamespaceState, u32), String>;

fn namespace_report(
    name: &str,
    sqlite: Option<Decoded>,
    image: Option<&(Image, std::fs::File)>,
    user_id: Option<Uuid>,
    now: i64,
) -> Value {
    let slot = image.and_then(|(image, file)| {
        image
            .slots
            .iter()
            .find(|s| s.is_for(name))
            .map(|s| (s, coord::holder_pids(file, s.slot)))
    });
    let stored_gen = match &sqlite {
        Some(Ok((_, generation))) => *generation,
        _ => 0,
    };
    // As the library chooses (src/sync/shared.rs, `choose`): the newest whole record when it
    // is at least as new as SQLite's state, with the hot line's counters when the hot line
    // names that record's generation; else SQLite's state.
    let mut event_index_source = "sqlite (a reservation: 1,024 to 65,536 ahead of the live index)";
    let mut activity_source = "sqlite";
    let mut chosen: Option<(NamespaceState, String)> = match &sqlite {
        Some(Ok((state, generation))) => {
            Some((state.clone(), format!("sqlite (generation {generation})")))
        }
        _ => None,
    };
    if let Some((s, _)) = &slot {
        if let Some(record) = s.newest.as_ref().filter(|r| r.generation >= stored_gen) {
            let mut state = record.state.clone();
            let mut source = format!("coordination record (generation {})", record.generation);
            event_index_source = "coordination record";
            activity_source = "coordination record";
            if coord::gen_of(s.gen_index) == record.generation {
                if let Some(session) = state.session.as_mut() {
                    session.event_index = coord::index_of(s.gen_index);
                    session.last_activity = s.last_activity.max(session.last_activity);
                    event_index_source = "coordination hot line";
                    activity_source = "coordination hot line";
                    source.push_str(" with the hot line's counters");
                }
            }
            chosen = Some((state, source));
        }
    }
    if chosen.as_ref().is_some_and(|(s, _)| s.session.is_none()) {
        event_index_source = "";
        activity_source = "";
    }
    let (holder, writer) = slot.as_ref().map_or((None, None), |(_, pids)| *pids);
    let coordination = slot.as_ref().map(|(s, _)| {
        json!({
            "slot": s.slot,
            "generation": coord::gen_of(s.gen_index),
            "hot_event_index": coord::index_of(s.gen_index),
            "hot_last_activity": s.last_activity,
            "frozen": coord::is_frozen(s.gen_index),
            "whole_record_copies": s.whole_copies,
            "record_generation": s.newest.as_ref().map(|r| r.generation),
            "record_reserved": s.newest.as_ref().map(|r| r.reserved),
            "record_stored_generation": s.newest.as_ref().map(|r| r.stored_gen),
        })
    });
    let sqlite_json = match &sqlite {
        None => json!({"status": "no row"}),
        Some(Ok((state, generation))) => json!({
            "status": "ok", "generation": generation,
            "event_index": state.session.as_ref().map(|s| s.event_index),
            "last_activity": state.session.as_ref().map(|s| s.last_activity),
        }),
        Some(Err(why)) => json!({"status": "unreadable", "note": why}),
    };
    let mut report = json!({
        "namespace": name,
        "sqlite": sqlite_json,
        "coordination": coordination,
        "holder_pid": holder,
        "writer_pid": writer,
    });
    let Some((state, source)) = chosen else {
        report["source"] = json!(null);
        report["session"] = json!(null);
        report["note"] = json!("no readable state: the next open starts this namespace clean");
        return report;
    };
    report["source"] = json!(source);
    report["session_index"] = json!(state.session_index);
    report["last_session_id"] = json!(state.last_session_id.map(|u| u.to_string()));
    report["in_background"] = json!(state.in_background);
    report["app_state"] = json!(if state.in_background {
        "background"
    } else {
        "foreground"
    });
    report["anonymous"] = json!(state.anonymous);
    report["session"] = match &state.session {
        None => json!(null),
        Some(s) => json!({
            "id": s.id.to_string(),
            "short_id": s.id.simple().to_string()[..8],
            "index": state.session_index,
            "event_index": s.event_index,
            "event_index_source": event_index_source,
            "previous_id": s.previous_id.map(|u| u.to_string()),
            "first_event_id": s.first_event.map(|f| f.id.to_string()),
            "first_event_timestamp": s.first_event.map(|f| f.timestamp),
            "first_event_iso": s.first_event.map(|f| iso(f.timestamp)),
            "started_at": s.started_at,
            "started_iso": iso(s.started_at),
            "last_activity": s.last_activity,
            "last_activity_iso": iso(s.last_activity),
            "last_activity_ago": ago(now, s.last_activity),
            "last_activity_source": activity_source,
            "background_index": s.background_index,
            "foreground_index": s.foreground_index,
        }),
    };
    report["open_now"] = verdict(
        &state,
        user_id.unwrap_or(state.user_id),
        now,
        holder.is_some(),
    );
    report
}

fn text(report: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    };
    let _ = writeln!(out, "store          {}", s(&report["path"]));
    let _ = writeln!(
        out,
        "now            {} ({})",
        s(&report["now_iso"]),
        s(&report["now"])
    );
    let _ = writeln!(out, "schema version {}", s(&report["schema_version"]));
    let _ = writeln!(out, "journal mode   {}", s(&report["journal_mode"]));
    let _ = writeln!(
        out,
        "user id        {} (from: {})",
        s(&report["user_id"]),
        s(&report["user_id_source"])
    );
    let _ = writeln!(out, "store id       {}", s(&report["store_id"]));
    let c = &report["coordination_file"];
    match c["status"].as_str() {
        Some("ok") => {
            let _ = writeln!(
                out,
                "coordination   {}: {} namespace slot(s) claimed",
                s(&c["path"]),
                s(&c["claimed_slots"])
            );
        }
        _ => {
            let _ = writeln!(out, "coordination   {}: {}", s(&c["path"]), s(&c["note"]));
        }
    }
    let namespaces = report["namespaces"].as_array().cloned().unwrap_or_default();
    if namespaces.is_empty() {
        let _ = writeln!(out, "\nno namespace yet");
    }
    for ns in namespaces {
        let _ = writeln!(out, "\nnamespace \"{}\"", s(&ns["namespace"]));
        let _ = writeln!(out, "  state from        {}", s(&ns["source"]));
        if let Some(note) = ns["note"].as_str() {
            let _ = writeln!(out, "  note              {note}");
        }
        if ns["sqlite"]["status"] == "unreadable" {
            let _ = writeln!(
                out,
                "  sqlite row        unreadable: {}",
                s(&ns["sqlite"]["note"])
            );
        }
        let session = &ns["session"];
        if session.is_null() {
            let _ = writeln!(
                out,
                "  session           none (sessions so far: {})",
                s(&ns["session_index"])
            );
        } else {
            let _ = writeln!(
                out,
                "  session           {} (#{})",
                s(&session["id"]),
                s(&session["index"])
            );
            let _ = writeln!(
                out,
                "  eventIndex        {}   (from: {})",
                s(&session["event_index"]),
                s(&session["event_index_source"])
            );
            let _ = writeln!(
                out,
                "  first event       {} at {}",
                s(&session["first_event_id"]),
                s(&session["first_event_iso"])
            );
            let _ = writeln!(
                out,
                "  last activity     {} ({}; from: {})",
                s(&session["last_activity_iso"]),
                s(&session["last_activity_ago"]),
                s(&session["last_activity_source"])
            );
            let _ = writeln!(out, "  previous session  {}", s(&session["previous_id"]));
            let _ = writeln!(
                out,
                "  lifecycle         background {}, foreground {}",
                s(&session["background_index"]),
                s(&session["foreground_index"])
            );
        }
        if !ns["session_index"].is_null() {
            let _ = writeln!(out, "  app state         {}", s(&ns["app_state"]));
            let _ = writeln!(
                out,
                "  anonymous         {}",
                if ns["anonymous"] == true { "yes" } else { "no" }
            );
        }
        if !ns["open_now"].is_null() {
            let _ = writeln!(
                out,
                "  if opened now     {} (default timeouts {DEFAULT_TIMEOUT_S} s)",
                s(&ns["open_now"]["text"])
            );
        }
        let slot = &ns["coordination"];
        if slot.is_null() {
            let _ = writeln!(out, "  held by           none (no coordination slot)");
        } else {
            let _ = writeln!(
                out,
                "  held by           {}{}",
                ns["holder_pid"]
                    .as_i64()
                    .map_or("none".to_owned(), |pid| format!(
                        "process {pid} (and maybe others)"
                    )),
                ns["writer_pid"]
                    .as_i64()
                    .map_or(String::new(), |pid| format!("; process {pid} is writing"))
            );
            let _ = writeln!(
                out,
                "  coordination      slot {}, generation {}{}, hot eventIndex {}, record copies whole: {}",
                s(&slot["slot"]),
                s(&slot["generation"]),
                if slot["frozen"] == true {
                    " (frozen: a writer is at work or died)"
                } else {
                    ""
                },
                s(&slot["hot_event_index"]),
                s(&slot["whole_record_copies"])
            );
        }
    }
    out
}
