import type { CpuId, MmId, Pfn, Vpn } from './ids';
import type { Machine, TlbEntry } from './state';
import { tlbLookup } from './tlb';
import { folioAt, frameAt } from './frames';
import { ModelViolationError } from './violation';
import { taskCovers } from './tasks';
import { mark } from './marks';
import { pteAt } from './pgtable';
import { folioTestAnon } from './files';
import { rmapWalk } from './rmapWalk';

/**
 * The MMU side of a user load or store: what the hardware does with a TLB entry. The kernel's
 * fault handling lives in the kernels; this is only the part no kernel can change.
 */

export type HardwareAccess =
  | { readonly kind: 'hit'; readonly value: number }
  /** No usable TLB entry: the hardware walks the page tables (or the kernel takes a fault). */
  | { readonly kind: 'miss' };

/**
 * Check that the entry still refers to the frame generation it was filled from. The shared zero
 * page is never freed, so an entry for it is always live.
 */
function checkEntryLive(m: Machine, cpu: CpuId, e: TlbEntry): void {
  const f = frameAt(m, e.pfn);
  if (f.gen !== e.gen || (f.state !== 'data' && f.state !== 'zero')) {
    throw new ModelViolationError({
      code: 'tlb_use_after_free',
      step: m.clock.step,
      cpu,
      mm: e.mm,
      vpn: e.vpn,
      pfn: e.pfn,
    });
  }
}

/**
 * A store to (mm, vpn) through `pfn` while another CPU holds an entry for the same address to a
 * different frame: that CPU's next load there returns old data (rule R3 (docs/kernel-semantics.md §10), one view per address).
 * Not a finding while a preempted zap task covers the address, nor for a translation a preempted
 * reclaim owes the flush of (docs/concurrency.md).
 */
function checkSingleView(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, p: Pfn): void {
  // Inside a preempted zap's window (issue 11) the translations of its range are the zap's to
  // flush before it returns: until then, a store racing with MADV_DONTNEED may legitimately leave
  // another CPU's view behind (the user-memory oracle decides what such a race may return).
  if (m.cpus.some((c) => taskCovers(c.task, mm, v))) return;
  for (const other of m.cpus) {
    if (other.id === cpu) continue;
    const e = tlbLookup(m, other.id, mm, v);
    if (e === undefined || e.pfn === p) continue;
    if (reclaimOwesFlushOf(m, e)) {
      mark(m, 'a store met an old translation a preempted reclaim owes the flush of');
      continue;
    }
    throw new ModelViolationError({
      code: 'stale_tlb_divergent_write',
      step: m.clock.step,
      mm,
      vpn: v,
      cpu,
      pfn: p,
      staleCpu: other.id,
      stalePfn: e.pfn,
    });
  }
}

/**
 * Is `e` a translation a preempted reclaim still owes the flush of, and one that cannot store?
 * 6.12's `shrink_folio_list()` takes a clean folio out of the swap cache (`__remove_mapping()`)
 * before the batch's `try_to_unmap_flush()`, which comes after the loop: a fault on another CPU
 * meanwhile reads the slot into a new page and may store to it while this entry still reads the
 * old one. Mainline accepts that bounded window: the old page is not freed before the flush
 * (`free_folios`, refcount frozen at 0), and the entry cannot store, because an unmapped PTE whose
 * dirty bit was set made `try_to_unmap_flush_dirty()` flush before the pageout, and a store
 * through a clean entry re-walks and faults (docs/concurrency.md "The reclaim window").
 */
function reclaimOwesFlushOf(m: Machine, e: TlbEntry): boolean {
  if (e.writable && e.dirty) return false;
  if (!m.cpus.some((c) => c.task?.op === 'reclaim')) return false;
  const f = frameAt(m, e.pfn);
  return f.state === 'data' && f.gen === e.gen && folioAt(m, e.pfn).refcount === 0;
}

/**
 * A store through a TLB entry to a page-cache page must be one writeback will write: its folio
 * is dirty, or a PTE mapping the page is dirty (`folio_mkclean()` and zap transfer that bit to the
 * folio). Otherwise the store is lost at eviction (`lost_dirty_data`, rule R2).
 */
function checkDirtyTracked(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, p: Pfn): void {
  const head = frameAt(m, p).head;
  const folio = folioAt(m, head);
  if (folioTestAnon(folio) || folio.dirty) return;
  const dirtyPte = rmapWalk(m, head).some((at) => {
    if (at.kind !== 'pte' || at.pfn !== p) return false;
    const pte = pteAt(m, at.mm, at.vpn);
    return pte !== null && pte.kind === 'present' && pte.dirty;
  });
  if (dirtyPte) return;
  throw new ModelViolationError({ code: 'lost_dirty_data', step: m.clock.step, cpu, mm, vpn: v, pfn: p });
}

/**
 * Try the access through the TLB. A store needs a writable entry whose cached dirty bit is set;
 * a store through a writable-clean entry is a miss too, because x86 then re-walks the page
 * tables to set the PTE's dirty bit (Intel SDM vol. 3 §4.8, AMD APM vol. 2 §5.4.2): the walk
 * sets D in the PTE it finds, or faults when that PTE is gone or read-only now.
 */
export function accessThroughTlb(
  m: Machine,
  cpu: CpuId,
  mm: MmId,
  v: Vpn,
  write: boolean,
  value: number,
): HardwareAccess {
  const e = tlbLookup(m, cpu, mm, v);
  if (e === undefined || (write && !(e.writable && e.dirty))) return { kind: 'miss' };
  checkEntryLive(m, cpu, e);
  const f = frameAt(m, e.pfn);
  if (!write) return { kind: 'hit', value: f.content };
  checkSingleView(m, cpu, mm, v, e.pfn);
  // The PTE's dirty bit is not set again: a store through a cached dirty entry writes no PTE.
  const pte = pteAt(m, mm, v);
  if (pte !== null && pte.kind === 'present' && pte.pfn === e.pfn && !pte.dirty) mark(m, 'a store went through a dirty translation of a PTE since cleaned');
  // Only a kernel that mapped the zero page writable gets here (the ledger reports that PTE);
  // the store would corrupt every mapping of it, so it is refused as a use of a frame it must not write.
  if (f.state === 'zero') throw new ModelViolationError({ code: 'tlb_use_after_free', step: m.clock.step, cpu, mm, vpn: v, pfn: e.pfn });
  checkDirtyTracked(m, cpu, mm, v, e.pfn);
  f.content = value;
  return { kind: 'hit', value };
}
