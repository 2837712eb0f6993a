import { describe, expect, it } from 'vitest';
import type { Machine } from '../models/machine/state';
import type { MmId, Vpn } from '../models/machine/ids';
import type { PresentPte } from '../models/machine/pte';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { FpbFlags, PteBatch } from '../models/batched/folioPteBatch';
import { folioPteBatch } from '../models/batched/folioPteBatch';
import { KERNELS } from '../models/registry';
import type { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { MmuGather } from '../models/batched/mmuGather';
import type { Pfn } from '../models/machine/ids';
import { BatchedNoRcuTableFree } from '../models/batched/BatchedNoRcuTableFree';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import type { TlbUbc } from '../models/machine/tlbUbc';
import { runOne } from '../src/check/runCheck';
import { MUTATION_CORPUS } from '../src/mutation/corpus';
import { SMALL } from './__helpers__/bench';
import type { CpuId } from '../models/machine/ids';
import { vpn as asVpn } from '../models/machine/ids';
import type { GupPage } from '../models/machine/state';
import type { GupFlags } from '../models/reference/gup';
import { folioNrPages } from '../models/machine/geometry';
import { folioAt, folioHead } from '../models/machine/frames';
import { pteAt } from '../models/machine/pgtable';
import type { KernelSteps } from '../models/machine/tasks';
import { runToEnd } from '../models/machine/tasks';

/**
 * The mutation corpus (src/mutation/corpus.ts): every entry holds on every correct kernel whose
 * code is in models/batched/, and each fails on the Stryker mutant it names, written here by hand.
 */

const correct = ['batched', 'batched-no-migrc', 'batched-no-rcu-table-free', 'batched-gup-runs', 'batched-6.15'];

const entry = (name: string): (typeof MUTATION_CORPUS)[number] => {
  const e = MUTATION_CORPUS.find((c) => c.name === name);
  if (e === undefined) throw new Error(`no corpus entry ${name}`);
  return e;
};

const outcomeOn = (make: () => ReferenceKernel, name: string): string => {
  const e = entry(name);
  const o = runOne({ kernel: make, geometry: SMALL, ...(e.machine !== undefined ? { machine: e.machine } : {}) }, e.ops);
  return o.ok ? 'HOLDS' : o.violation.code;
};

/** Stryker's folioPteBatch.ts:52 `anyWritable &&= next.writable`: a batch whose first PTE is R/O never reports a writable one after it. */
class AnyWritableAnd extends BatchedKernel {
  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number, flags: FpbFlags): PteBatch {
    return { nr: folioPteBatch(m, mm, v, pte, maxNr, flags).nr, anyWritable: false };
  }
}

/** Stryker's gather.ts:65 `tlbRemovePmdTlbEntry() {}`: a zapped PMD leaf's range is not recorded for the flush. */
class PmdRangeNotRecorded extends BatchedKernel {
  override tlbRemovePmdTlbEntry(_m: Machine, _tlb: MmuGather, _i: number): void {}
}

/** Stryker's BatchedNoRcuTableFree.ts:31 and :40: the table batch, or the single table, never freed. */
class TablesLeak extends BatchedNoRcuTableFree {
  override tlbRemoveTableFree(_m: Machine, _tables: readonly Pfn[]): void {}
}
class TableOneLeaks extends BatchedNoRcuTableFree {
  override tlbRemoveTableOne(_m: Machine, _table: Pfn): void {}
}

/** As Stryker's fork.ts:65/66 `ppt + k`: the batch is not clamped at the end of the PTE table. */
class BatchPastTableEnd extends BatchedKernel {
  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, _maxNr: number, flags: FpbFlags): PteBatch {
    return folioPteBatch(m, mm, v, pte, 64, flags);
  }
}

/** Stryker's migrate.ts:274 `foldUbcRo() {}`: the read-only entries of a folio MIGRC does not defer are never flushed. */
class RoNotFolded extends BatchedNoMigrc {
  override foldUbcRo(_ubc: TlbUbc, _ro: TlbUbc): void {}
}

/** Stryker's migrate.ts:265 `incTlbFlushBatched() {}`: mm->tlb_flush_batched never records a batched unmap. */
class FlushBatchedNotCounted extends BatchedKernel {
  override incTlbFlushBatched(_m: Machine, _mm: MmId): void {}
}

/** Stryker's folioPteBatch.ts:52 `pte.pfn - nr`: the scan follows the folio's PFNs downwards, so pages mapped in reverse PFN order join a batch. */
class BatchFollowsPfnDown extends BatchedKernel {
  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number, flags: FpbFlags): PteBatch {
    const head = folioHead(m, pte.pfn);
    const limit = Math.min(maxNr, head + folioNrPages(folioAt(m, head).order) - pte.pfn);
    let nr = 1;
    let anyWritable = false;
    while (nr < limit) {
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'present' || next.pfn !== pte.pfn - nr) break;
      if (!flags.ignoreDirty && next.dirty !== pte.dirty) break;
      anyWritable ||= next.writable;
      nr++;
    }
    return { nr, anyWritable };
  }
}

/** As Stryker's gup.ts:48 (the overriddenBelow() test made true): GUP's slow path runs to its end, without its preemption points. */
class GupSlowPathWithoutPoints extends BatchedKernel {
  override *getUserPagesRawSteps(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): KernelSteps {
    runToEnd(super.getUserPagesRawSteps(m, cpu, mm, start, end, flags, pages));
  }
}

const registered = (name: string): (() => ReferenceKernel) => {
  const make = KERNELS.find((k) => k.name === name)?.make;
  if (make === undefined) throw new Error(`no kernel ${name}`);
  return make;
};

describe('the mutation corpus', () => {
  it.each(MUTATION_CORPUS.flatMap((c) => correct.map((k) => [c.name, k] as const)))('%s holds on %s', (name, kernel) => {
    expect(outcomeOn(registered(kernel), name)).toBe('HOLDS');
  });

  it('fork-batch-first-pte-read-only kills folioPteBatch.ts:52 anyWritable &&= next.writable', () => {
    expect(outcomeOn(() => new AnyWritableAnd(), 'fork-batch-first-pte-read-only')).toBe('writable_not_exclusive');
  });

  it('exit-frees-table-batch and table-batch-page-fails kill a leaked table batch and a leaked single table', () => {
    expect(outcomeOn(() => new TablesLeak(), 'exit-frees-table-batch')).toBe('divergence');
    expect(outcomeOn(() => new TableOneLeaks(), 'table-batch-page-fails')).toBe('divergence');
  });

  it('folio-across-table-boundary kills a batch not clamped at the table end', () => {
    expect(outcomeOn(() => new BatchPastTableEnd(), 'folio-across-table-boundary')).toBe('model_crash');
  });

  it('zap-pmd-leaf kills gather.ts:65 tlbRemovePmdTlbEntry() emptied', () => {
    expect(outcomeOn(() => new PmdRangeNotRecorded(), 'zap-pmd-leaf')).toBe('kernel_warn');
  });

  it('migrate-read-only-stale-tlb kills migrate.ts:274 fold_ubc_ro() skipped (batched-no-migrc)', () => {
    expect(outcomeOn(() => new RoNotFolded(), 'migrate-read-only-stale-tlb')).toBe('free_with_stale_tlb');
  });

  it('migrc-then-mprotect-rw kills migrate.ts:265 incTlbFlushBatched() emptied', () => {
    expect(outcomeOn(() => new FlushBatchedNotCounted(), 'migrc-then-mprotect-rw')).toBe('stale_read');
  });

  it('fork-pinned-large-folio kills a batch that ignores the failed dup (as the registered mutant fork-batch-ignores-pins does)', () => {
    expect(outcomeOn(registered('fork-batch-ignores-pins'), 'fork-pinned-large-folio')).toBe('pinned_not_exclusive');
  });

  it('fork-folio-pages-out-of-order kills folioPteBatch.ts:52 `pte.pfn - nr` (a batch over pages in reverse PFN order)', () => {
    expect(outcomeOn(() => new BatchFollowsPfnDown(), 'fork-folio-pages-out-of-order')).toBe('divergence');
  });

  it('gup-slow-path-preempted kills gup.ts:48 the slow path run without its preemption points', () => {
    expect(outcomeOn(() => new GupSlowPathWithoutPoints(), 'gup-slow-path-preempted')).toBe('divergence');
  });
});
