import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { opsArb } from '../src/arbitraries/ops';
import { runCheck } from '../src/check/runCheck';
import { CheckedRun, withDrain } from '../src/run/checkedRun';
import { stateView } from '../src/report/stateView';
import type { Op } from '../src/ops/op';
import { main } from '../src/cli/main';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ZapWithoutFlush from './fixtures/variants/zapWithoutFlush';
import { captureOutput } from './__helpers__/captureOutput';

captureOutput();

/** Everything a run produces that a trace could show: each step's result and the whole state after it. */
function trace(ops: readonly Op[]): string {
  const run = new CheckedRun(new ReferenceKernel(), geometry('small'));
  return withDrain(ops)
    .map((op, i) => {
      const r = run.step(op, i);
      const result = 'violation' in r ? r.violation : r.applied.result;
      return JSON.stringify([result, [...stateView(run.machine)], run.machine.stats]);
    })
    .join('\n');
}

describe('determinism', () => {
  it('the same ops give the same trace, byte for byte', () => {
    fc.assert(fc.property(opsArb(geometry('small'), 40), (ops) => trace(ops) === trace(ops)), { seed: 7, numRuns: 200 });
  });

  it('the same seed gives the same check report', () => {
    const run = () => {
      const r = runCheck({ kernel: () => new ReferenceKernel(), reference: () => new ReferenceKernel(), geometry: geometry('small'), runs: 150, seed: 99, maxOps: 60 });
      return JSON.stringify({ ...r, elapsedMs: 0 });
    };
    expect(run()).toBe(run());
  });

  it('the same seed gives the same counterexample through the CLI (the check runs in a worker) as in this thread', async () => {
    const variant = join(import.meta.dirname, 'fixtures', 'variants', 'zapWithoutFlush.ts');
    const saved = async (): Promise<string> => {
      const dir = mkdtempSync(join(tmpdir(), 'mmcheck-det-'));
      expect(await main(['check', '--kernel', variant, '--runs', '300', '--seed', '3', '--quiet', '--no-typecheck', '--failures', dir])).toBe(1);
      return readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    };
    const first = await saved();
    expect(await saved()).toBe(first);
    const inThread = runCheck({ kernel: () => new ZapWithoutFlush(), geometry: geometry('small'), runs: 300, seed: 3, maxOps: 60 });
    const fromWorker = JSON.parse(first) as { ops: unknown; path: string };
    expect(fromWorker.ops).toEqual(inThread.failure?.ops);
    expect(fromWorker.path).toBe(inThread.failure?.path);
  });
});
