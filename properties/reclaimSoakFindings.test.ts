import { describe, expect, it } from 'vitest';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { Op } from '../src/ops/op';
import { runDifferential } from '../src/run/differential';
import { SMALL } from './__helpers__/bench';
import { geometry } from '../models/machine/geometry';

/**
 * The soak of issue 13 (reclaim, swap, madvise; docs/fidelity/reclaim.md) failed correct kernels
 * on these shrunk sequences: each was a harness or model bug, not a kernel one. Each test is the
 * counterexample the soak saved; before the fix it failed with the violation named.
 */
const holds = (ops: readonly Op[]): boolean => runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops).ok;

describe('soak findings of issue 13: correct kernels hold', () => {
  it('a pin of a MADV_FREE page whose swap entry MADV_FREE dropped reads 0 after the mm exits (soak seed 5035: pin_unreliable)', () => {
    // The page was swapped out, MADV_FREE freed its swap entry, the pin faulted in a zero page;
    // the memory oracle detached the pinned page at exit with only the stored value, 1.
    expect(
      holds([
        { kind: 'access', mm: 0, cpu: 0, vpn: 21, write: true },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'fork', mm: 0 },
        { kind: 'gup', cpu: 0, mm: 0, vpn: 21, nr: 1, pin: true, write: false, fast: false },
        { kind: 'exit', mm: 0 },
        { kind: 'gupRead', handle: 0, index: 0 },
      ]),
    ).toBe(true);
  });

  it('reclaim waits for a fork in flight: its rmap walk would spin on the PTL fork holds (soak seed 7014, interleaved: pte_without_ptl)', () => {
    expect(
      holds([
        { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false },
        { kind: 'access', cpu: 0, mm: 0, vpn: 46, write: false },
        { kind: 'zap', mm: 0, vpn: 21, nr: 16 },
        { kind: 'fork', mm: 0 },
        { kind: 'preempt', cpu: 0, at: 2 },
        { kind: 'fork', mm: 1 },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 2 },
      ]),
    ).toBe(true);
  });

  it('MADV_PAGEOUT waits for a fork in flight: splitting a large folio fork is sharing walks its rmap (soak seed 7009, interleaved: pte_without_ptl)', () => {
    expect(
      holds([
        { kind: 'map', mm: 0, vpn: 48, order: 4, pmd: false, first: 1, count: 1 },
        { kind: 'fork', mm: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'fork', mm: 1 },
        { kind: 'madvise', mm: 0, vpn: 49, nr: 1, advice: 'pageout' },
      ]),
    ).toBe(true);
  });

  it('memHole leaves a free frame a GUP-fast walk has read (soak seed 7018, interleaved: touched_non_ram at the walk\'s grab)', () => {
    expect(
      holds([
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false, stop: 'grab' },
        { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
        { kind: 'memHole', pfn: 1, nr: 8 },
      ]),
    ).toBe(true);
  });

  it('the kernels agree again only if a swapped-out page holds the same value on both sides (soak seed 7009, batched, interleaved: not_serialisable)', () => {
    // A racing store landed last in batched (6) and first in the reference (8); reclaim swapped
    // the page out, and the resync compared no value for a swap entry, so the later window was
    // replayed from the reference's 8.
    expect(
      holds([
        { kind: 'walkBegin', cpu: 1, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false, stop: 'grab' },
        { kind: 'preempt', cpu: 1, at: 1 },
        { kind: 'zap', mm: 0, vpn: 21, nr: 16 },
        { kind: 'access', cpu: 1, mm: 0, vpn: 21, write: false },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'exit', mm: 0 },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
        { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false },
        { kind: 'walkEnd', cpu: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'zap', mm: 0, vpn: 21, nr: 16 },
      ]),
    ).toBe(true);
  });
  it("a reclaim inside a zap's window may keep a lazyfree folio the zap's gather still holds: the page may read its data or 0 (soak seed 21002, interleaved: not_serialisable)", () => {
    // Every serial order of the window drops the clean lazyfree folio; the zap's gather held a
    // reference, so reclaim kept it and the page kept its data. Both are MADV_FREE's outcomes.
    expect(
      holds([
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'fork', mm: 0 },
        { kind: 'madvise', mm: 1, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'fork', mm: 1 },
        { kind: 'exit', mm: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'zap', mm: 0, vpn: 21, nr: 16 },
        { kind: 'reclaim', mm: 1, vpn: 21, count: 2 },
      ]),
    ).toBe(true);
  });

  it('after a race the kernels agree again only if their swap-cache pages hold slots of the same name (soak seed 21003, interleaved: divergence one reclaim later)', () => {
    // The batched kernel lost the store inside MADV_FREE's window and swapped out a new page; the
    // reference swapped out the old one. Both read the slot back into a page of the same name,
    // and the slot's name showed only when that page was swapped out again.
    expect(
      holds([
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 2 },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'mprotect', mm: 0, vpn: 21, nr: 1, writable: false },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 2 },
      ]),
    ).toBe(true);
  });
  it("a pin taken of a page whose value a store inside MADV_FREE's window left unfixed is not compared with the serial orders (soak seed 21011, interleaved: not_serialisable)", () => {
    // The store went through CPU 0's dirty translation (the PTE clean, its flush owed); fork then
    // shared the page and the GUP-fast pin unshared it into a copy the window did not know of.
    expect(
      holds([
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'preempt', cpu: 1, at: 1 },
        { kind: 'fork', mm: 0 },
        { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false },
        { kind: 'walkEnd', cpu: 0 },
      ]),
    ).toBe(true);
  });
  it("after a store inside MADV_FREE's window the kernels are in step again only when their lazyfree PTEs agree on the dirty bit (npm run bench, interleaved seed 1: not_serialisable)", () => {
    // The batched kernel's PTE stayed clean (the store went through an unflushed dirty entry), the
    // reference's is dirty: a later MADV_PAGEOUT drops the page in one and swaps it out in the
    // other, so a window replayed from the reference's state does not describe the batched one.
    expect(
      holds([
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'fork', mm: 0 },
        { kind: 'walkBegin', cpu: 0, mm: 1, vpn: 21, walker: 'gupFast', pin: true, write: false },
        { kind: 'walkEnd', cpu: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'pageout' },
      ]),
    ).toBe(true);
  });
  it("after a store inside MADV_FREE's window the kernels are in step again only when their anonymous folios agree on PG_dirty too (interleaved soak seed 37030: divergence at a later MADV_FREE)", () => {
    // The reference's store refaulted and dirtied the PTE, so the reclaim that found the folio
    // redirtied marked it PG_dirty; the batched kernel's store went through the unflushed entry and
    // left both clean. After fork shares the folio, MADV_FREE skips a dirty folio mapped twice and
    // makes a clean one lazyfree: one side swaps it out at the next reclaim, the other keeps it.
    expect(
      holds([
        { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false, stop: 'grab' },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
        { kind: 'fork', mm: 0 },
        { kind: 'madvise', mm: 0, vpn: 21, nr: 1, advice: 'free' },
        { kind: 'reclaim', mm: 0, vpn: 21, count: 1 },
      ]),
    ).toBe(true);
  });
  it("MIGRC gives its deferral up in do_swap_page(): a swap-in inside a preempted reclaim's window maps the page writable while a CPU still holds a read-only entry to the migration's source (soak seed 29002, realistic, interleaved: stale_tlb_divergent_write)", () => {
    const ops: Op[] = [
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'gup', cpu: 1, mm: 0, vpn: 517, nr: 1, pin: false, write: false, fast: false },
        { kind: 'migrate', mm: 0, vpn: 517, count: 1 },
        { kind: 'gup', cpu: 0, mm: 0, vpn: 515, nr: 4, pin: false, write: false, fast: false },
        { kind: 'mremap', mm: 0, from: 0, to: 511, nr: 2 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'reclaim', mm: 0, vpn: 517, count: 2 },
        { kind: 'access', cpu: 0, mm: 0, vpn: 517, write: true },
    ];
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), geometry('realistic'), ops).ok).toBe(true);
  });
});
