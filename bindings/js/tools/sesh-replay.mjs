#!/usr/bin/env node
// sesh-replay for the web build: plays a scenario of tests/scenarios/ (the format is
// docs/replay.md) against sesh through this package's public JavaScript API (index.js)
// alone, and prints what it answered, one JSON object a line, exactly as the native
// sesh-replay (examples/c/sesh-replay.c, over the C ABI) prints it. tests/scenarios/check.py
// compares the output with the same .expected files as the native driver's:
//
//     python3 tests/scenarios/check.py --web --replay bindings/js/tools/sesh-replay.mjs
//     node bindings/js/tools/sesh-replay.mjs [FILE]    # stdin without FILE (or with -)
//
// It makes the choices sesh-replay.c makes (docs/replay.md, "Choices sesh-replay makes"),
// and these of its own, for what the web build does not have:
//   - `store memory` is the JavaScript memory store ('memory'). `store custom PATH` is the
//     web store (the one a browser gets with localStorage) over FileStorage below, a
//     Storage-like object that keeps its keys in the file PATH, read at open and rewritten
//     atomically on every setItem, so that it survives `kill` and is there for the next run,
//     as file_store.c is for the native driver. A PATH that exists but is no such file is
//     left alone and the next `open` prints "store_error" with no handle, as there.
//   - `store sqlite PATH`: the web build has no SQLite store; the next `open` prints
//     "unsupported" (what the C ABI answers in a build without SQLite).
//   - `T @NAME ...` lines: no named processes (the fuzz harness's SESH_REPLAY_NO_PROCS
//     build does the same): status "unsupported" with "proc"; `T @NAME kill` prints nothing.
//   - The library's log messages go to stderr as "sesh-replay: log level N at t=T: MESSAGE",
//     N being the C ABI's level number for index.js's level name.
// Scenarios that use SQLite or named processes are not eligible for the web build
// (check.py's web_exclusions says which, and why).
//
// Exit status: 0 when the scenario was read to its end, 1 when FILE cannot be read, 2 on a
// usage error.

import { readFileSync, writeFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { open } from '../index.js';

// ----- output: written straight to the file descriptors, so that `kill` loses nothing ----

function writeAll(fd, text) {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

const LOG_LEVEL_NUMBERS = { error: 1, warn: 2, info: 3, debug: 4 };

// ----- bytes and JSON, as sesh-replay.c reads and writes them ------------------------------

const SPACE_BYTES = new Set([0x20, 0x09, 0x0d, 0x0a, 0x0b, 0x0c]); // C's isspace, "C" locale
const MAX_TOKENS = 64;

/** The tokens of a line (Buffers); at most MAX_TOKENS + 1, which means "too many". */
function tokenize(line) {
  const tokens = [];
  let i = 0;
  for (;;) {
    while (i < line.length && SPACE_BYTES.has(line[i])) i++;
    if (i >= line.length) return tokens;
    if (tokens.length === MAX_TOKENS) return [...tokens, null];
    const start = i;
    while (i < line.length && !SPACE_BYTES.has(line[i])) i++;
    tokens.push(line.subarray(start, i));
  }
}

/** A token as text to match (byte for byte). */
const word = (token) => token.toString('latin1');
/** A token as the string the JavaScript API takes. */
const utf8 = (token) => token.toString('utf8');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A decimal integer in int64's range (an optional '-' and digits, nothing else), or null. */
function parseInt64(text) {
  if (!/^-?[0-9]+$/.test(text)) return null;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

function parseFlag(text) {
  return text === '0' ? false : text === '1' ? true : null;
}

/** The length of the valid UTF-8 sequence at bytes[i], or 0 (sesh-replay.c's utf8_sequence). */
function utf8Sequence(bytes, i) {
  const c = bytes[i];
  let len;
  let cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (bytes.length - i < len) return 0;
  for (let k = 1; k < len; k++) {
    if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (bytes[i + k] & 0x3f);
  }
  if ((len === 3 && cp < 0x800) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff))
      || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/** Bytes as a JSON string, escaped as sesh-replay.c escapes them (not as JSON.stringify). */
function jsonString(bytes) {
  let out = '"';
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i];
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0x80) {
      const len = utf8Sequence(bytes, i);
      if (len === 0) {
        out += '\\ufffd';
        i++;
      } else {
        out += bytes.subarray(i, i + len).toString('utf8');
        i += len;
      }
      continue;
    } else out += String.fromCharCode(c);
    i++;
  }
  return `${out}"`;
}

const jsonText = (text) => jsonString(Buffer.from(text, 'utf8'));

// ----- the custom store: a Storage kept in a file ------------------------------------------

const STORE_FILE_MARK = 'sesh-replay web store';

/**
 * A stand-in for localStorage that persists: getItem/setItem over the keys of the file
 * `path` ({"format": STORE_FILE_MARK, "items": {key: value}}), read once when it is made and
 * rewritten (to a temporary file, then renamed over it) on every setItem.
 */
class FileStorage {
  constructor(path) {
    this.path = path;
    this.items = new Map();
    if (!existsSync(path)) return;
    const parsed = JSON.parse(readFileSync(path, 'utf8')); // throws: no such file
    if (parsed === null || typeof parsed !== 'object' || parsed.format !== STORE_FILE_MARK
        || parsed.items === null || typeof parsed.items !== 'object') {
      throw new Error('not a sesh-replay web store file');
    }
    for (const [key, value] of Object.entries(parsed.items)) {
      if (typeof value !== 'string') throw new Error(`the value of ${key} is not text`);
      this.items.set(key, value);
    }
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify({
      format: STORE_FILE_MARK, items: Object.fromEntries(this.items),
    }), { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}

// ----- scenario state ----------------------------------------------------------------------

let virtualNow = 0n; // what the injected clock reads: the current line's time
let callbacks = []; // what the session callbacks received during the current operation
let config = { bad: false, options: {} }; // the latest `config` line, as open() options
let store = { bad: false, kind: 'memory', path: null }; // the latest `store` line
let handle = null; // the Sesh of the latest successful open, closed or not; null before any

// ----- output lines ------------------------------------------------------------------------

/** {"op":…,["proc":…,]"t":…,"status":… */
function lineBegin(op, t, status, proc = null) {
  let out = `{"op":${jsonString(op)}`;
  if (proc !== null) out += `,"proc":${jsonString(proc)}`;
  return `${out},"t":${t === null ? 'null' : t.toString()},"status":${jsonText(status)}`;
}

function lineResults(entity, event) {
  const items = callbacks.map(({ kind, json }) => `{"kind":"${kind}","data":${json}}`);
  return `,"entity":${entity ?? 'null'},"event":${event ?? 'null'},"callbacks":[${items.join(',')}]`;
}

function lineEnd(text) {
  writeAll(1, `${text}}\n`);
}

function printResult(op, t, status, entity = null, event = null) {
  lineEnd(lineBegin(op, t, status) + lineResults(entity, event));
}

/** A line with a status and nothing else (sesh-replay.c's print_status_only). */
function printStatusOnly(op, t, status, proc = null) {
  let text = lineBegin(op, t, status, proc) + lineResults(null, null);
  if (word(op) === 'open') text += ',"fault":null';
  lineEnd(text);
}

const printInvalid = (op, t, proc = null) => printStatusOnly(op, t, 'invalid_argument', proc);

/** Runs one call of the JavaScript API: its result, or the SeshError's status. */
function attempt(body) {
  try {
    return { status: 'ok', value: body() };
  } catch (err) {
    if (typeof err?.status !== 'string') throw err; // not sesh's answer: a bug here
    return { status: err.status, value: null };
  }
}

// ----- operations --------------------------------------------------------------------------

function closeQuietly(sesh) {
  if (sesh !== null && !sesh.closed) attempt(() => sesh.close());
}

async function opOpen(t) {
  // A new open replaces the previous handle: it is closed first if it is still open.
  closeQuietly(handle);
  handle = null;
  let status = 'ok';
  if (config.bad || store.bad) {
    status = 'invalid_argument';
  } else if (store.kind === 'sqlite') {
    status = 'unsupported'; // the web build has no SQLite store
  } else {
    let storage = 'memory';
    if (store.kind === 'custom') {
      try {
        storage = new FileStorage(store.path);
      } catch (err) {
        writeAll(2, `sesh-replay: ${store.path} cannot be read as a custom store file (${err.message})\n`);
        status = 'store_error';
      }
    }
    if (status === 'ok') {
      try {
        handle = await open({
          ...config.options,
          store: storage,
          clock: () => Number(virtualNow),
          onSessionStart: (entity, json) => callbacks.push({ kind: 'session_start', json }),
          onSessionEnd: (summary, json) => callbacks.push({ kind: 'session_end', json }),
          onLog: (level, message) => writeAll(2, `sesh-replay: log level ${
            LOG_LEVEL_NUMBERS[level] ?? level} at t=${virtualNow}: ${message}\n`),
        });
      } catch (err) {
        if (typeof err?.status !== 'string') throw err;
        status = err.status;
      }
    }
  }
  const fault = handle !== null ? attempt(() => handle.lastFault).value?.status ?? null : null;
  lineEnd(`${lineBegin(Buffer.from('open'), t, status)}${lineResults(null, null)},"fault":${
    fault === null ? 'null' : jsonText(fault)}`);
}

/** track [EVENT_ID] [ts=MS] */
function opTrack(op, t, args) {
  let eventId = null;
  let timestamp = null;
  for (const arg of args) {
    const text = word(arg);
    if (text.startsWith('ts=')) {
      const ts = parseInt64(text.slice(3));
      if (timestamp !== null || ts === null) return printInvalid(op, t);
      timestamp = ts;
    } else {
      if (eventId !== null) return printInvalid(op, t);
      eventId = utf8(arg);
    }
  }
  if (handle === null) return printResult(op, t, 'closed');
  const options = {};
  if (eventId !== null) options.eventId = eventId;
  if (timestamp !== null) options.timestamp = Number(timestamp);
  const { status, value } = attempt(() => handle.trackJson(options));
  // The engine's "no session" (manual mode outside a session) is null from trackJson (the
  // JavaScript API's documented answer) and status NO_SESSION from the C ABI: the same
  // answer, printed as the C driver prints it.
  if (status === 'ok' && value === null) return printResult(op, t, 'no_session');
  return printResult(op, t, status, value);
}

/** background|foreground [EVENT_ID] */
function opTransition(op, t, toBackground, args) {
  if (args.length > 1) return printInvalid(op, t);
  if (handle === null) return printResult(op, t, 'closed');
  const options = args.length === 1 ? { eventId: utf8(args[0]) } : undefined;
  const { status, value } = attempt(() => (toBackground
    ? handle.background(options) : handle.foreground(options)));
  // null: nothing changed (no event, no entity), as the C ABI's NULL outputs and OK. A
  // change outside a session (manual mode) is an event with a null entity here and, with
  // the same event and no entity, status NO_SESSION from the C ABI: printed as the C driver
  // prints it.
  if (status === 'ok' && value !== null && value.entity === null) {
    return printResult(op, t, 'no_session', null, value.eventJson);
  }
  return printResult(op, t, status, value?.entityJson ?? null, value?.eventJson ?? null);
}

/** An operation on the handle that answers only with a status. */
function opSimple(op, t, call) {
  if (handle === null) return printResult(op, t, 'closed');
  return printResult(op, t, attempt(() => call(handle)).status);
}

const GET_KEYS = [
  'user_id', 'session_id', 'session_index', 'event_index', 'previous_session_id',
  'in_background', 'background_index', 'foreground_index', 'first_event_id',
  'first_event_timestamp', 'last_fault',
];

function opGet(t) {
  const { status, value: s } = handle === null ? { status: 'closed', value: null }
    : attempt(() => handle.state());
  const fields = s === null ? Object.fromEntries(GET_KEYS.map((k) => [k, null])) : {
    user_id: s.userId,
    session_id: s.sessionId,
    session_index: s.sessionIndex,
    event_index: s.eventIndex,
    previous_session_id: s.previousSessionId,
    in_background: s.inBackground,
    background_index: s.backgroundIndex,
    foreground_index: s.foregroundIndex,
    first_event_id: s.firstEventId,
    first_event_timestamp: s.firstEventTimestamp,
    last_fault: s.lastFault?.status ?? null,
  };
  let text = lineBegin(Buffer.from('get'), t, status);
  for (const key of GET_KEYS) {
    const v = fields[key];
    text += `,"${key}":${typeof v === 'string' ? jsonText(v) : v === null ? 'null' : String(v)}`;
  }
  lineEnd(text);
}

/** A config value: an int64 that the API gets as a number. */
function seconds(text) {
  const v = parseInt64(text);
  return v === null ? null : Number(v);
}

/** config KEY=VALUE ...: replaces the previous config line. */
function opConfig(args) {
  config = { bad: false, options: {} };
  const o = config.options;
  for (const arg of args) {
    const at = arg.indexOf(0x3d); // '='
    if (at < 0) {
      config.bad = true;
      continue;
    }
    const key = word(arg.subarray(0, at));
    const value = word(arg.subarray(at + 1));
    let parsed = null;
    switch (key) {
      case 'foreground_timeout': parsed = o.foregroundTimeout = seconds(value); break;
      case 'background_timeout': parsed = o.backgroundTimeout = seconds(value); break;
      case 'max_duration': parsed = o.maxDuration = seconds(value); break;
      case 'continue_on_restart': parsed = o.continueOnRestart = parseFlag(value); break;
      case 'anonymous': parsed = o.anonymous = parseFlag(value); break;
      case 'automatic':
        parsed = parseFlag(value);
        if (parsed !== null) o.manual = !parsed;
        break;
      case 'start_in_background': parsed = o.startInBackground = parseFlag(value); break;
      case 'namespace': parsed = o.namespace = utf8(arg.subarray(at + 1)); break; // any text
      default: break;
    }
    if (parsed === null) config.bad = true;
  }
  // A key whose value could not be read is left out, as the C driver leaves it unset.
  for (const [key, value] of Object.entries(o)) if (value === null) delete o[key];
}

/** store sqlite PATH | memory | custom PATH */
function opStore(args) {
  store = { bad: false, kind: 'memory', path: null };
  const kind = args.length > 0 ? word(args[0]) : '';
  if (args.length === 1 && kind === 'memory') {
    store.kind = 'memory';
  } else if (args.length === 2 && (kind === 'sqlite' || kind === 'custom')) {
    store.kind = kind;
    store.path = utf8(args[1]);
  } else {
    store.bad = true;
  }
}

function kill() {
  // Ends at once: nothing is closed, so what the handle had not written is lost.
  process.exit(0);
}

// ----- lines -------------------------------------------------------------------------------

const PROC_NAME = /^[A-Za-z0-9]+$/;

/**
 * A line `T @NAME ...`: the web build has no named processes, so it prints "unsupported"
 * (as sesh-replay built with SESH_REPLAY_NO_PROCS does) and returns true; false when the
 * line is no such line, which then runs as an ordinary line.
 */
function runProcLine(tokens) {
  if (tokens.length < 2 || tokens[1] === null) return false;
  const name = word(tokens[1]);
  if (!name.startsWith('@') || !PROC_NAME.test(name.slice(1))) return false;
  const t = parseInt64(word(tokens[0]));
  if (t === null) return false;
  virtualNow = t;
  callbacks = [];
  const proc = tokens[1].subarray(1);
  if (tokens.length === 2) {
    printInvalid(Buffer.alloc(0), t, proc);
  } else if (!(word(tokens[2]) === 'kill' && tokens.length === 3)) {
    printStatusOnly(tokens[2], t, 'unsupported', proc);
  }
  return true;
}

async function runLine(line) {
  const tokens = tokenize(line);
  if (runProcLine(tokens)) return;
  if (tokens.length === 0 || tokens[0][0] === 0x23) return; // blank, or a # comment
  callbacks = [];
  const t = parseInt64(word(tokens[0]));
  if (t === null) {
    // No time to run it at: name the operation as well as we can.
    printInvalid(tokens.length > 1 && tokens[1] !== null ? tokens[1] : tokens[0], null);
    return;
  }
  virtualNow = t;
  if (tokens.length < 2) {
    printInvalid(Buffer.alloc(0), t);
    return;
  }
  const opBytes = tokens[1];
  const op = word(opBytes);
  if (tokens.length > MAX_TOKENS) {
    // Too many words for any operation; a config or store line still replaces the previous
    // one, as an unreadable one.
    if (op === 'config') config = { bad: true, options: {} };
    else if (op === 'store') store = { bad: true, kind: 'memory', path: null };
    else printInvalid(opBytes, t);
    return;
  }
  const args = tokens.slice(2);
  const simple = {
    close: (h) => h.close(),
    new_session: (h) => h.newSession(),
    end_session: (h) => h.endSession(),
    begin_session: (h) => h.beginSession(),
    pause: (h) => h.pause(),
    resume: (h) => h.resume(),
    check: (h) => h.check(),
    reset_user: (h) => h.resetUser(),
  };
  if (op === 'config') opConfig(args);
  else if (op === 'store') opStore(args);
  else if (op === 'kill' && args.length === 0) kill();
  else if (op === 'track') opTrack(opBytes, t, args);
  else if (op === 'background') opTransition(opBytes, t, true, args);
  else if (op === 'foreground') opTransition(opBytes, t, false, args);
  else if (op === 'anonymous') {
    const on = args.length === 1 ? parseFlag(word(args[0])) : null;
    if (on === null) printInvalid(opBytes, t);
    else opSimple(opBytes, t, (h) => h.setAnonymous(on));
  } else if (args.length !== 0) printInvalid(opBytes, t);
  else if (op === 'open') await opOpen(t);
  else if (op === 'get') opGet(t);
  else if (Object.hasOwn(simple, op)) opSimple(opBytes, t, simple[op]);
  else printInvalid(opBytes, t);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length > 1 || (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help'))) {
    writeAll(2, 'usage: sesh-replay.mjs [FILE]   (reads the scenario from stdin without FILE)\n');
    return argv.length > 1 ? 2 : 0;
  }
  let input;
  const file = argv.length === 1 && argv[0] !== '-' ? argv[0] : null;
  try {
    input = readFileSync(file ?? 0);
  } catch (err) {
    writeAll(2, `sesh-replay: cannot read ${file ?? 'stdin'}: ${err.message}\n`);
    return 1;
  }
  let start = 0;
  while (start < input.length) {
    let end = input.indexOf(0x0a, start);
    end = end < 0 ? input.length : end + 1;
    // A NUL inside a line would cut it short in C: the C driver makes it a byte no
    // operation or number takes, and so does this one.
    const line = Buffer.from(input.subarray(start, end)).map((b) => (b === 0 ? 1 : b));
    await runLine(line);
    start = end;
  }
  // The end of the input: the handle is closed if it is still open (sesh_handle_free).
  closeQuietly(handle);
  return 0;
}

process.exitCode = await main();
