import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runCheck, runOne } from '../src/check/runCheck';
import type { Op } from '../src/ops/op';
import GatherFreeEarly from '../docs/examples/gatherFreeEarly';
import GatherFlushThenFree from '../docs/examples/gatherFlushThenFree';
import GatherFlushThenFreeNoRmaps from '../docs/examples/gatherFlushThenFreeNoRmaps';

// The walkthrough in docs/reviewing-a-patch.md, kept true: the seeds, sequence numbers and
// counterexamples it reads, and every line of the output it quotes, come from these runs.
const root = join(import.meta.dirname, '..');
const doc = readFileSync(join(root, 'docs', 'reviewing-a-patch.md'), 'utf8');
const early = join(root, 'docs', 'examples', 'gatherFreeEarly.ts');
const fixed = join(root, 'docs', 'examples', 'gatherFlushThenFree.ts');
const firstFix = join(root, 'docs', 'examples', 'gatherFlushThenFreeNoRmaps.ts');
const small = geometry('small');
const reference = () => new ReferenceKernel();
const io = captureOutput();

/** The doc's unlabelled fenced blocks (quoted output), as lines. */
function outputBlocks(): string[][] {
  const blocks: string[][] = [];
  let open: { label: string; lines: string[] } | null = null;
  for (const line of doc.split('\n')) {
    if (line.startsWith('```')) {
      if (open === null) open = { label: line.slice(3), lines: [] };
      else {
        if (open.label === '') blocks.push(open.lines);
        open = null;
      }
    } else open?.lines.push(line);
  }
  return blocks;
}

/** The quoted block that starts with `first` (or whose first line starts with it). */
function block(first: string): string[] {
  const b = outputBlocks().find((lines) => lines[0]!.startsWith(first));
  if (b === undefined) throw new Error(`docs/reviewing-a-patch.md quotes no output starting ${JSON.stringify(first)}`);
  return b;
}

/** Every quoted line, except the `…` elisions and the `$ command` line, is a line the CLI printed. */
function expectQuoted(quoted: readonly string[], printed: string): void {
  const lines = new Set(printed.split('\n'));
  for (const line of quoted) {
    if (line.trim() === '…' || line.startsWith('$ ')) continue;
    expect(lines, `quoted line not printed: ${line}`).toContain(line);
  }
}

/** The CLI's output with a scratch failures folder written as the default `.mmcheck/failures`. */
function asDefaultFolder(out: string, dir: string): string {
  return out.split(dir).join('.mmcheck/failures');
}

// Shrunk counterexample of seed 120 (section 2): one failed batch-page allocation fills the gather.
const counterexample: Op[] = [
  { kind: 'nowaitFail', nr: 1 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
];

// Seed 407 (section 3): no access at all; GUP faults pages 30-31 in on CPU 0 (which now has mm 0
// loaded) and fills no TLB entry; mremap() onto page 31 unmaps the destination first, and that zap
// frees page 31, never loaded or stored through.
const speculative: Op[] = [
  { kind: 'nowaitFail', nr: 1 },
  { kind: 'gup', cpu: 0, mm: 0, vpn: 30, nr: 2, pin: false, write: false, fast: false },
  { kind: 'unpin', handle: 0 },
  { kind: 'mremap', mm: 0, from: 0, to: 31, nr: 2 },
];

// Seed 114 against the first fix (section 4): a dirty MAP_SHARED page's delayed rmap is freed with the batch.
const delayedRmapLost: Op[] = [
  { kind: 'mmapFile', mm: 0, vpn: 21, nr: 2, file: 0, pgoff: 0, shared: true },
  { kind: 'nowaitFail', nr: 1 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
];

describe('docs/reviewing-a-patch.md', () => {
  it('the doc runs seed 120 and reads seed 407', () => {
    expect(doc).toContain('npx mmcheck check --kernel docs/examples/gatherFreeEarly.ts --seed 120\n');
    expect(doc).toContain('The first sequence fails');
    expect(doc).toContain('shortened it from 60 ops');
    expect(doc).toContain('`npx mmcheck check --kernel docs/examples/gatherFreeEarly.ts --seed 407`,\nsequence 1');
  });

  it('the patch fails its check at seed 120, sequence 1, with the 3-op counterexample the doc reads', () => {
    const r = runCheck({ kernel: () => new GatherFreeEarly(), reference, geometry: small, runs: 2000, seed: 120, maxOps: 60 });
    expect(r.sequences).toBe(1);
    expect(r.failure?.originalLength).toBe(60);
    expect(r.failure?.numShrinks).toBe(25);
    expect(r.failure?.ops).toEqual(counterexample);
    expect(r.failure?.outcome.violation).toEqual({ code: 'free_with_stale_tlb', step: 2, pfn: 1, cpu: 0, mm: 0, vpn: 21 });
    // Without the failed allocation the gather never fills on one page: the same load and zap pass.
    expect(runOne({ kernel: () => new GatherFreeEarly(), reference, geometry: small }, counterexample.slice(1)).ok).toBe(true);
  });

  it('`mmcheck check --seed 120` prints what section 2 quotes, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-review-'));
    expect(await main(['check', '--kernel', early, '--seed', '120', '--failures', dir])).toBe(1);
    expectQuoted(block('mmcheck check: kernel gather-free-early'), asDefaultFolder(io.out, dir));
    // Section 4's aside: the one sequence filled a gather only in the failing step, whose tracepoints are not counted.
    expect(doc).toContain('The failing check in section 2 shows `mark:gather full` as never reached');
    expect(io.out).toMatch(/^ {4}✗ mark:gather full +0 +0\.0%$/m);
  });

  it('seed 407 fails at sequence 1 on a page CPU 0 never accessed: its entry is speculative', async () => {
    const r = runCheck({ kernel: () => new GatherFreeEarly(), reference, geometry: small, runs: 2000, seed: 407, maxOps: 60 });
    expect(r.sequences).toBe(1);
    expect(r.failure?.ops).toEqual(speculative);
    expect(r.failure?.outcome.violation).toEqual({ code: 'free_with_stale_tlb', step: 3, pfn: 2, cpu: 0, mm: 0, vpn: 31 });
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-review-'));
    expect(await main(['check', '--kernel', early, '--seed', '407', '--failures', dir])).toBe(1);
    const quoted = block('FAILED: free_with_stale_tlb at step 3: pfn=2 cpu=0 mm=0 vpn=31');
    expect(quoted).toContain('    + cpu0.tlb.mm0.vpn31: pfn 2 gen 1 speculative');
    expectQuoted(quoted, io.out);
  });

  it('the first fix passes the saved counterexample: the replay section 4 quotes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-review-'));
    expect(await main(['check', '--kernel', early, '--seed', '120', '--quiet', '--failures', dir])).toBe(1);
    const file = join(dir, 'gather-free-early-small-seed120.json');
    io.out = '';
    expect(await main(['replay', file, '--kernel', firstFix])).toBe(0);
    expectQuoted(block('$ npx mmcheck replay'), asDefaultFolder(io.out, dir));
    expect(runOne({ kernel: () => new GatherFlushThenFreeNoRmaps(), reference, geometry: small }, counterexample).ok).toBe(true);
    expect(runOne({ kernel: () => new GatherFlushThenFree(), reference, geometry: small }, counterexample).ok).toBe(true);
  });

  it('the first fix fails seed 114 on a dirty MAP_SHARED page whose delayed rmap it freed with the batch; the second fix passes those ops', async () => {
    expect(doc).toContain('(`npx mmcheck check --kernel docs/examples/gatherFlushThenFreeNoRmaps.ts --runs 2000 --seed 114`)');
    const r = runCheck({ kernel: () => new GatherFlushThenFreeNoRmaps(), reference, geometry: small, runs: 2000, seed: 114, maxOps: 60 });
    expect(r.failure?.ops).toEqual(delayedRmapLost);
    expect(r.failure?.outcome.violation).toMatchObject({ code: 'mapcount_mismatch', step: 3, pfn: 1 });
    expect(await main(['check', '--kernel', firstFix, '--runs', '2000', '--seed', '114', '--failures', mkdtempSync(join(tmpdir(), 'mmcheck-review-'))])).toBe(1);
    expectQuoted(block('FAILED: mapcount_mismatch at step 3'), io.out);
    expect(runOne({ kernel: () => new GatherFlushThenFree(), reference, geometry: small }, delayedRmapLost).ok).toBe(true);
  });

  it('the fixed patch holds at seed 1 over 2,000 sequences, with the full-gather counts section 4 quotes', async () => {
    const quoted = block('$ npx mmcheck check --kernel docs/examples/gatherFlushThenFree.ts --runs 2000 --seed 1');
    expect(await main(['check', '--kernel', fixed, '--runs', '2000', '--seed', '1', '--failures', mkdtempSync(join(tmpdir(), 'mmcheck-review-'))])).toBe(0);
    expectQuoted(quoted, io.out);
    expect(io.out).toContain('  sequences  2000');
    expect(doc).toContain('730 of the 2,000 sequences filled a gather, 554\nof them on a failed batch-page allocation, and 436 delayed a file page');
  });
});
