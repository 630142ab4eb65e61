#!/usr/bin/env python3
"""Runs sesh-replay scenarios, checks their inline assertions, compares their output.

A scenario is NAME.txt, optionally followed by NAME.run2.txt, NAME.run3.txt, ...: the runs
are played one after the other by separate sesh-replay processes in one temporary working
directory (so that a store file written by one run is there for the next). Their outputs,
put together, are checked and then compared with NAME.expected:

  * every line must be a JSON object of the shape docs/replay.md gives (with "proc" right
    after "op" on the lines of a named process);
  * every "entity" and every session_start callback's "data" must be a valid
    client_session 1-0-2 self-describing JSON, every lifecycle "event" a valid
    application_background / application_foreground event, and every session_end
    callback's "data" a session-end summary (the contract's fields and reasons);
  * every inline assertion (below) must hold;
  * UUIDs are replaced, in order of first appearance, by <id1>, <id2>, ... (the same UUID
    always by the same placeholder); the nil UUID stays as it is;
  * the normalized text must equal NAME.expected.

Inline assertions. A comment line `#= ASSERTION` states a rule about the output line of
the nearest operation line above it (the line it follows, comments and blank lines
skipped), so that a regenerated .expected file cannot hide a wrong value:

    #= PATH == VALUE      also !=, <, <=, >, >= (numbers)
    #= PATH -> @NAME      captures the value as @NAME, for this scenario's later lines
                          and runs; VALUE may then be @NAME

  PATH walks the output line's JSON: keys separated by dots, list items by [N] (from 0),
  every item of a list by [*] (the value is then the list of what each item gives). A key
  that a self-describing object (one with "schema" and "data") does not have is looked up
  in its "data", so `entity.sessionIndex` is `entity.data.sessionIndex` and
  `callbacks[1].data.sessionIndex` reads the started session's entity. VALUE is JSON
  (`2`, `"timeout"`, `null`, `true`, `[]`) or a capture. Examples:

    #= entity.sessionIndex == 2
    #= entity.sessionId -> @s1
    #= entity.previousSessionId == @s1
    #= callbacks[*].kind == ["session_end", "session_start"]
    #= callbacks[0].data.reason == "timeout"
    #= status == "no_session"
    #= session_index == null

  A failing assertion names the scenario file, its line and the actual value. An assertion
  after a line that prints nothing (config, store, kill) or that never runs (after `kill`)
  is itself an error. So is a scenario with no assertion (captures aside) in any of its
  runs: its .expected file, which --update regenerates from what the build printed, cannot
  hold a rule alone.

    check.py [--replay PATH] [--wrapper "CMD ARGS"] [--update | --assertions-only]
             [--web | --list-web] [SCENARIO.txt | DIR ...]

With no scenario, every scenario next to this script is checked (not those in pending/,
which state rules the engine does not keep yet: check them with --assertions-only, which
validates the output and checks the assertions but compares with no .expected file). --update writes the
expected files instead of comparing, but only for scenarios whose output is valid and
whose assertions hold: read every changed line against the behaviour contract before
keeping it.

--web checks the web build instead: the scenarios its driver
(bindings/js/tools/sesh-replay.mjs, the default --replay then) can play, against the same
.expected files. A scenario is eligible unless web_exclusions() finds a reason: a SQLite
store or a second process, which the web build does not have. Every scenario left out is
printed with its reasons ("skip NAME: ..."), and --web fails when none is eligible.
--list-web prints every scenario with those reasons, one JSON object a line, and runs
nothing (bindings/js/test/replay.test.js reads it). Standard library only.
"""

import argparse
import datetime
import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CLIENT_SESSION_SCHEMA = "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2"
BACKGROUND_SCHEMA = "iglu:com.snowplowanalytics.snowplow/application_background/jsonschema/1-0-0"
FOREGROUND_SCHEMA = "iglu:com.snowplowanalytics.snowplow/application_foreground/jsonschema/1-0-0"

NIL_UUID = "00000000-0000-0000-0000-000000000000"
# What normalization replaces: any UUID-looking text, in any case, so that an upper-case id
# gets a placeholder of its own (and fails the lower-case check below anyway).
ANY_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What the schema's userId pattern accepts, and what the contract requires of every id.
LOWER_UUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MAX_INDEX = 2147483647
STORAGE_MECHANISMS = {"SQLITE", "COOKIE_1", "COOKIE_3", "LOCAL_STORAGE", "FLASH_LSO"}
END_REASONS = {
    "timeout", "clock_changed", "max_duration", "manual", "new_session", "user_changed",
    "anonymity_changed", "restart",
}
STATUS_NAMES = {
    "ok", "no_session", "invalid_argument", "null_argument", "invalid_utf8", "closed",
    "store_error", "corrupt_state", "callback_error", "unsupported", "panic",
}
SESSION_KEYS = [
    "userId", "sessionId", "sessionIndex", "eventIndex", "previousSessionId",
    "storageMechanism", "firstEventId", "firstEventTimestamp",
]
SUMMARY_KEYS = [
    "sessionId", "sessionIndex", "userId", "firstEventTimestamp", "lastActivity",
    "eventCount", "durationMs", "reason",
]
GET_KEYS = [
    "op", "t", "status", "user_id", "session_id", "session_index", "event_index",
    "previous_session_id", "in_background", "background_index", "foreground_index",
    "first_event_id", "first_event_timestamp", "last_fault",
]
RUN_SUFFIX = re.compile(r"\.run(\d+)\.txt$")
# A named process of `T @NAME OP ...` lines.
PROC_NAME = re.compile(r"^[A-Za-z0-9]+$")


class Invalid(Exception):
    """A line of output that breaks a rule."""


# ----- validation ----------------------------------------------------------------------------

def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_keys(where, obj, keys):
    if not isinstance(obj, dict):
        raise Invalid(f"{where}: not an object: {obj!r}")
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing or extra:
        raise Invalid(f"{where}: missing keys {missing}, unexpected keys {extra}")


def check_uuid(where, value, nullable=False):
    if value is None and nullable:
        return
    if not isinstance(value, str) or not LOWER_UUID.match(value):
        raise Invalid(f"{where}: not a lower-case UUID: {value!r}")


def check_index(where, value, minimum=0):
    if not is_int(value) or not minimum <= value <= MAX_INDEX:
        raise Invalid(f"{where}: not an integer in {minimum}..{MAX_INDEX}: {value!r}")


def check_iso_time(where, value, nullable=False):
    if value is None and nullable:
        return
    if not isinstance(value, str) or not ISO_TIME.match(value):
        raise Invalid(f"{where}: not an ISO 8601 UTC time with milliseconds: {value!r}")
    try:
        datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError as err:
        raise Invalid(f"{where}: not a real date and time: {value!r} ({err})") from None


def check_session_entity(where, entity):
    """A client_session 1-0-2 self-describing JSON, every key present."""
    check_keys(where, entity, ["schema", "data"])
    if entity["schema"] != CLIENT_SESSION_SCHEMA:
        raise Invalid(f"{where}: schema is {entity['schema']!r}")
    data = entity["data"]
    where = where + ".data"
    check_keys(where, data, SESSION_KEYS)
    check_uuid(where + ".userId", data["userId"])
    check_uuid(where + ".sessionId", data["sessionId"])
    check_index(where + ".sessionIndex", data["sessionIndex"], minimum=1)
    check_index(where + ".eventIndex", data["eventIndex"])
    check_uuid(where + ".previousSessionId", data["previousSessionId"], nullable=True)
    if data["storageMechanism"] not in STORAGE_MECHANISMS:
        raise Invalid(f"{where}.storageMechanism: {data['storageMechanism']!r}")
    check_uuid(where + ".firstEventId", data["firstEventId"], nullable=True)
    check_iso_time(where + ".firstEventTimestamp", data["firstEventTimestamp"], nullable=True)
    if (data["firstEventId"] is None) != (data["firstEventTimestamp"] is None):
        raise Invalid(f"{where}: firstEventId and firstEventTimestamp are not both set or null")
    if (data["eventIndex"] == 0) != (data["firstEventId"] is None):
        raise Invalid(f"{where}: first-event fields do not match eventIndex {data['eventIndex']}")
    if data["previousSessionId"] is not None and data["previousSessionId"] == data["sessionId"]:
        raise Invalid(f"{where}: previousSessionId is the session's own id")
    if data["userId"] == NIL_UUID and data["previousSessionId"] is not None:
        raise Invalid(f"{where}: anonymous (nil userId) but previousSessionId is set")


def check_lifecycle_event(where, event, op):
    """An application_background / application_foreground event."""
    check_keys(where, event, ["schema", "data"])
    if event["schema"] == BACKGROUND_SCHEMA:
        key, expected_op = "backgroundIndex", "background"
    elif event["schema"] == FOREGROUND_SCHEMA:
        key, expected_op = "foregroundIndex", "foreground"
    else:
        raise Invalid(f"{where}: schema is {event['schema']!r}")
    if op != expected_op:
        raise Invalid(f"{where}: a {expected_op} event on a {op!r} line")
    check_keys(where + ".data", event["data"], [key])
    check_index(f"{where}.data.{key}", event["data"][key])


def check_summary(where, summary):
    """A session-end summary."""
    check_keys(where, summary, SUMMARY_KEYS)
    check_uuid(where + ".sessionId", summary["sessionId"])
    check_index(where + ".sessionIndex", summary["sessionIndex"], minimum=1)
    check_uuid(where + ".userId", summary["userId"])
    check_iso_time(where + ".firstEventTimestamp", summary["firstEventTimestamp"], nullable=True)
    check_iso_time(where + ".lastActivity", summary["lastActivity"])
    check_index(where + ".eventCount", summary["eventCount"])
    if not is_int(summary["durationMs"]) or summary["durationMs"] < 0:
        raise Invalid(f"{where}.durationMs: not an integer >= 0: {summary['durationMs']!r}")
    if summary["reason"] not in END_REASONS:
        raise Invalid(f"{where}.reason: {summary['reason']!r}")
    if (summary["eventCount"] == 0) != (summary["firstEventTimestamp"] is None):
        raise Invalid(f"{where}: firstEventTimestamp does not match eventCount")
    if summary["eventCount"] == 0 and summary["durationMs"] != 0:
        raise Invalid(f"{where}: durationMs is not 0 for a session with no event")


def check_status(where, value, nullable=False):
    if value is None and nullable:
        return
    if value not in STATUS_NAMES:
        raise Invalid(f"{where}: not a status name: {value!r}")


def check_line(where, line):
    """One line of sesh-replay output."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise Invalid(f"{where}: not JSON ({err}): {line}") from None
    if not isinstance(obj, dict):
        raise Invalid(f"{where}: not a JSON object: {line}")
    op = obj.get("op")
    if not isinstance(op, str):
        raise Invalid(f"{where}: no op")
    head = ["op"]
    if "proc" in obj:
        # A named process's line: "proc" right after "op".
        if not isinstance(obj["proc"], str) or not PROC_NAME.match(obj["proc"]):
            raise Invalid(f"{where}.proc: not a process name: {obj['proc']!r}")
        head = ["op", "proc"]
        if list(obj)[:2] != head:
            raise Invalid(f"{where}: \"proc\" is not right after \"op\": {list(obj)}")
    if not (is_int(obj.get("t")) or obj.get("t") is None):
        raise Invalid(f"{where}: t is {obj.get('t')!r}")
    check_status(where + ".status", obj.get("status"))
    if op in ("config", "store", "kill") and obj["status"] != "invalid_argument":
        # These print nothing, unless the line itself could not be read.
        raise Invalid(f"{where}: {op} prints nothing")

    if op == "get" and list(obj) == head + GET_KEYS[1:]:
        check_uuid(where + ".user_id", obj["user_id"], nullable=obj["status"] != "ok")
        for key in ("session_id", "previous_session_id", "first_event_id"):
            check_uuid(f"{where}.{key}", obj[key], nullable=True)
        for key in ("session_index", "event_index", "background_index", "foreground_index"):
            if obj[key] is not None:
                check_index(f"{where}.{key}", obj[key])
        if not (isinstance(obj["in_background"], bool)
                or (obj["in_background"] is None and obj["status"] != "ok")):
            raise Invalid(f"{where}.in_background: {obj['in_background']!r}")
        check_iso_time(where + ".first_event_timestamp", obj["first_event_timestamp"],
                       nullable=True)
        check_status(where + ".last_fault", obj["last_fault"], nullable=True)
        session_fields = ("session_id", "session_index", "event_index", "background_index",
                          "foreground_index")
        if len({obj[k] is None for k in session_fields}) != 1:
            raise Invalid(f"{where}: some session fields are null and others not")
        return

    keys = head + ["t", "status", "entity", "event", "callbacks"]
    if op == "open":
        keys.append("fault")
    if list(obj) != keys:
        raise Invalid(f"{where}: keys are {list(obj)}, expected {keys}")
    if op == "open":
        check_status(where + ".fault", obj["fault"], nullable=True)
    if obj["entity"] is not None:
        check_session_entity(where + ".entity", obj["entity"])
    if obj["event"] is not None:
        check_lifecycle_event(where + ".event", obj["event"], op)
    if not isinstance(obj["callbacks"], list):
        raise Invalid(f"{where}.callbacks: not a list")
    for i, callback in enumerate(obj["callbacks"]):
        at = f"{where}.callbacks[{i}]"
        check_keys(at, callback, ["kind", "data"])
        if callback["kind"] == "session_start":
            check_session_entity(at + ".data", callback["data"])
        elif callback["kind"] == "session_end":
            check_summary(at + ".data", callback["data"])
        else:
            raise Invalid(f"{at}.kind: {callback['kind']!r}")


# ----- inline assertions ----------------------------------------------------------------------

# C's isspace in the "C" locale: what sesh-replay splits a line on.
SPACES = re.compile(r"[ \t\r\n\v\f]+")
INT64 = re.compile(r"^-?[0-9]+$")
PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:[0-9]+|\*)\])*"
ASSERTION = re.compile(r"^#=\s*(?P<path>" + PATH + r")\s*(?P<op>==|!=|<=|>=|<|>|->)\s*"
                       r"(?P<value>\S.*?)\s*$")
PATH_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+|\*)\]")
CAPTURE = re.compile(r"^@[A-Za-z_][A-Za-z0-9_]*$")


class Step:
    """One operation line of a run, as sesh-replay will treat it."""

    def __init__(self, number, op, proc, t, prints, ends_run):
        self.number, self.op, self.proc, self.t = number, op, proc, t
        self.prints, self.ends_run = prints, ends_run
        self.assertions = []  # (line number, text)


def parse_int64(text):
    if not INT64.match(text):
        return None
    value = int(text)
    return value if -2**63 <= value < 2**63 else None


def predict(number, line):
    """The Step for one input line, or None for a comment or blank line: mirrors how
    sesh-replay reads it (which lines print nothing, which end the run)."""
    words = [w for w in SPACES.split(line) if w]
    if not words or words[0].startswith("#"):
        return None
    t = parse_int64(words[0])
    if t is None:
        return Step(number, words[1] if len(words) > 1 else words[0], None, None, True, False)
    if len(words) < 2:
        return Step(number, "", None, t, True, False)
    op, proc = words[1], None
    if op.startswith("@") and PROC_NAME.match(op[1:]):
        proc, words = op[1:], [words[0]] + words[2:]
        if len(words) < 2:
            return Step(number, "", proc, t, True, False)
        op = words[1]
        if op == "kill" and len(words) == 2:
            return Step(number, op, proc, t, False, False)
    elif op == "kill" and len(words) == 2:
        return Step(number, op, None, t, False, True)
    return Step(number, op, proc, t, op not in ("config", "store"), False)


def read_steps(run):
    """The steps of a run file, each with the assertions written under it; and the
    problems found in the assertions' placement or syntax."""
    steps, problems = [], []
    name = os.path.basename(run)
    with open(run, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        stripped = line.strip(" \t\r\v\f")
        if stripped.startswith("#="):
            if not steps:
                problems.append(f"{name}:{number}: assertion before any operation line")
            elif not ASSERTION.match(stripped):
                problems.append(f"{name}:{number}: cannot read assertion `{stripped}`")
            else:
                steps[-1].assertions.append((number, stripped))
            continue
        step = predict(number, line)
        if step is not None:
            steps.append(step)
    ended = False
    for step in steps:
        if step.assertions and (ended or not step.prints):
            why = "never runs (after kill)" if ended else f"`{step.op}` prints nothing"
            problems.append(f"{name}:{step.assertions[0][0]}: an assertion on line "
                            f"{step.number}, which {why}")
        ended = ended or step.ends_run
    return steps, problems


class PathError(Exception):
    pass


def short(value, limit=160):
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def walk(value, steps):
    """The value at a parsed path; [*] maps the rest of the path over a list."""
    for i, step in enumerate(steps):
        if step == "*":
            if not isinstance(value, list):
                raise PathError(f"[*] on {short(value)}")
            return [walk(item, steps[i + 1:]) for item in value]
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                raise PathError(f"no item [{step}] in {short(value)}")
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        elif (isinstance(value, dict) and "schema" in value
              and isinstance(value.get("data"), dict) and step in value["data"]):
            value = value["data"][step]
        else:
            raise PathError(f"no key {step!r} in {short(value)}")
    return value


def parse_path(text):
    steps = []
    for key, index in PATH_STEP.findall(text):
        if key:
            steps.append(key)
        else:
            steps.append("*" if index == "*" else int(index))
    return steps


def same(a, b):
    """JSON equality: 1 is not true, 1 is not 1.0, key order does not matter."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def evaluate(where, text, obj, captures):
    """Checks one assertion on an output line; returns a problem, or None."""
    match = ASSERTION.match(text)
    op, value_text = match.group("op"), match.group("value")
    try:
        actual = walk(obj, parse_path(match.group("path")))
    except PathError as err:
        return f"{where}: `{text}` fails: {err}"
    if op == "->":
        if not CAPTURE.match(value_text):
            return f"{where}: `{text}`: a capture is named @NAME"
        if value_text in captures:
            return f"{where}: `{text}`: {value_text} is already captured"
        captures[value_text] = actual
        return None
    if CAPTURE.match(value_text):
        if value_text not in captures:
            return f"{where}: `{text}`: {value_text} was not captured before"
        expected = captures[value_text]
        shown = f"{value_text} = {json.dumps(expected)}"
    else:
        try:
            expected = json.loads(value_text)
        except json.JSONDecodeError:
            return f"{where}: `{text}`: {value_text} is neither JSON nor a @capture"
        shown = json.dumps(expected)
    if op == "==":
        ok = same(actual, expected)
    elif op == "!=":
        ok = not same(actual, expected)
    else:
        if not (is_number(actual) and is_number(expected)):
            return f"{where}: `{text}` fails: actual {json.dumps(actual)} is not a number"
        ok = {"<": actual < expected, "<=": actual <= expected,
              ">": actual > expected, ">=": actual >= expected}[op]
    if ok:
        return None
    return f"{where}: `{text}` fails: actual {short(actual, 300)} (expected {op} {shown})"


def check_assertions(run, stdout, captures):
    """Pairs a run's output lines with its operation lines and checks the assertions."""
    steps, problems = read_steps(run)
    if not any(step.assertions for step in steps):
        return problems
    name = os.path.basename(run)
    lines = stdout.splitlines()
    at = 0
    for step in steps:
        if not step.prints:
            if step.ends_run:
                break
            continue
        where = f"{name}:{step.number}"
        if at >= len(lines):
            if step.assertions:
                problems.append(f"{where}: no output line for this operation")
            continue
        line = lines[at]
        at += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if (not isinstance(obj, dict) or obj.get("op") != step.op
                or obj.get("proc") != step.proc or obj.get("t") != step.t):
            problems.append(f"{where}: output line {at} is not this line's ({line[:120]}): "
                            "cannot check the assertions of this run")
            break
        for number, text in step.assertions:
            problem = evaluate(f"{name}:{number}", text, obj, captures)
            if problem:
                problems.append(problem)
    return problems


# ----- running and comparing -----------------------------------------------------------------

def normalize(text):
    """Replaces each distinct UUID by <idN> in order of first appearance, nil excepted."""
    seen = {}

    def placeholder(match):
        value = match.group(0)
        if value == NIL_UUID:
            return value
        if value not in seen:
            seen[value] = f"<id{len(seen) + 1}>"
        return seen[value]

    return ANY_UUID.sub(placeholder, text)


def scenario_runs(first):
    """NAME.txt, then NAME.run2.txt, NAME.run3.txt, ... while they exist."""
    runs = [first]
    base = first[: -len(".txt")]
    n = 2
    while os.path.exists(f"{base}.run{n}.txt"):
        runs.append(f"{base}.run{n}.txt")
        n += 1
    return runs


def find_scenarios(args):
    found = []
    for arg in args or [HERE]:
        if os.path.isdir(arg):
            names = sorted(os.listdir(arg))
            found += [os.path.join(arg, n) for n in names
                      if n.endswith(".txt") and n != "CMakeLists.txt" and not RUN_SUFFIX.search(n)]
        else:
            match = RUN_SUFFIX.search(arg)
            found.append(arg[: match.start()] + ".txt" if match else arg)
    unique = []
    for path in found:
        path = os.path.abspath(path)
        if path not in unique:
            unique.append(path)
    return unique


def count_assertions(scenario):
    """How many inline assertions the scenario's runs hold that check something: a capture
    (`-> @NAME`) alone states no rule. (A misplaced or unreadable one counts here; it is an
    error of its own in read_steps.)"""
    count = 0
    for run in scenario_runs(scenario):
        if not os.path.exists(run):
            continue
        with open(run, encoding="utf-8", errors="replace") as f:
            for line in f:
                stripped = line.strip(" \t\r\n\v\f")
                if not stripped.startswith("#="):
                    continue
                match = ASSERTION.match(stripped)
                if not match or match.group("op") != "->":
                    count += 1
    return count


def no_assertion_problem(scenario):
    """A scenario group with no inline assertion at all: its .expected file, which --update
    regenerates from whatever the build printed, would be all that holds it."""
    runs = [os.path.basename(run) for run in scenario_runs(scenario)]
    return (f"no inline assertion (captures aside) in {', '.join(runs)}: an .expected "
            "file alone proves nothing, since --update rewrites it from what the build "
            "printed; write the rule's values as `#= PATH == VALUE` lines under the "
            "operation lines (docs/replay.md, \"Inline assertions\")")


# ----- the web build ---------------------------------------------------------------------------

WEB_DRIVER = os.path.join(ROOT, "bindings", "js", "tools", "sesh-replay.mjs")


def web_exclusions(scenario):
    """Why the web build's driver (bindings/js/tools/sesh-replay.mjs, over the JavaScript
    API) cannot play the scenario as the native sesh-replay does: a list of reasons, each
    with the first line that needs it; [] when the scenario is eligible. The one place that
    rule is written:

      * `T store sqlite PATH`: the web build has no SQLite store;
      * `T @NAME ...`: the web driver runs no second process (nor does any web page: a
        second tab shares no SQLite coordination with the first);
      * bytes that are not UTF-8 on an operation line: the JavaScript API takes strings,
        which cannot hold them (the C ABI answers such an event id or namespace with
        invalid_utf8).

    Lines are read as sesh-replay reads them (comments and blank lines skipped)."""
    found = {}
    for run in scenario_runs(scenario):
        with open(run, "rb") as f:
            raw_lines = f.read().split(b"\n")
        for number, raw in enumerate(raw_lines, 1):
            # Latin-1 keeps every byte as one character, so the words are sesh-replay's.
            words = [w for w in SPACES.split(raw.decode("latin-1")) if w]
            if not words or words[0].startswith("#"):
                continue
            where = f"{os.path.basename(run)}:{number}"
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                found.setdefault("utf8", f"bytes that are not UTF-8 ({where}): a JavaScript "
                                 "string cannot hold them")
            if parse_int64(words[0]) is None or len(words) < 2:
                continue
            if words[1].startswith("@") and PROC_NAME.match(words[1][1:]):
                found.setdefault("proc", f"a second process (`{words[1]}`, {where})")
            elif words[1] == "store" and len(words) == 4 and words[2] == "sqlite":
                found.setdefault("sqlite", f"the SQLite store (`store sqlite`, {where})")
    return [found[key] for key in ("sqlite", "proc", "utf8") if key in found]


def run_scenario(replay, wrapper, scenario, timeout):
    """Plays every run of the scenario; returns (output, problems)."""
    output = []
    problems = []
    if count_assertions(scenario) == 0:
        problems.append(no_assertion_problem(scenario))
    captures = {}  # @NAME -> value, shared by the runs
    with tempfile.TemporaryDirectory(prefix="sesh-scenario-") as workdir:
        for run in scenario_runs(scenario):
            command = wrapper + [replay, os.path.abspath(run)]
            try:
                done = subprocess.run(command, cwd=workdir, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, timeout=timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"{os.path.basename(run)}: no answer within {timeout} s")
                break
            stdout = done.stdout.decode("utf-8", errors="replace")
            stderr = done.stderr.decode("utf-8", errors="replace")
            if done.returncode != 0:
                problems.append(f"{os.path.basename(run)}: exit status {done.returncode}\n"
                                f"--- stderr ---\n{stderr}")
            elif wrapper and stderr.strip():
                # Under valgrind, anything it says is worth seeing; what sesh-replay itself
                # writes (the library's log lines, its own notes) is not an error.
                noise = [l for l in stderr.splitlines() if not l.startswith("sesh-replay: ")]
                if noise:
                    problems.append(f"{os.path.basename(run)}: stderr:\n" + "\n".join(noise))
            if stdout and not stdout.endswith("\n"):
                problems.append(f"{os.path.basename(run)}: output does not end with a newline")
            for number, line in enumerate(stdout.splitlines(), 1):
                try:
                    check_line(f"{os.path.basename(run)}: output line {number}", line)
                except Invalid as err:
                    problems.append(str(err))
            problems += check_assertions(run, stdout, captures)
            output.append(stdout)
    return "".join(output), problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replay", default=None,
                        help="the sesh-replay program (default: $SESH_REPLAY or "
                             "build/examples/c/sesh-replay; with --web, "
                             "bindings/js/tools/sesh-replay.mjs)")
    parser.add_argument("--wrapper", default="",
                        help="a command line to run sesh-replay under, e.g. valgrind's")
    parser.add_argument("--update", action="store_true",
                        help="write the .expected files instead of comparing")
    parser.add_argument("--assertions-only", action="store_true",
                        help="validate and check the inline assertions, compare with no "
                             ".expected file (for tests/scenarios/pending/)")
    web = parser.add_mutually_exclusive_group()
    web.add_argument("--web", action="store_true",
                     help="check only the scenarios the web build can play (see "
                          "web_exclusions), naming each one left out and why")
    web.add_argument("--list-web", action="store_true",
                     help="print every scenario with the reasons it is not eligible for the "
                          "web build ([] when it is), one JSON object a line; run nothing")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a run may take (default 300)")
    parser.add_argument("scenarios", nargs="*",
                        help="NAME.txt files or directories (default: this script's directory)")
    args = parser.parse_args()

    if args.list_web:
        for scenario in find_scenarios(args.scenarios):
            print(json.dumps({"name": os.path.basename(scenario)[: -len(".txt")],
                              "path": scenario, "excluded": web_exclusions(scenario)}))
        return 0
    if args.replay is None:
        args.replay = WEB_DRIVER if args.web else os.environ.get(
            "SESH_REPLAY", os.path.join(ROOT, "build", "examples", "c", "sesh-replay"))
    if not os.access(args.replay, os.X_OK):
        print(f"check.py: {args.replay} is not an executable; build sesh-replay first",
              file=sys.stderr)
        return 2
    # The runs happen in a temporary working directory: a relative path would miss.
    replay = os.path.abspath(args.replay)
    wrapper = shlex.split(args.wrapper)
    scenarios = find_scenarios(args.scenarios)
    if not scenarios:
        print("check.py: no scenario found", file=sys.stderr)
        return 2

    if args.web:
        eligible = []
        for scenario in scenarios:
            reasons = web_exclusions(scenario)
            if reasons:
                name = os.path.basename(scenario)[: -len(".txt")]
                print(f"skip {name}: not for the web build: {'; '.join(reasons)}")
            else:
                eligible.append(scenario)
        if not eligible:
            print("check.py: no scenario here is eligible for the web build", file=sys.stderr)
            return 1
        scenarios = eligible

    failed = 0
    for scenario in scenarios:
        name = os.path.basename(scenario)[: -len(".txt")]
        expected_path = scenario[: -len(".txt")] + ".expected"
        output, problems = run_scenario(replay, wrapper, scenario, args.timeout)
        actual = normalize(output)
        if args.update:
            if problems:
                problems.append(f"{os.path.basename(expected_path)} not written")
            else:
                with open(expected_path, "w", encoding="utf-8") as f:
                    f.write(actual)
        elif args.assertions_only:
            pass
        elif not os.path.exists(expected_path):
            problems.append(f"no {os.path.basename(expected_path)} (run with --update, then "
                            "check it against the behaviour contract)")
        else:
            with open(expected_path, encoding="utf-8") as f:
                expected = f.read()
            if expected != actual:
                diff = difflib.unified_diff(
                    expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                    fromfile=os.path.basename(expected_path), tofile=f"{name} (actual)")
                problems.append("output differs from the expected one:\n" + "".join(diff))
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print("  " + problem.replace("\n", "\n  "))
        else:
            print(f"ok   {name}" + (" (expected file written)" if args.update else ""))
    if failed:
        print(f"{failed} of {len(scenarios)} scenario(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
