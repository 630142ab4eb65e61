//! `sesh-timeline`: a picture of a `sesh-replay` run, as plain SVG (no script, no external
//! reference), for a browser or a code review. README, "Seeing sessions".
//!
//! ```text
//! sesh-timeline --scenario S.txt --replay OUT.jsonl [-o OUT.svg]   # sesh-replay's output
//! sesh-timeline --scenario S.txt --sesh-replay PATH [-o OUT.svg]   # runs sesh-replay itself
//! sesh-replay S.txt | sesh-timeline --scenario S.txt --replay - -o OUT.svg
//! sesh-timeline --replay OUT.jsonl                                 # output alone
//! ```
//!
//! The scenario gives what the output lacks: kills, each process's namespace and store
//! (one lane per namespace and store, one row per process in it). `--sesh-replay` plays
//! `S.txt`, then `S.run2.txt`, `S.run3.txt`, … while they exist, in one fresh temporary
//! directory (as `tests/scenarios/check.py` does); with `--replay`, give one `--scenario`
//! and one `--replay` per run, in order. Without a scenario every session goes in one lane.
//!
//! Drawing: time runs left to right. A gap longer than three times the median step between
//! the lines' times is drawn at a fixed width and labelled (`⋯ 29 min ⋯`); a clock going
//! back likewise (`⟲ 10 s back`); lines at the same millisecond are set a few pixels apart.
//! Exit status: 0 drawn; 1 an input could not be read or sesh-replay failed; 64 bad
//! arguments.

#[path = "common/span.rs"]
mod span;

use serde_json::Value;
use span::span;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: sesh-timeline [--scenario FILE]... [--replay FILE|-]... \
    [--sesh-replay PATH] [--title TEXT] [-o OUT.svg]\n";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("sesh-timeline: {message}");
            if code == 64 {
                eprint!("{USAGE}");
            }
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn run() -> Result<(), Failure> {
    let mut scenarios: Vec<PathBuf> = Vec::new();
    let mut replays: Vec<String> = Vec::new();
    let mut driver: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut title: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| (64, format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--scenario" => scenarios.push(value("--scenario")?.into()),
            "--replay" => replays.push(value("--replay")?),
            "--sesh-replay" => driver = Some(value("--sesh-replay")?.into()),
            "-o" | "--output" => out = Some(value("-o")?.into()),
            "--title" => title = Some(value("--title")?),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err((64, format!("unknown argument {other}"))),
        }
    }
    let mut runs: Vec<(Option<String>, String)> = Vec::new();
    if let Some(driver) = &driver {
        if scenarios.len() != 1 || !replays.is_empty() {
            return Err((
                64,
                "--sesh-replay takes one --scenario and no --replay".into(),
            ));
        }
        for (scenario, output) in play(driver, &scenarios[0])? {
            runs.push((Some(scenario), output));
        }
    } else {
        if replays.is_empty() {
            return Err((
                64,
                "give --replay (sesh-replay's output) or --sesh-replay".into(),
            ));
        }
        if !scenarios.is_empty() && scenarios.len() != replays.len() {
            return Err((64, "give one --scenario per --replay, in order".into()));
        }
        for (i, replay) in replays.iter().enumerate() {
            let output = if replay == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| (1, format!("cannot read stdin: {e}")))?;
                text
            } else {
                read(Path::new(replay))?
            };
            let scenario = scenarios.get(i).map(|p| read(p)).transpose()?;
            runs.push((scenario, output));
        }
    }
    let title = title.unwrap_or_else(|| match scenarios.first() {
        Some(path) => path
            .file_name()
            .map_or("timeline".into(), |n| n.to_string_lossy().into_owned()),
        None => "sesh-replay timeline".into(),
    });
    let timeline = build(&runs)?;
    let svg = draw(&timeline, &title);
    match out {
        Some(path) => std::fs::write(&path, svg)
            .map_err(|e| (1, format!("cannot write {}: {e}", path.display()))),
        None => {
            print!("{svg}");
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| (1, format!("cannot read {}: {e}", path.display())))
}

/// Plays `scenario` and its later runs with sesh-replay in a fresh temporary directory.
fn play(driver: &Path, scenario: &Path) -> Result<Vec<(String, String)>, Failure> {
    let driver = std::fs::canonicalize(driver)
        .map_err(|e| (1, format!("sesh-replay {}: {e}", driver.display())))?;
    let first =
        std::fs::canonicalize(scenario).map_err(|e| (1, format!("{}: {e}", scenario.display())))?;
    let mut files = vec![first.clone()];
    let stem = first.to_string_lossy().trim_end_matches(".txt").to_owned();
    for n in 2.. {
        let next = PathBuf::from(format!("{stem}.run{n}.txt"));
        if !next.exists() {
            break;
        }
        files.push(next);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("sesh-timeline-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| (1, format!("{}: {e}", dir.display())))?;
    let mut runs = Vec::new();
    let mut result = Ok(());
    for file in &files {
        match std::process::Command::new(&driver)
            .arg(file)
            .current_dir(&dir)
            .stderr(std::process::Stdio::inherit())
            .output()
        {
            Ok(output) if output.status.success() => runs.push((
                read(file)?,
                String::from_utf8_lossy(&output.stdout).into_owned(),
            )),
            Ok(output) => {
                result = Err((
                    1,
                    format!("sesh-replay {} failed: {}", file.display(), output.status),
                ));
                break;
            }
            Err(e) => {
                result = Err((1, format!("cannot run {}: {e}", driver.display())));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|()| runs)
}

// ----- the model ------------------------------------------------------------------------------

/// What is drawn at one moment of the run.
#[derive(Debug, Clone)]
enum Mark {
    /// An event (track, background, foreground) counted with `index` in its session.
    Event {
        index: i64,
        op: String,
    },
    /// Another operation worth a label: open, close, new_session, reset_user, …
    Op {
        op: String,
        status: String,
    },
    Kill,
    Restart,
}

#[derive(Debug, Clone)]
struct Item {
    t: i64,
    lane: usize,
    proc_name: String,
    mark: Mark,
}

#[derive(Debug, Clone)]
struct Session {
    lane: usize,
    id: String,
    index: i64,
    /// Item positions: where it was first and last seen, and where it ended (with why).
    first: usize,
    last: usize,
    end: Option<(usize, String)>,
}

#[derive(Debug, Default)]
struct Timeline {
    /// Times, one per step (an item, a session start or end, a background edge).
    times: Vec<i64>,
    items: Vec<(usize, Item)>,
    lanes: Vec<String>,
    /// Per lane: its processes, in order of appearance.
    rows: Vec<Vec<String>>,
    sessions: Vec<Session>,
    /// (lane, from step, to step): the app in background.
    background: Vec<(usize, usize, Option<usize>)>,
}

#[derive(Debug, Clone, Default)]
struct Process {
    namespace: Option<String>,
    store: Option<String>,
    start_in_background: bool,
    lane: Option<usize>,
    /// Had a handle before (closed or killed): the next open is a restart.
    had_handle: bool,
}

/// A scenario line: its time, process and operation, and whether it prints a line.
struct ScenarioLine {
    t: Option<i64>,
    proc_name: Option<String>,
    op: String,
    args: Vec<String>,
    prints: bool,
}

fn parse_scenario(text: &str) -> Vec<ScenarioLine> {
    let mut lines = Vec::new();
    for raw in text.lines() {
        let words: Vec<&str> = raw.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let t = words[0].parse::<i64>().ok();
        let mut rest = &words[1..];
        let mut proc_name = None;
        if let Some(first) = rest.first() {
            if let Some(name) = first.strip_prefix('@') {
                if t.is_some()
                    && !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    proc_name = Some(name.to_owned());
                    rest = &rest[1..];
                }
            }
        }
        let op = rest.first().map_or(String::new(), |s| (*s).to_owned());
        let silent = t.is_some() && matches!(op.as_str(), "config" | "store" | "kill");
        lines.push(ScenarioLine {
            t,
            proc_name,
            args: rest.iter().skip(1).map(|s| (*s).to_owned()).collect(),
            prints: !silent,
            op,
        });
    }
    lines
}

const DRIVER: &str = "app";

struct Builder {
    timeline: Timeline,
    procs: HashMap<String, Process>,
    lane_ids: HashMap<String, usize>,
    sessions: HashMap<(usize, String), usize>,
    in_background: HashMap<usize, bool>,
    now: i64,
}

impl Builder {
    fn step(&mut self, t: Option<i64>) -> usize {
        if let Some(t) = t {
            self.now = t;
        }
        self.timeline.times.push(self.now);
        self.timeline.times.len() - 1
    }

    fn lane(&mut self, key: String) -> usize {
        if let Some(&lane) = self.lane_ids.get(&key) {
            return lane;
        }
        self.timeline.lanes.push(key.clone());
        self.timeline.rows.push(Vec::new());
        self.lane_ids.insert(key, self.timeline.lanes.len() - 1);
        self.timeline.lanes.len() - 1
    }

    fn row(&mut self, lane: usize, proc_name: &str) {
        if !self.timeline.rows[lane].iter().any(|p| p == proc_name) {
            self.timeline.rows[lane].push(proc_name.to_owned());
        }
    }

    fn mark(&mut self, step: usize, lane: usize, proc_name: &str, mark: Mark) {
        self.row(lane, proc_name);
        let t = self.timeline.times[step];
        self.timeline.items.push((
            step,
            Item {
                t,
                lane,
                proc_name: proc_name.to_owned(),
                mark,
            },
        ));
    }

    fn set_background(&mut self, lane: usize, step: usize, on: bool) {
        let was = self.in_background.insert(lane, on).unwrap_or(false);
        if on && !was {
            self.timeline.background.push((lane, step, None));
        } else if !on && was {
            if let Some(open) = self
                .timeline
                .background
                .iter_mut()
                .rev()
                .find(|(l, _, end)| *l == lane && end.is_none())
            {
                open.2 = Some(step);
            }
        }
    }

    fn session(&mut self, lane: usize, data: &Value, step: usize) -> usize {
        let id = data["sessionId"].as_str().unwrap_or("?").to_owned();
        let index = data["sessionIndex"].as_i64().unwrap_or(0);
        let key = (lane, id.clone());
        if let Some(&s) = self.sessions.get(&key) {
            if self.timeline.sessions[s].end.is_none() {
                return s;
            }
        }
        self.timeline.sessions.push(Session {
            lane,
            id,
            index,
            first: step,
            last: step,
            end: None,
        });
        let s = self.timeline.sessions.len() - 1;
        self.sessions.insert(key, s);
        s
    }

    /// One output line of process `proc_name`, in `lane`.
    fn output(&mut self, line: &Value, proc_name: &str, lane: usize, restart: bool) {
        let op = line["op"].as_str().unwrap_or("").to_owned();
        let step = self.step(line["t"].as_i64());
        self.row(lane, proc_name);
        for callback in line["callbacks"].as_array().into_iter().flatten() {
            let data = &callback["data"];
            match callback["kind"].as_str() {
                Some("session_end") => {
                    let s = self.session(lane, data, step);
                    let reason = data["reason"].as_str().unwrap_or("?").to_owned();
                    self.timeline.sessions[s].end = Some((step, reason));
                }
                Some("session_start") => {
                    let data = data.get("data").unwrap_or(data);
                    self.session(lane, data, step);
                }
                _ => {}
            }
        }
        let entity = line["entity"].get("data").cloned();
        if let Some(data) = &entity {
            let s = self.session(lane, data, step);
            self.timeline.sessions[s].last = step;
        }
        if op == "get" {
            if let Some(bg) = line["in_background"].as_bool() {
                self.set_background(lane, step, bg);
            }
            return;
        }
        if let Some(schema) = line["event"]["schema"].as_str() {
            self.set_background(lane, step, schema.contains("application_background"));
        }
        let status = line["status"].as_str().unwrap_or("").to_owned();
        let mark = match (&entity, op.as_str()) {
            (Some(data), "track" | "background" | "foreground") => Mark::Event {
                index: data["eventIndex"].as_i64().unwrap_or(0),
                op: op.clone(),
            },
            (_, "open") if restart && status == "ok" => Mark::Restart,
            (_, "track" | "background" | "foreground") if status == "ok" => return,
            _ => Mark::Op { op, status },
        };
        self.mark(step, lane, proc_name, mark);
    }
}

fn build(runs: &[(Option<String>, String)]) -> Result<Timeline, Failure> {
    let mut b = Builder {
        timeline: Timeline::default(),
        procs: HashMap::new(),
        lane_ids: HashMap::new(),
        sessions: HashMap::new(),
        in_background: HashMap::new(),
        now: 0,
    };
    for (run, (scenario, output)) in runs.iter().enumerate() {
        let mut outputs = Vec::new();
        for (n, text) in output.lines().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(text).map_err(|e| {
                (
                    1,
                    format!("run {}: output line {}: not JSON: {e}", run + 1, n + 1),
                )
            })?;
            outputs.push(value);
        }
        // A new run is a restart of every process: handles and options are gone.
        for process in b.procs.values_mut() {
            let had = process.had_handle || process.lane.is_some();
            *process = Process {
                had_handle: had,
                ..Process::default()
            };
        }
        let Some(scenario) = scenario else {
            let lane = b.lane("every session (no scenario given)".into());
            for line in &outputs {
                let proc_name = line["proc"].as_str().unwrap_or(DRIVER).to_owned();
                b.output(line, &proc_name, lane, false);
            }
            continue;
        };
        let mut outputs = outputs.into_iter();
        for line in parse_scenario(scenario) {
            let proc_name = line.proc_name.clone().unwrap_or_else(|| DRIVER.into());
            let process = b.procs.entry(proc_name.clone()).or_default().clone();
            if !line.prints {
                match line.op.as_str() {
                    "config" => {
                        let process = b.procs.entry(proc_name.clone()).or_default();
                        process.namespace = None;
                        process.start_in_background = false;
                        for arg in &line.args {
                            if let Some(ns) = arg.strip_prefix("namespace=") {
                                process.namespace = Some(ns.to_owned());
                            }
                            if arg == "start_in_background=1" {
                                process.start_in_background = true;
                            }
                        }
                    }
                    "store" => {
                        b.procs.entry(proc_name.clone()).or_default().store =
                            Some(line.args.join(" "));
                    }
                    _ => {
                        // kill: the driver's kills every process and ends the run.
                        let step = b.step(line.t);
                        let victims: Vec<String> = if line.proc_name.is_some() {
                            vec![proc_name.clone()]
                        } else {
                            let mut all: Vec<String> = b.procs.keys().cloned().collect();
                            all.sort();
                            all
                        };
                        for victim in victims {
                            let Some(p) = b.procs.get(&victim).cloned() else {
                                continue;
                            };
                            if let Some(lane) = p.lane {
                                b.mark(step, lane, &victim, Mark::Kill);
                            }
                            b.procs.insert(
                                victim,
                                Process {
                                    had_handle: p.had_handle || p.lane.is_some(),
                                    ..Process::default()
                                },
                            );
                        }
                        if line.proc_name.is_none() {
                            break;
                        }
                    }
                }
                continue;
            }
            let Some(output) = outputs.next() else {
                eprintln!(
                    "sesh-timeline: run {}: the output ends before the scenario",
                    run + 1
                );
                break;
            };
            let out_op = output["op"].as_str().unwrap_or("");
            let out_proc = output["proc"].as_str();
            if out_op != line.op || out_proc != line.proc_name.as_deref() {
                eprintln!(
                    "sesh-timeline: run {}: scenario line {:?} does not match output op {:?}: \
                     the rest is drawn from the output alone",
                    run + 1,
                    line.op,
                    out_op
                );
            }
            let mut restart = false;
            let lane = if line.op == "open" {
                let store = process.store.clone().unwrap_or_else(|| "memory".into());
                let namespace = process
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                // A memory store belongs to its handle: its own lane.
                let key = if store == "memory" {
                    format!("namespace \"{namespace}\" · memory store of {proc_name}")
                } else {
                    format!("namespace \"{namespace}\" · {store}")
                };
                let lane = b.lane(key);
                restart = process.had_handle || process.lane.is_some() || run > 0;
                let p = b.procs.entry(proc_name.clone()).or_default();
                p.had_handle |= p.lane.is_some();
                p.lane = Some(lane);
                lane
            } else {
                match process.lane {
                    Some(lane) => lane,
                    None => b.lane(format!("{proc_name}: no handle")),
                }
            };
            let start_bg = line.op == "open" && process.start_in_background;
            b.output(&output, &proc_name, lane, restart);
            if start_bg && output["status"] == "ok" {
                let step = b.timeline.times.len() - 1;
                b.set_background(lane, step, true);
            }
        }
        for output in outputs {
            let proc_name = output["proc"].as_str().unwrap_or(DRIVER).to_owned();
            let lane = b.lane("unmatched output".into());
            b.output(&output, &proc_name, lane, false);
        }
    }
    Ok(b.timeline)
}

// ----- drawing --------------------------------------------------------------------------------

const LEFT: f64 = 210.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 70.0;
const UNIT: f64 = 50.0;
const GAP: f64 = 170.0;
const SAME: f64 = 14.0;
const LANE_HEAD: f64 = 22.0;
const SESSION_ROW: f64 = 46.0;
const PROC_ROW: f64 = 40.0;
const COLORS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
];

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Where each step is drawn, and the compressed gaps: (x from, x to, label).
fn layout(times: &[i64]) -> (Vec<f64>, Vec<(f64, f64, String)>) {
    let mut steps: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    steps.sort_unstable();
    let median = steps.get(steps.len() / 2).copied().unwrap_or(1000).max(1);
    let threshold = 3 * median;
    let scale = UNIT / median as f64;
    let mut xs = Vec::with_capacity(times.len());
    let mut gaps = Vec::new();
    let mut x = LEFT + 20.0;
    for (i, &t) in times.iter().enumerate() {
        if i > 0 {
            let dt = t - times[i - 1];
            if dt == 0 {
                x += SAME;
            } else if dt > threshold {
                gaps.push((x + 8.0, x + GAP - 8.0, format!("⋯ {} ⋯", span(dt))));
                x += GAP;
            } else if dt < 0 {
                gaps.push((x + 8.0, x + GAP - 8.0, format!("⟲ {} back", span(-dt))));
                x += GAP;
            } else {
                x += (dt as f64 * scale).max(SAME);
            }
        }
        xs.push(x);
    }
    (xs, gaps)
}

fn draw(timeline: &Timeline, title: &str) -> String {
    let (xs, gaps) = layout(&timeline.times);
    let x_of = |step: usize| xs.get(step).copied().unwrap_or(LEFT);
    let width = xs.last().copied().unwrap_or(LEFT) + RIGHT;
    // Rows: per lane, a header, the sessions' row, one row per process.
    let mut lane_top = Vec::new();
    let mut y = TOP + 20.0;
    for rows in &timeline.rows {
        lane_top.push(y);
        y += LANE_HEAD + SESSION_ROW + PROC_ROW * rows.len() as f64 + 14.0;
    }
    let height = y + 30.0;
    let session_y = |lane: usize| lane_top[lane] + LANE_HEAD;
    let proc_y = |lane: usize, name: &str| {
        let row = timeline.rows[lane]
            .iter()
            .position(|p| p == name)
            .unwrap_or(0);
        lane_top[lane] + LANE_HEAD + SESSION_ROW + PROC_ROW * row as f64
    };
    let lane_bottom =
        |lane: usize| session_y(lane) + SESSION_ROW + PROC_ROW * timeline.rows[lane].len() as f64;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" \
         font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(svg, "<title>{}</title>", esc(title));
    let _ = writeln!(
        svg,
        "<style>.session text{{fill:#fff;font-weight:bold}} .end{{fill:#c0392b}} \
         .tick{{stroke:#222}} .kill{{stroke:#c0392b;stroke-width:2.5}} \
         .lane{{font-weight:bold}} .axis{{fill:#555}}</style>"
    );
    let _ = writeln!(
        svg,
        "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
    );
    let t0 = timeline.times.first().copied().unwrap_or(0);
    let _ = writeln!(
        svg,
        "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\
         <text x=\"12\" y=\"40\" class=\"axis\">time from t0 = {} ms ({}); \
         gaps over 3× the median step are shortened</text>",
        esc(title),
        t0,
        esc(&sesh::timestamp::format_iso8601(t0))
    );
    // Compressed gaps, across every lane.
    for (x1, x2, label) in &gaps {
        let _ = writeln!(
            svg,
            "<g class=\"gap\"><rect x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"#f4f6f7\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\" fill=\"#555\">{}</text></g>",
            TOP - 8.0,
            x2 - x1,
            height - TOP - 20.0,
            (x1 + x2) / 2.0,
            TOP + 6.0,
            esc(label)
        );
    }
    // Background periods, behind everything of their lane.
    for &(lane, from, to) in &timeline.background {
        let x1 = x_of(from);
        let x2 = to.map_or(width - RIGHT + 40.0, x_of);
        let top = session_y(lane);
        let _ = writeln!(
            svg,
            "<g class=\"background\"><rect x=\"{x1:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"#d5d8dc\" opacity=\"0.7\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\" \
             font-size=\"9\">background</text></g>",
            (x2 - x1).max(2.0),
            lane_bottom(lane) - top,
            x1 + 3.0,
            lane_bottom(lane) - 3.0
        );
    }
    // The axis: a label at each new time, when there is room.
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.1}\" y2=\"{TOP}\" stroke=\"#888\"/>",
        width - RIGHT + 40.0
    );
    let mut last_label = f64::MIN;
    for (i, &t) in timeline.times.iter().enumerate() {
        if i > 0 && timeline.times[i - 1] == t {
            continue;
        }
        let x = x_of(i);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{TOP}\" stroke=\"#888\"/>",
            TOP - 4.0
        );
        if x - last_label >= 46.0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
                TOP - 8.0,
                esc(&span(t - t0))
            );
            last_label = x;
        }
    }
    svg.push('\n');
    // Lanes and rows.
    for (lane, name) in timeline.lanes.iter().enumerate() {
        let top = lane_top[lane];
        let _ = writeln!(
            svg,
            "<text x=\"12\" y=\"{:.1}\" class=\"lane\">{}</text>\
             <line x1=\"12\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>\
             <text x=\"24\" y=\"{:.1}\" fill=\"#333\">sessions</text>",
            top + 14.0,
            esc(name),
            top + 18.0,
            width - 12.0,
            top + 18.0,
            session_y(lane) + 26.0
        );
        for proc_name in &timeline.rows[lane] {
            let y = proc_y(lane, proc_name);
            let _ = writeln!(
                svg,
                "<text x=\"24\" y=\"{:.1}\" fill=\"#333\">process {}</text>\
                 <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
                y + 24.0,
                esc(proc_name),
                y + 28.0,
                width - RIGHT + 40.0,
                y + 28.0
            );
        }
    }
    // Sessions.
    for (n, s) in timeline.sessions.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let y = session_y(s.lane) + 8.0;
        let x1 = x_of(s.first);
        let x2 = x_of(s.last).max(x1 + 4.0);
        let short: String = s.id.chars().filter(|c| *c != '-').take(8).collect();
        let reason = s.end.as_ref().map_or("running", |(_, r)| r.as_str());
        let label = format!("#{} {short}", s.index);
        let _ = write!(
            svg,
            "<g class=\"session\" data-session-index=\"{}\" data-session-id=\"{}\" data-end=\"{}\">\
             <title>session {} {}: {}</title>\
             <rect x=\"{x1:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"24\" rx=\"4\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" stroke=\"{color}\" stroke-width=\"3\" \
             paint-order=\"stroke\">{}</text></g>",
            s.index,
            esc(&short),
            esc(reason),
            s.index,
            esc(&s.id),
            esc(reason),
            x2 - x1,
            x1 + 4.0,
            y + 16.0,
            esc(&label)
        );
        match &s.end {
            Some((end, reason)) => {
                let xe = x_of(*end);
                if xe > x2 + 1.0 {
                    let _ = write!(
                        svg,
                        "<line x1=\"{x2:.1}\" y1=\"{:.1}\" x2=\"{xe:.1}\" y2=\"{:.1}\" stroke=\"{color}\" \
                         stroke-width=\"3\" stroke-dasharray=\"3 3\"/>",
                        y + 12.0,
                        y + 12.0
                    );
                }
                let _ = write!(
                    svg,
                    "<g class=\"end-marker\"><line x1=\"{xe:.1}\" y1=\"{:.1}\" x2=\"{xe:.1}\" y2=\"{:.1}\" \
                     stroke=\"#c0392b\" stroke-width=\"2\"/><text class=\"end\" x=\"{:.1}\" y=\"{:.1}\" \
                     font-size=\"10\">{}</text></g>",
                    y - 4.0,
                    y + 28.0,
                    xe + 3.0,
                    y + 34.0,
                    esc(reason)
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\" font-size=\"10\">▸</text>",
                    x2 + 2.0,
                    y + 16.0
                );
            }
        }
        svg.push('\n');
    }
    // Events and operations, per process row; labels stagger when they crowd.
    let mut last_x: HashMap<(usize, String), (f64, u8)> = HashMap::new();
    for (step, item) in &timeline.items {
        let x = x_of(*step);
        let y = proc_y(item.lane, &item.proc_name);
        let key = (item.lane, item.proc_name.clone());
        let level = match last_x.get(&key) {
            Some(&(px, level)) if x - px < 24.0 => (level + 1) % 2,
            _ => 0,
        };
        last_x.insert(key, (x, level));
        let ly = y + 12.0 - 9.0 * f64::from(level);
        let t = item.t;
        match &item.mark {
            Mark::Event { index, op } => {
                let _ = writeln!(
                    svg,
                    "<g class=\"event\" data-event-index=\"{index}\"><title>{} at {t} ms: eventIndex {index}</title>\
                     <line class=\"tick\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke-width=\"{}\"/>\
                     <text x=\"{x:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-size=\"10\">{index}</text></g>",
                    esc(op),
                    y + 14.0,
                    y + 28.0,
                    if op == "track" { 2 } else { 4 }
                );
            }
            Mark::Op { op, status } => {
                let label = if status == "ok" || status.is_empty() {
                    op.clone()
                } else {
                    format!("{op}: {status}")
                };
                let _ = writeln!(
                    svg,
                    "<g class=\"op\"><title>{} at {t} ms</title><circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3.5\" \
                     fill=\"#fff\" stroke=\"#333\"/><text x=\"{x:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" \
                     font-size=\"9\" fill=\"#333\">{}</text></g>",
                    esc(&label),
                    y + 21.0,
                    esc(&label)
                );
            }
            Mark::Kill => {
                let _ = writeln!(
                    svg,
                    "<g class=\"kill-marker\"><title>kill at {t} ms</title>\
                     <line class=\"kill\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
                     <line class=\"kill\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
                     <text x=\"{x:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#c0392b\" \
                     font-weight=\"bold\">kill</text></g>",
                    x - 5.0,
                    y + 16.0,
                    x + 5.0,
                    y + 26.0,
                    x - 5.0,
                    y + 26.0,
                    x + 5.0,
                    y + 16.0
                );
            }
            Mark::Restart => {
                let _ = writeln!(
                    svg,
                    "<g class=\"restart-marker\"><title>restart (open) at {t} ms</title>\
                     <path d=\"M{:.1},{:.1} l10,5 l-10,5 z\" fill=\"#27ae60\"/><text x=\"{x:.1}\" y=\"{ly:.1}\" \
                     text-anchor=\"middle\" font-size=\"10\" fill=\"#27ae60\" font-weight=\"bold\">restart</text></g>",
                    x - 4.0,
                    y + 16.0
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}
