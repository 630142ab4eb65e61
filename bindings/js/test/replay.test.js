// The replayed scenarios of tests/scenarios/ through the web build: tools/sesh-replay.mjs
// plays each one through this package's JavaScript API, and tests/scenarios/check.py checks
// its output (every line's shape, the inline assertions) and compares it, ids normalized,
// with the very .expected file the native sesh-replay (C ABI) is checked against. One
// subtest a scenario (one check.py run for them all); those check.py's web_exclusions rules
// out (a SQLite store, a second process) are listed as skipped, with the reason. Fails when
// none is eligible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.dirname(here);
const repoRoot = path.resolve(packageRoot, '..', '..');
const checkPy = path.join(repoRoot, 'tests', 'scenarios', 'check.py');
const driver = path.join(packageRoot, 'tools', 'sesh-replay.mjs');

function findPython() {
  for (const name of ['python3', 'python']) {
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' });
      return name;
    } catch { /* next */ }
  }
  return null;
}

/** A word for check.py's shlex.split: the node running these tests runs the driver. */
function shellWord(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function run(python, args) {
  return new Promise((resolve) => {
    execFile(python, [checkPy, ...args], { maxBuffer: 16 << 20, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

test('tests/scenarios through the web build give the native build\'s results', async (t) => {
  const python = findPython();
  if (!python) {
    // Skipped only where the build does not require every test group (test-all does).
    assert.ok(!process.env.SESH_REQUIRE_ALL_TESTS, 'no python3 on PATH');
    t.skip('no python3 on PATH');
    return;
  }
  const listed = await run(python, ['--list-web']);
  assert.equal(listed.code, 0, `check.py --list-web failed:\n${listed.stdout}${listed.stderr}`);
  const scenarios = listed.stdout.trim().split('\n').map((line) => JSON.parse(line));
  const eligible = scenarios.filter((s) => s.excluded.length === 0);
  const excluded = scenarios.filter((s) => s.excluded.length > 0);
  t.diagnostic(`${scenarios.length} scenarios: ${eligible.length} eligible for the web build, `
    + `${excluded.length} excluded (reasons on the skipped subtests)`);
  assert.ok(eligible.length > 0, 'no scenario of tests/scenarios is eligible for the web build');

  // One check.py run plays every eligible scenario (a process per scenario would double
  // the time); its verdict on each ("ok   NAME", or "FAIL NAME" and the indented problems)
  // is that scenario's subtest.
  const checked = await run(python, [
    '--web', '--replay', driver, '--wrapper', shellWord(process.execPath),
    ...eligible.map((s) => s.path),
  ]);
  const verdicts = new Map();
  let current = null;
  for (const line of checked.stdout.split('\n')) {
    const head = /^(ok {3}|FAIL )(\S+)/.exec(line);
    if (head) {
      current = { ok: head[1] === 'ok   ', text: [line] };
      verdicts.set(head[2], current);
    } else if (current && line.startsWith('  ')) {
      current.text.push(line);
    }
  }
  for (const scenario of scenarios) {
    if (scenario.excluded.length > 0) {
      await t.test(scenario.name, { skip: `not for the web build: ${scenario.excluded.join('; ')}` });
      continue;
    }
    await t.test(scenario.name, () => {
      const verdict = verdicts.get(scenario.name);
      assert.ok(verdict, `check.py said nothing of ${scenario.name}:\n${checked.stdout}${checked.stderr}`);
      assert.ok(verdict.ok, verdict.text.join('\n'));
    });
  }
  assert.equal(checked.code, 0, `check.py --web failed:\n${checked.stdout}${checked.stderr}`);
});
