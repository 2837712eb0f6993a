import { describe, expect, it } from 'vitest';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { PresentPte } from '../models/machine/pte';
import { PTE_NONE } from '../models/machine/pte';
import { folioHead, frameAt, freeTableFrame } from '../models/machine/frames';
import { pmdAt, pteAt, setPte } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { OpResult } from '../models/result';
import { runOps } from '../src/run/runOps';
import type { Op } from '../src/ops/op';
import { Bench, SMALL, catchViolation, violationOf } from './__helpers__/bench';
import { GET_RO, op } from './__helpers__/ops';

/**
 * Machine hazards (design §5.1): each check fires on a hand-built step that breaks exactly one
 * rule the way a buggy kernel would, and stays silent on the same sequence run by the reference.
 */

// ---- deliberately broken kernels, one rule each -------------------------------------------

/** Zap that unhooks and frees the page but skips the TLB invalidate between the two (tlb.h's order). */
class ZapWithoutFlush extends ReferenceKernel {
  override readonly name = 'zap-without-flush';
  override zapOnePte(m: Machine, mm: MmId, v: Vpn): void {
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') return;
    setPte(m, mm, v, PTE_NONE);
    this.folioRemoveRmapPtes(m, pte.pfn, 1);
    this.folioPut(m, folioHead(m, pte.pfn));
  }
}

/**
 * Frees an unlinked PTE table at once after the freed_tables flush: the flush IPI waits for
 * GUP-fast (IRQs off), but nothing waits for a pte_offset_map() reader (rcu_read_lock() only).
 */
class ImmediateTableFree extends ReferenceKernel {
  override readonly name = 'immediate-table-free';
  override freePteTable(m: Machine, table: Pfn): void {
    freeTableFrame(m, table);
  }
}

/** Reclaims an empty PTE table but forgets pmd_clear(): the PMD still points at the table it frees. */
class ReclaimWithoutUnlink extends ReferenceKernel {
  override readonly name = 'reclaim-without-unlink';
  override reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table' || !this.tableIsEmpty(m, pmd.table)) return { kind: 'noop', reason: 'nothing to reclaim' };
    this.flushTlbRange(m, mm, i * m.geometry.ptrsPerPte, (i + 1) * m.geometry.ptrsPerPte);
    this.freePteTable(m, pmd.table);
    return { kind: 'done' };
  }
}

/** wp_page_copy() with ptep_clear() instead of ptep_clear_flush(): other CPUs keep the old translation. */
class CowCopyWithoutFlush extends ReferenceKernel {
  override readonly name = 'cow-copy-without-flush';
  override wpPageCopy(m: Machine, mm: MmId, v: Vpn, old: PresentPte, unshare: boolean): void {
    const oldHead = folioHead(m, old.pfn);
    const page = this.allocFolio(m, 0);
    frameAt(m, page).content = frameAt(m, old.pfn).content;
    setPte(m, mm, v, PTE_NONE);
    this.folioAddAnonRmapPtes(m, page, 1, true);
    setPte(m, mm, v, { kind: 'present', pfn: page, writable: !unshare, dirty: !unshare, young: true });
    this.folioRemoveRmapPtes(m, old.pfn, 1);
    this.folioPut(m, oldHead);
    this.folioPut(m, oldHead);
  }
}

/** FOLL_GET that forgets to take the reference: the handle's page can be freed under it. */
class GetWithoutReference extends ReferenceKernel {
  override readonly name = 'get-without-reference';
  override tryGrabFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (pin) super.tryGrabFolio(m, head, refs, pin);
  }
}

/** Drops the rmap of an unmapped page twice: the rmap code's VM_WARN_ON must trip. */
class RmapRemovedTwice extends ReferenceKernel {
  override readonly name = 'rmap-removed-twice';
  override folioRemoveRmapPtes(m: Machine, page: Pfn, nr: number): void {
    super.folioRemoveRmapPtes(m, page, nr);
    super.folioRemoveRmapPtes(m, page, nr);
  }
}

const reference = (ops: readonly Op[]) => runOps(new ReferenceKernel(), SMALL, ops);

// ---- free_with_stale_tlb ----------------------------------------------------------------------

describe('free_with_stale_tlb', () => {
  const ops = [op.map(0, 0, 0), op.read(1, 0, 0), op.zap(0, 0, 1)];

  it('a page freed while a CPU still caches a translation to it is reported at the free', () => {
    expect(violationOf(runOps(new ZapWithoutFlush(), SMALL, ops))).toMatchObject({
      code: 'free_with_stale_tlb',
      step: 2,
      cpu: 1,
      mm: 0,
      vpn: 0,
    });
  });

  it('the reference flushes before freeing: same sequence passes, page freed and no TLB entry left', () => {
    expect(violationOf(reference(ops))).toBeNull();
    const b = new Bench();
    b.run(ops.slice(0, 2));
    const page = b.pte(0, 0).pfn;
    expect(b.m.cpus[1]!.tlb.size).toBe(1);
    b.apply(ops[2]!);
    expect(b.frame(page).state).toBe('free');
    expect(b.frame(page).tlbRefs).toBe(0);
    expect(b.m.cpus[1]!.tlb.size).toBe(0);
  });
});

// ---- table_freed_under_walker -------------------------------------------------------------------

describe('table_freed_under_walker', () => {
  const walkers = ['pteOffsetMap', 'gupFast'] as const;
  const opsWith = (w: (typeof walkers)[number]) => [op.map(0, 0, 0), op.walkBegin(1, 0, 0, w), op.zap(0, 0, 1), op.freeTable(0, 0)];

  it('a PTE table freed while a pte_offset_map() reader holds it is reported', () => {
    expect(violationOf(runOps(new ImmediateTableFree(), SMALL, opsWith('pteOffsetMap')))).toMatchObject({
      code: 'table_freed_under_walker',
      step: 3,
      cpu: 1,
      walker: 'pteOffsetMap',
    });
  });

  // x86 native_flush_tlb_multi() (arch/x86/mm/tlb.c, 6.12) sends the freed_tables flush with
  // wait=true, and a CPU with IRQs off takes it only after gup_fast()'s recheck: so freeing right
  // after the flush (the configuration without MMU_GATHER_RCU_TABLE_FREE) is safe for GUP-fast.
  it('a PTE table freed right after the flush IPI is safe for a GUP-fast walk: the IPI waited for its IRQs-off section', () => {
    const b = new Bench(new ImmediateTableFree());
    expect(violationOf(runOps(new ImmediateTableFree(), SMALL, opsWith('gupFast')))).toBeNull();
    b.run(opsWith('gupFast'));
    expect(b.m.cpus[1]!.walker).toBeNull();
    expect(b.m.cpus[1]!.finishedWalk?.recheckPassed).toBe(false);
    expect(b.m.marks['flush IPI waited for a GUP-fast walk']).toBe(1);
  });

  it('freeing at once is not itself reported when no walker is in flight (the walker is what the check is about)', () => {
    expect(violationOf(runOps(new ImmediateTableFree(), SMALL, [op.map(0, 0, 0), op.zap(0, 0, 1), op.freeTable(0, 0)]))).toBeNull();
  });

  it('the reference waits for the pte_offset_map() reader: the table is freed only after the reader ends and a grace period passes', () => {
    expect(violationOf(reference(opsWith('pteOffsetMap')))).toBeNull();
    const b = new Bench();
    b.run(opsWith('pteOffsetMap').slice(0, 3));
    const pmd = pmdAt(b.m, 0 as MmId, 0);
    if (pmd.kind !== 'table') throw new Error('expected a PTE table at PMD 0');
    b.run([op.freeTable(0, 0), op.tick()]);
    expect(b.frame(pmd.table).state).toBe('table');
    b.run([op.walkEnd(1), op.tick()]);
    expect(b.frame(pmd.table).state).toBe('free');
    expect(b.m.stats.tablesFreed).toBe(1);
  });

  it('the reference and a GUP-fast walk: the flush IPI ends the walk\'s IRQs-off section, so the grace period no longer waits for walkEnd', () => {
    expect(violationOf(reference(opsWith('gupFast')))).toBeNull();
    const b = new Bench();
    b.run(opsWith('gupFast').slice(0, 3));
    const pmd = pmdAt(b.m, 0 as MmId, 0);
    if (pmd.kind !== 'table') throw new Error('expected a PTE table at PMD 0');
    b.run([op.freeTable(0, 0), op.tick()]);
    expect(b.frame(pmd.table).state).toBe('free');
    b.run([op.walkEnd(1)]);
    expect(b.m.handles).toHaveLength(1);
  });
});

// ---- table_freed_while_linked -------------------------------------------------------------------

describe('table_freed_while_linked', () => {
  const ops = [op.map(0, 0, 0), op.zap(0, 0, 1), op.freeTable(0, 0), op.tick()];

  it('a PTE table freed while a PMD still points to it is reported when the free runs', () => {
    expect(violationOf(runOps(new ReclaimWithoutUnlink(), SMALL, ops))).toMatchObject({
      code: 'table_freed_while_linked',
      step: 3,
      mm: 0,
      pmdIndex: 0,
    });
  });

  it('the reference unlinks first: same sequence passes, PMD none and table freed', () => {
    expect(violationOf(reference(ops))).toBeNull();
    const b = new Bench();
    b.run(ops.slice(0, 2));
    const pmd = pmdAt(b.m, 0 as MmId, 0);
    if (pmd.kind !== 'table') throw new Error('expected a PTE table at PMD 0');
    b.run(ops.slice(2));
    expect(pmdAt(b.m, 0 as MmId, 0).kind).toBe('none');
    expect(b.frame(pmd.table).state).toBe('free');
  });
});

// ---- stale_tlb_divergent_write ------------------------------------------------------------------

describe('stale_tlb_divergent_write', () => {
  // CPU 1 caches the shared page read-only; CPU 0's store breaks COW and writes the new copy.
  const ops = [op.map(0, 0, 0), op.fork(0), op.read(1, 0, 0), op.write(0, 0, 0)];

  it('a store through a new frame while another CPU still translates the address to the old one is reported', () => {
    expect(violationOf(runOps(new CowCopyWithoutFlush(), SMALL, ops))).toMatchObject({
      code: 'stale_tlb_divergent_write',
      step: 3,
      mm: 0,
      vpn: 0,
      cpu: 0,
      staleCpu: 1,
    });
  });

  it('the reference flushes the old translation before installing the copy: same sequence passes', () => {
    expect(violationOf(reference(ops))).toBeNull();
    const b = new Bench();
    b.run(ops.slice(0, 3));
    const old = b.pte(0, 0).pfn;
    expect(b.m.cpus[1]!.tlb.size).toBe(1);
    const r = b.apply(ops[3]!);
    expect(r.result).toEqual({ kind: 'value', value: 4 });
    expect(b.pte(0, 0).pfn).not.toBe(old);
    expect(b.m.cpus[1]!.tlb.size).toBe(0);
  });
});

// ---- tlb_use_after_free -------------------------------------------------------------------------

describe('tlb_use_after_free', () => {
  const setup = [op.map(0, 0, 0), op.write(0, 0, 0)];
  // Breaks that put the frame behind CPU 0's TLB entry out of the allocation it was filled from,
  // as a kernel that freed or reused the frame without the allocator's TLB check would.
  const breaks: ReadonlyArray<readonly [string, (b: Bench, p: Pfn) => void]> = [
    ['reallocated (generation moved on)', (b, p) => void b.frame(p).gen++],
    ['freed', (b, p) => void (b.frame(p).state = 'free')],
  ];

  it.each(breaks)('a load through a TLB entry whose frame was %s is reported', (_what, brk) => {
    const b = new Bench();
    b.run(setup);
    const page = b.pte(0, 0).pfn;
    brk(b, page);
    expect(catchViolation(() => b.apply(op.read(0, 0, 0)))).toMatchObject({
      code: 'tlb_use_after_free',
      step: 2,
      cpu: 0,
      mm: 0,
      vpn: 0,
      pfn: page,
    });
  });

  it('without the break the same load hits the TLB and returns the stored value', () => {
    const b = new Bench();
    b.run(setup);
    expect(b.m.cpus[0]!.tlb.size).toBe(1);
    expect(b.apply(op.read(0, 0, 0)).result).toEqual({ kind: 'value', value: 2 });
    expect(violationOf(reference([...setup, op.read(0, 0, 0)]))).toBeNull();
  });
});

// ---- handle_use_after_free ----------------------------------------------------------------------

describe('handle_use_after_free', () => {
  const setup = [op.map(0, 0, 0), op.write(0, 0, 0), op.gup(0, 0, 0, 1, GET_RO), op.zap(0, 0, 1)];

  it('a device read through a GUP handle whose page was freed under it is reported', () => {
    const b = new Bench(new GetWithoutReference());
    b.run(setup);
    expect(catchViolation(() => b.apply(op.gupRead(0, 0)))).toMatchObject({ code: 'handle_use_after_free', step: 4, handle: 0 });
  });

  it('also when the freed frame has been reused by a new folio', () => {
    const b = new Bench(new GetWithoutReference());
    b.run(setup);
    const pfn = b.m.handles[0]!.pages[0]!.pfn;
    b.apply(op.map(0, 0, 0));
    expect(b.pte(0, 0).pfn).toBe(pfn);
    expect(catchViolation(() => b.apply(op.gupRead(0, 0)))).toMatchObject({ code: 'handle_use_after_free', step: 5, pfn });
  });

  it('with the run oracles (ledger off, so the refcount audit does not speak first) the run fails with it', () => {
    const outcome = runOps(new GetWithoutReference(), SMALL, [...setup, op.gupRead(0, 0)], { ledger: false, memory: true });
    expect(violationOf(outcome)).toMatchObject({ code: 'handle_use_after_free', step: 4 });
  });

  it('the reference keeps the page alive for the handle: the device reads the last stored value', () => {
    const outcome = reference([...setup, op.gupRead(0, 0)]);
    expect(violationOf(outcome)).toBeNull();
    expect(outcome.steps[4]!.applied.result).toEqual({ kind: 'value', value: 2 });
  });
});

// ---- kernel_warn --------------------------------------------------------------------------------

describe('kernel_warn', () => {
  const ops = [op.map(0, 0, 0), op.zap(0, 0, 1)];

  it("removing the rmap of a page that is no longer mapped trips the rmap code's VM_WARN_ON", () => {
    const v = violationOf(runOps(new RmapRemovedTwice(), SMALL, ops));
    expect(v).toMatchObject({ code: 'kernel_warn', step: 1 });
    expect(v?.code === 'kernel_warn' ? v.message : '').toMatch(/rmap removal of unmapped page/);
  });

  it('a machine whose mapcount was lost trips the same warning on the reference zap', () => {
    const b = new Bench();
    b.apply(ops[0]!);
    b.frame(b.pte(0, 0).pfn).mapcount = 0;
    expect(catchViolation(() => b.apply(ops[1]!))).toMatchObject({ code: 'kernel_warn', step: 1 });
  });

  it('the reference removes the rmap once: same sequence passes', () => {
    expect(violationOf(reference(ops))).toBeNull();
  });
});
