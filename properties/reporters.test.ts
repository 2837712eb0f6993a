import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { REPO } from './__helpers__/tempVariant';
import { reportSchema } from '../src/schema/report';
import type { Report } from '../src/schema/report';
import { formatJunit, xmlEscape } from '../src/results/junit';
import { formatTap } from '../src/results/tap';
import { runOne } from '../src/check/runCheck';
import { kernelEntry } from '../models/registry';
import { geometry } from '../models/machine/geometry';
import { opSchema } from '../src/schema/op';

// --reporter json|junit|tap on check, run, mutants and cost, through the real command: stdout
// holds the one document, it says what the human report says, and the exit code is unchanged.

const failures = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-reporter-'));
const FIXTURE = join(REPO, 'properties', 'fixtures', 'mutants', 'free-before-flush.json');
const parse = (out: string): Report => reportSchema.parse(JSON.parse(out));

describe('--reporter json', () => {
  it('check that holds: one passing case, the totals, every reported probe, exit 0', async () => {
    const r = await runCli(['check', '--kernel', 'batched', '--runs', '20', '--seed', '1', '--quiet', '--reporter', 'json', '--failures', failures()]);
    expect(r.code).toBe(0);
    const doc = parse(r.out);
    expect(doc.command).toBe('check');
    if (doc.command !== 'check') return;
    expect(doc.exitCode).toBe(0);
    expect(doc.tests).toHaveLength(1);
    expect(doc.tests[0]!.status).toBe('pass');
    expect(doc.data.verdict).toBe('HOLDS');
    expect(doc.data.sequences).toBe(20);
    expect(doc.data.steps).toBeGreaterThan(20);
    expect(Object.keys(doc.data.coverage).length).toBeGreaterThan(10);
    expect(doc.data.failure).toBeNull();
  });

  it('check that fails: the counterexample in the report replays to the same violation, exit 1', async () => {
    const dir = failures();
    const r = await runCli(['check', '--kernel', 'free-before-flush', '--runs', '300', '--seed', '1', '--quiet', '--reporter', 'json', '--failures', dir]);
    expect(r.code).toBe(1);
    const doc = parse(r.out);
    if (doc.command !== 'check') throw new Error(doc.command);
    expect(doc.exitCode).toBe(1);
    const f = doc.data.failure!;
    expect(['free_with_stale_tlb', 'tlb_use_after_free']).toContain(f.violation.code);
    const outcome = runOne({ kernel: kernelEntry('free-before-flush').make, geometry: geometry('small') }, f.ops.map((op) => opSchema.parse(op)));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.violation.code).toBe(f.violation.code);
    expect(f.file).toBe(join(dir, 'free-before-flush-small-seed1.json'));
    expect(JSON.parse(readFileSync(f.file!, 'utf8'))).toMatchObject({ ops: f.ops });
    const t = doc.tests[0]!;
    expect(t.status).toBe('fail');
    expect(t.message).toMatch(/^FAILED: (free_with_stale_tlb|tlb_use_after_free) at step \d+/);
    expect(t.details.join('\n')).toContain('counterexample:');
    // The per-probe rows are in data.coverage, not repeated in the details.
    expect(t.details.some((l) => l.includes('freed frame reused'))).toBe(false);
  });

  it('run, mutants and cost print documents that match the schema', async () => {
    const run = await runCli(['run', FIXTURE, '--reporter', 'json']);
    expect(run.code).toBe(1);
    const runDoc = parse(run.out);
    if (runDoc.command !== 'run') throw new Error(runDoc.command);
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { violation: { code: string } };
    expect(runDoc.data.failure?.violation.code).toBe(fixture.violation.code);

    const mutants = await runCli(['mutants', '--only', 'free-before-flush', '--seeds', '2', '--runs', '300', '--reporter', 'json']);
    expect(mutants.code).toBe(0);
    const mDoc = parse(mutants.out);
    if (mDoc.command !== 'mutants') throw new Error(mDoc.command);
    expect(mDoc.data.mutants).toHaveLength(1);
    expect(mDoc.data.mutants[0]).toMatchObject({ name: 'free-before-flush', killed: 2, seeds: 2, kind: 'plain' });
    expect(mDoc.tests.map((t) => t.status)).toEqual(['pass']);

    const cost = await runCli(['cost', '--workload', 'gup-pmd-thp', '--reporter', 'json']);
    expect(cost.code).toBe(0);
    const cDoc = parse(cost.out);
    if (cDoc.command !== 'cost') throw new Error(cDoc.command);
    expect(cDoc.data.workloads.map((w) => w.name)).toEqual(['gup-pmd-thp']);
    expect(cDoc.data.workloads[0]!.counters.length).toBeGreaterThan(3);
    expect(cDoc.data.workloads[0]!.clean).toBe(true);
  });
});

describe('--reporter junit and tap', () => {
  it('a failing check: a <failure> with the trace, and a kselftest-style not ok line with the totals', async () => {
    const junit = await runCli(['check', '--kernel', 'free-before-flush', '--runs', '300', '--seed', '1', '--quiet', '--reporter', 'junit', '--failures', failures()]);
    expect(junit.code).toBe(1);
    expect(junit.out.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mmcheck" tests="1" failures="1"')).toBe(true);
    expect(junit.out).toMatch(/<failure message="FAILED: [^"]+" type="check">[^<]*counterexample: \d+ ops/);
    const tap = await runCli(['check', '--kernel', 'free-before-flush', '--runs', '300', '--seed', '1', '--quiet', '--reporter', 'tap', '--failures', failures()]);
    expect(tap.code).toBe(1);
    const lines = tap.out.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['TAP version 13', '1..1']);
    expect(lines.filter((l) => /^(not )?ok \d+ /.test(l))).toEqual([expect.stringMatching(/^not ok 1 check free-before-flush small seed 1 - FAILED: /)]);
    expect(lines.at(-1)).toBe('# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0');
    expect(lines.filter((l) => !/^(TAP version 13|1\.\.1|(not )?ok \d+ .*|#.*)$/.test(l))).toEqual([]);
  });

  it('escapes what XML cannot hold and keeps TAP descriptions on one line without directives', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const doc: Report = {
      format: 'mmcheck-report/1',
      command: 'run',
      exitCode: 1,
      elapsedMs: 5,
      tests: [{ name: 'run x#1\non y', status: 'fail', message: 'FAILED: <bad> & "worse"', details: ['line <1>', ''], elapsedMs: 5 }],
      data: { file: 'x', kernel: 'k', geometry: 'small', ops: 1, verdict: 'FAILED', failure: null },
    };
    expect(formatJunit(doc)).toContain('<failure message="FAILED: &lt;bad&gt; &amp; &quot;worse&quot;" type="run">line &lt;1&gt;\n</failure>');
    expect(formatTap(doc).split('\n')).toEqual(['TAP version 13', '1..1', '# mmcheck run', '# line <1>', '#', 'not ok 1 run xno.1 on y - FAILED: <bad> & "worse"', '# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0', '']);
  });
});

describe('a bad --reporter', () => {
  it.each([
    ['check', ['check', '--runs', '1']],
    ['run', ['run', FIXTURE]],
    ['mutants', ['mutants', '--only', 'free-before-flush']],
    ['cost', ['cost']],
  ])('%s: one line naming the choices, exit 2, nothing on stdout', async (_name, args) => {
    const r = await runCli([...args, '--reporter', 'xml']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe("mmcheck: --reporter takes one of human, json, junit, tap, got 'xml'\n");
  });
});
