// bench/track.mjs: what issue 12 asks of the web build, measured in Node through the
// JavaScript API, printed as rows in sesh-bench's format (scripts/bench-table reads them):
//
//   node bench/track.mjs                               # rows without a ratio (n/a)
//   node bench/track.mjs --baseline-ns 107             # track_memory from the same run
//   node bench/track.mjs --quick | --runs N | --wasm PATH
//
// Rows: track_js (sesh.track(), the entity object) and track_json_js (sesh.trackJson(), its
// JSON string), each the median over --runs runs (7) of the mean per event of a steady run in
// one session on the memory store, with a clock injected that moves 1 ms per reading (as
// sesh-bench's track_memory); and wasm_size, the bytes of the sesh.wasm it loaded (gzip level 9 in
// the note). The ratio of track_js is to sesh-bench's track_memory, measured natively in the
// same run (scripts/bench-table passes it with --baseline-ns); target <= 5. Exits 1 only when
// the run broke (a call failed, the session did not stay one), never for a MISS.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { open, init } from '../index.js';

const settings = { runs: 7, quick: false, baselineNs: null, wasm: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--quick') settings.quick = true;
  else if (arg === '--runs' && i + 1 < argv.length) settings.runs = Number(argv[++i]);
  else if (arg === '--baseline-ns' && i + 1 < argv.length) settings.baselineNs = Number(argv[++i]);
  else if (arg === '--wasm' && i + 1 < argv.length) settings.wasm = argv[++i];
  else {
    console.error('usage: node bench/track.mjs [--quick] [--runs N] [--baseline-ns NS] [--wasm PATH]');
    process.exit(2);
  }
}
if (!Number.isInteger(settings.runs) || settings.runs < 1 || settings.runs > 64
    || (settings.baselineNs !== null && !(settings.baselineNs > 0))) {
  console.error('bench/track.mjs: --runs is 1 to 64, --baseline-ns a positive number of ns');
  process.exit(2);
}
if (settings.quick && settings.runs > 3) settings.runs = 3;
const iterations = (full) => (settings.quick ? Math.max(20, Math.floor(full / 100)) : full);

const wasmUrl = settings.wasm === null ? new URL('../dist/sesh.wasm', import.meta.url)
  : new URL(settings.wasm, `file://${process.cwd()}/`);
const wasmBytes = readFileSync(wasmUrl);
await init(wasmBytes);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

let failures = 0;
function fail(message) {
  console.error(`bench/track.mjs: ${message}`);
  failures++;
}

// The custom sections left in the module (a stripped build has none: no names, no producers).
function customSections(bytes) {
  const names = [];
  let at = 8; // magic and version
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0) {
      const nameLength = leb();
      names.push(new TextDecoder().decode(bytes.subarray(at, at + nameLength)));
    }
    at = end;
  }
  return names;
}

// One row per case, as sesh-bench's rows: what it measures, its unit, its baseline and target.
const rows = [
  {
    name: 'track_js', unit: 'ns', baseline: 'track_memory', targetKind: 'at_most', target: 5,
    targetText: '<= 5.00',
    what: 'event in a running session through the JS API in Node (sesh.track(): the wasm call, '
      + 'the entity object), memory store',
  },
  {
    name: 'track_json_js', unit: 'ns', baseline: 'track_memory', targetKind: 'none',
    targetText: '-', what: 'as track_js, with sesh.trackJson() (the entity\'s JSON string)',
  },
  {
    name: 'wasm_size', unit: 'bytes', baseline: null, targetKind: 'at_most', target: 250_000,
    targetText: '<= 250 KB',
    what: 'dist/sesh.wasm as build.sh makes it (LTO, the engine at opt-level 3, the rest at z, '
      + 'wasm-opt -Oz), stripped',
  },
];
const row = (name) => rows.find((r) => r.name === name);

// Median ns per event of `runs` runs of `count` events each, all in one session.
async function perEventCase(name, call, count) {
  let now = 1_700_000_000_000;
  const sesh = await open({ store: 'memory', clock: () => (now += 1) });
  try {
    // Warm up (this opens the session): count / 10 events as sesh-bench, and at least a
    // second, so that V8 has optimised both the JavaScript and the WebAssembly (it compiles
    // hot wasm functions again, optimised, in the background); before that, the first case
    // measured was 1.5x slower than the same case measured later in the process.
    const warmUntil = performance.now() + (settings.quick ? 50 : 1000);
    for (let i = 0; i < count / 10 + 1 || performance.now() < warmUntil; i++) call(sesh);
    const perRun = [];
    const cpuPerRun = [];
    for (let run = 0; run < settings.runs; run++) {
      const before = sesh.state();
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) call(sesh);
      const elapsed = Number(process.hrtime.bigint() - start);
      const cpu = process.cpuUsage(cpuStart);
      const after = sesh.state();
      if (after.sessionId !== before.sessionId || after.eventIndex !== before.eventIndex + count) {
        fail(`${name}: session ${before.sessionIndex} event ${before.eventIndex} became session `
          + `${after.sessionIndex} event ${after.eventIndex}, expected event ${before.eventIndex + count}`);
        row(name).note = 'not measured: the session did not stay one';
        return;
      }
      perRun.push(elapsed / count);
      cpuPerRun.push(((cpu.user + cpu.system) * 1000) / count);
    }
    row(name).value = median(perRun);
    row(name).note = `cpu ${median(cpuPerRun).toFixed(0)} ns (process); mean of ${count} events `
      + `x ${settings.runs} runs; node ${process.version}`;
  } catch (err) {
    fail(`${name}: ${err?.stack ?? err}`);
    row(name).note = `not measured: ${err?.message ?? err}`;
  } finally {
    sesh.close();
  }
}

function sizeCase() {
  const r = row('wasm_size');
  r.value = wasmBytes.length;
  const custom = customSections(wasmBytes);
  r.note = `gzip (zlib, level 9) ${gzipSync(wasmBytes, { level: 9 }).length} B; custom sections: `
    + `${custom.length ? custom.join(', ') : 'none'}`;
}

function format(r, value) {
  return r.unit === 'ns' ? `${value.toFixed(0)} ns` : `${value.toFixed(0)} B`;
}

// As sesh-bench's print_table: columns two spaces apart at least.
function printTable() {
  const pad = (text, width) => String(text).padEnd(width);
  const left = (text, width) => String(text).padStart(width);
  console.log(`${pad('case', 25)}  ${left('measured', 12)}  ${pad('baseline', 17)}  `
    + `${left('baseline is', 12)}  ${left('ratio', 7)}  ${pad('target', 9)}  ${pad('result', 6)}  what`);
  for (const r of rows) {
    let value = '-';
    let baseValue = '-';
    let ratio = '-';
    let result = 'n/a';
    if (r.value !== undefined) {
      value = format(r, r.value);
      let judged = r.value;
      let judge = true;
      if (r.baseline) {
        if (settings.baselineNs !== null) {
          baseValue = `${settings.baselineNs.toFixed(0)} ns`;
          judged = r.value / settings.baselineNs;
          ratio = judged.toFixed(2);
        } else {
          judge = false; // no native baseline from this run: nothing to judge by
        }
      }
      if (!judge) result = 'n/a';
      else if (r.targetKind === 'at_most') result = judged <= r.target ? 'pass' : 'MISS';
      else result = 'info';
    }
    const note = r.note ? ` [${r.note}]` : '';
    console.log(`${pad(r.name, 25)}  ${left(value, 12)}  ${pad(r.baseline ?? '-', 17)}  `
      + `${left(baseValue, 12)}  ${left(ratio, 7)}  ${pad(r.targetText, 9)}  ${pad(result, 6)}  `
      + `${r.what}${note}`);
  }
}

console.log(`sesh-js ${JSON.parse(readFileSync(new URL('../package.json', import.meta.url))).version}; `
  + `node ${process.version}; median of ${settings.runs} runs`
  + `${settings.quick ? ' (--quick: few iterations, figures not meaningful)' : ''}; injected clock`);
await perEventCase('track_js', (sesh) => sesh.track(), iterations(200_000));
await perEventCase('track_json_js', (sesh) => sesh.trackJson(), iterations(200_000));
sizeCase();
printTable();
process.exit(failures ? 1 : 0);
