import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runDifferential } from '../src/run/differential';
import type { Op } from '../src/ops/op';

// Findings of the interleaved soaks of 2026-12-06 (seeds from 84001, 85001 and 90001, small), each a FAILED on
// the correct kernels that came from the harness, not from a kernel: each sequence now holds.

const small = geometry('small');

/**
 * Seed 84006: a reclaim task on mm 2, which a fork task in the same window made; the serialisability
 * oracle cut the reclaim into per-folio pieces by reading its folios from the window's start state,
 * where mm 2 did not exist yet (model_crash "no mm 2"). Only the window's first task is cut now.
 */
const seed84006: Op[] = [
  { kind: 'gup', cpu: 0, mm: 0, vpn: 24, nr: 1, pin: false, write: false, fast: false },
  { kind: 'fork', mm: 0 },
  { kind: 'walkBegin', cpu: 0, mm: 1, vpn: 21, walker: 'gupFast', pin: true, write: false, stop: 'grab' },
  { kind: 'walkEnd', cpu: 0 },
  { kind: 'preempt', cpu: 1, at: 1 },
  { kind: 'fork', mm: 1 },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'reclaim', mm: 2, vpn: 21, count: 2 },
];

/**
 * Seed 84015: after a race (a store inside a MADV_FREE window) a collapse went through in the
 * reference only; the mmapFile after it left a PTE table in batched alone, so a pte_offset_map()
 * walk began there and not in the reference. The differential resumed its comparison with the
 * walker on one side only, and the next walkBegin on that CPU diverged ("cpu already walking").
 * statesAgree() now compares the walkers in flight.
 */
const seed84015: Op[] = [
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'collapse', mm: 0, pmd: 1 },
  { kind: 'mmapFile', mm: 0, vpn: 16, nr: 16, file: 0, pgoff: 0, shared: true },
  { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'pteOffsetMap', pin: false, write: false },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
  { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false, stop: 'grab' },
];

/**
 * Seed 85009: a GUP-fast walk stopped before its grab read the hot PTE inside a MADV_FREE window,
 * dirty in the reference (whose store had faulted) and clean in batched (whose store went through
 * the stale TLB entry). The differential resumed when the states agreed but for that read value;
 * at drain the walk's recheck met a PTE equal to the one it read on one side only.
 */
const seed85009: Op[] = [
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false, stop: 'grab' },
  { kind: 'mmapFile', mm: 0, vpn: 16, nr: 16, file: 0, pgoff: 0, shared: false },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
];

/**
 * Seed 90010: a preempted zap of one page of a THP (split, the page gathered) while reclaim takes
 * the rest: batched still holds the gathered page, so reclaim's reference check fails the folio;
 * the reference freed it at once and reclaims it. Both correct; no serial order of the reference
 * shows batched's outcome, so such a window is not checked ('gathered refs').
 */
const seed90010: Op[] = [
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
  { kind: 'collapse', mm: 0, pmd: 1 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 22, write: true },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
  { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
  { kind: 'madvise', mm: 0, vpn: 16, nr: 16, advice: 'free' },
];

/**
 * Seed 90015 (every kernel): writeback ran while a fork was preempted under the PTLs of a table
 * that also maps a MAP_SHARED page; `folio_mkclean()`'s rmap walk took that PTL (lock_conflict).
 * Writeback now waits for a fork, as migration, reclaim and madvise do.
 */
const seed90015: Op[] = [
  { kind: 'map', mm: 0, vpn: 21, order: 4, pmd: false, first: 0, count: 1 },
  { kind: 'mmapFile', mm: 0, vpn: 21, nr: 2, file: 1, pgoff: 0, shared: true },
  { kind: 'access', cpu: 0, mm: 0, vpn: 22, write: true },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'fork', mm: 0 },
  { kind: 'writeback', file: 1 },
];

describe('interleaved soak findings of 2026-12-06', () => {
  it.each([
    ['84006', seed84006],
    ['84015', seed84015],
    ['85009', seed85009],
    ['90010', seed90010],
    ['90015', seed90015],
  ])('seed %s holds for batched and batched-no-migrc against the reference', (_seed, ops) => {
    for (const k of [new BatchedKernel(), new BatchedNoMigrc()]) {
      const r = runDifferential(new ReferenceKernel(), k, small, [...ops, { kind: 'drain' }]);
      expect(r.ok ? null : r.violation, k.name).toBeNull();
    }
  });
});
