import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { ReferenceKernel as Kernel } from '../models/reference/ReferenceKernel';
import type { Op } from '../src/ops/op';
import { runInModel } from '../src/conform/modelRun';
import { exportedProgram } from '../src/conform/runtimeSource';
import { compileC, runBinary } from '../src/conform/kernelRun';
import { firstDifference } from '../src/conform/canonical';
import { whyNotRunnable } from '../src/conform/prerequisites';
import { runningRelease } from '../src/conform/release';
import { conformTarget } from '../src/conform/target';
import { runConform } from '../src/conform/runConform';
import { readThpSettings } from '../src/conform/thpSysfs';

// Issue 10, item 4: exported programs of every op kind, compiled and run on this machine's kernel,
// show what the model shows. Needs root, gcc, per-size THP controls and /proc/kpageflags.
const why = whyNotRunnable();
if (why !== null) console.log(`conformKernel.test.ts skipped: ${why}`);

const g = geometry('realistic');
const dir = mkdtempSync(join(tmpdir(), 'mmcheck-conform-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const map = (vpn: number, order: number, pmd: boolean, first = 0, count = 1 << order, mm = 0): Op => ({ kind: 'map', mm, vpn, order, pmd, first, count });
const store = (vpn: number, mm = 0, cpu = 0): Op => ({ kind: 'access', cpu, mm, vpn, write: true });
const load = (vpn: number, mm = 0, cpu = 1): Op => ({ kind: 'access', cpu, mm, vpn, write: false });
const fork = (mm = 0): Op => ({ kind: 'fork', mm });

/** Export, compile and run one program; the first difference from the model, or null. */
async function onKernel(name: string, ops: Op[], kernel?: Kernel) {
  const t = await conformTarget(runningRelease());
  const program = runInModel(kernel ?? t.makeKernel(), g, ops, t.userLevel);
  expect(program.steps.every((s) => s.left === null), `every op of ${name} has a user-level counterpart`).toBe(true);
  const src = join(dir, `${name}.c`);
  writeFileSync(src, exportedProgram(program.steps, [name]));
  compileC(src, join(dir, name));
  return firstDifference(program.expected, await runBinary(join(dir, name), ''));
}

const mmapFile = (vpn: number, nr: number, pgoff: number, shared: boolean, mm = 0): Op => ({ kind: 'mmapFile', mm, vpn, nr, file: 0, pgoff, shared });
const pwrite = (index: number): Op => ({ kind: 'fileWrite', file: 0, index });

const PROGRAMS: Record<string, Op[]> = {
  // Files (issue 14): file 0 is a memfd in the program. A shared store and a pwrite fill the page
  // cache; a private mapping of the same pages faults around onto them and copies on a store;
  // truncate unmaps both mappings from page 4 on, the private copy of page 3 stays.
  'file-shared-private-truncate': [
    mmapFile(0, 16, 0, true),
    store(3),
    pwrite(5),
    { kind: 'fileRead', file: 0, index: 3 },
    mmapFile(32, 16, 0, false),
    load(37),
    store(35),
    { kind: 'writeback', file: 0 },
    store(3),
    { kind: 'truncate', file: 0, from: 4 },
    load(37),
    load(35),
  ],
  // fault-around stays in the VMA: mprotect() of page 2 splits the mapping there
  'file-fault-around-mprotect': [mmapFile(0, 16, 0, true), pwrite(0), pwrite(1), pwrite(2), pwrite(3), { kind: 'mprotect', mm: 0, vpn: 2, nr: 1, writable: false }, load(0), load(3)],
  // fork does not copy a shared file VMA's page tables: the child faults the same page in
  'file-fork-shared': [mmapFile(0, 8, 8, true), store(1), fork(), load(1, 1), store(2, 1), load(2, 0)],
  'store-load-fork-cow': [store(3), fork(), load(3, 1), store(3, 1), load(3, 0), store(9, 1, 2)],
  'map-orders': [map(0, 0, false), map(16, 2, false), map(32, 4, false, 3, 5), map(512, 9, true), map(1024, 9, false, 100, 20)],
  'thp-fork-exit-reuse': [map(0, 4, false), fork(), { kind: 'exit', mm: 1 }, store(3), load(3)],
  'pmd-fork-cow-split': [map(512, 9, true), store(600), fork(), store(601, 1), load(600, 1)],
  'dontneed-partial-thp': [map(512, 9, true), { kind: 'zap', mm: 0, vpn: 520, nr: 10 }, store(530), { kind: 'zap', mm: 0, vpn: 0, nr: 2048 }],
  'mprotect-ro-segv': [store(5), { kind: 'mprotect', mm: 0, vpn: 4, nr: 4, writable: false }, store(5), load(5), { kind: 'mprotect', mm: 0, vpn: 0, nr: 8, writable: true }, store(5)],
  'mremap-pmd-and-ptes': [map(0, 9, true), store(7), { kind: 'mremap', mm: 0, from: 0, to: 1024, nr: 512 }, load(1031), store(1540), { kind: 'mremap', mm: 0, from: 1540, to: 1600, nr: 3 }, load(1600)],
  'pin-fork-devwrite': [store(2), { kind: 'gup', cpu: 0, mm: 0, vpn: 0, nr: 4, pin: true, write: true, fast: true }, fork(), { kind: 'gupWrite', handle: 0, index: 2 }, load(2), load(2, 1), { kind: 'unpin', handle: 0 }],
  'get-devread-cow': [store(2), store(3), { kind: 'gup', cpu: 0, mm: 0, vpn: 2, nr: 2, pin: false, write: false, fast: true }, fork(), store(2), { kind: 'gupRead', handle: 0, index: 0 }, { kind: 'exit', mm: 0 }, { kind: 'gupRead', handle: 0, index: 1 }],
};

describe.skipIf(why !== null)('conform: exported programs on this kernel show what the model shows', () => {
  for (const [name, ops] of Object.entries(PROGRAMS)) {
    it(name, async () => {
      expect(await onKernel(name, ops)).toBeNull();
    }, 30_000);
  }

  it('can fail: the 6.12 reference (no large-folio COW reuse) differs from this kernel where 6.15 changed it', async () => {
    const d = await onKernel('reuse-6.12', PROGRAMS['thp-fork-exit-reuse']!, new ReferenceKernel());
    expect(d).toMatchObject({ step: 3, model: expect.stringMatching(/^mm0 vpn 3: f\d+ small/), kernel: expect.stringMatching(/^mm0 vpn 3: f\d+ folio F0 order 4/) });
  }, 30_000);

  it("can fail on files: a model without fault-around maps fewer of a file's cached pages than this kernel", async () => {
    const t = await conformTarget(runningRelease());
    const base = t.makeKernel();
    // The target's kernel class with fault_around_bytes = 4096 (one page: no fault-around).
    const NoFaultAround = class extends (base.constructor as new () => Kernel) {
      override faultAroundPages(): number {
        return 1;
      }
    };
    const d = await onKernel('no-fault-around', PROGRAMS['file-shared-private-truncate']!, new NoFaultAround());
    expect(d).toMatchObject({ step: 5 });
  }, 30_000);

  it('random programs through the interpreter agree with the model, and the THP settings are as before', async () => {
    const before = readThpSettings();
    const r = await runConform(await conformTarget(runningRelease()), { runs: 25, seed: 1, maxOps: 12, signal: new AbortController().signal, onProgram: null });
    expect(r.failure?.comparison.difference ?? null).toBeNull();
    expect(r.verdict).toBe('AGREES');
    expect(r.stats.programs).toBe(25);
    expect(readThpSettings()).toEqual(before);
  }, 120_000);

  // In this file, not conformCli.test.ts: vitest runs files in parallel, and two files changing the
  // THP settings at once each read the other's change as their own 'before'.
  it('Ctrl-C stops it with exit 130 and the THP settings as they were', async () => {
    const before = readThpSettings();
    const child = spawn(process.execPath, ['bin/mmcheck.js', 'conform', '--runs', '100000', '--seed', '5', '--out', dir], { cwd: join(import.meta.dirname, '..'), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let interrupted = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!interrupted && err.includes('50 programs')) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT'); // the whole process group, as a terminal's ^C
      }
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', (c, s) => r(c ?? (s === 'SIGINT' ? 130 : -1))));
    expect(interrupted).toBe(true);
    expect(code).toBe(130);
    expect(out).toMatch(/INTERRUPTED after \d+ programs/);
    expect(readThpSettings()).toEqual(before);
  }, 120_000);
});
