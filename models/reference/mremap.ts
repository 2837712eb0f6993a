import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { setVmaFile, vmaFileAt } from '../machine/files';
import { PMD_NONE } from '../machine/pte';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { ForkPaths } from './fork';

/**
 * mremap(): moving translations without changing what is mapped (mm/mremap.c, 6.12). The walk
 * is the kernel's: whole PMD-sized, PMD-aligned extents move a PMD entry (a PMD leaf with
 * `move_huge_pmd()`, a whole PTE table with `move_normal_pmd()`, x86 having CONFIG_HAVE_MOVE_PMD),
 * everything else moves PTE by PTE with `move_ptes()`.
 *
 * The reference keeps the kernel's page-table layout (which PMD slot holds which table or leaf)
 * because that layout is state other ops see: a GUP-fast walk falls back at once on a none PMD
 * but enters an empty table, PT reclaim frees an empty table but not a none PMD, and a split
 * leaf has other mapcounts than a moved one. What the reference keeps per page is the flushing:
 * its `movePtes()` flushes each moved PTE at once; the batched kernel's flushes the table's range
 * once (batched/mremap.ts).
 */
export abstract class MremapPaths extends ForkPaths {
  /** PT reclaim of PMD slot i's table if it is empty (ReferenceKernel.reclaimPteTable()). */
  abstract reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult;

  /** The mmap write lock waits for the mm's pte_offset_map() readers (WalkerPaths). */
  abstract mmapWriteLockWaitsForReaders(m: Machine, mm: MmId): void;

  /** Some page of [v, v+nr) is mapped: a PMD leaf covers it or its PTE is not none. */
  rangePopulated(m: Machine, mm: MmId, v: Vpn, nr: number): boolean {
    for (let k = 0; k < nr; k++) {
      const u = asVpn(v + k);
      if (pmdAt(m, mm, pmdIndexOf(m, u)).kind === 'leaf') return true;
      const pte = pteAt(m, mm, u);
      if (pte !== null && pte.kind !== 'none') return true;
    }
    return false;
  }

  /**
   * Mirrors `mremap_to()`'s `do_munmap()` of the target (mm/mremap.c, 6.12): MREMAP_FIXED
   * replaces whatever is mapped at the destination, so it is unmapped before anything moves —
   * `unmap_region()`: the pages are zapped, then `free_pgtables()` frees the PTE tables that lie
   * wholly inside the hole (the model's one VMA spans the rest, so a table the hole only partly
   * covers stays, as the kernel's floor/ceiling keep it). A whole PMD-sized destination therefore
   * has a none PMD, and the move can take it with `move_normal_pmd()` / `move_huge_pmd()`.
   * Simplified: the zap and the table frees are `zap_page_range_single()` and PT reclaim
   * (`reclaimPteTable()`), each with its own gather, where `unmap_region()` uses one gather for both.
   */
  unmapDestination(m: Machine, mm: MmId, start: Vpn, end: Vpn): void {
    // mremap() holds the mmap write lock, which a pte_offset_map() reader of the mm (it holds the
    // read lock) has left before any of this runs. Simplified: the model lets its readers finish
    // only here, where mremap frees something under them; a move alone keeps them parked.
    this.mmapWriteLockWaitsForReaders(m, mm);
    this.zapPageRange(m, mm, start, end);
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.ceil(start / ppt); (i + 1) * ppt <= end; i++) this.reclaimPteTable(m, mm, i);
  }

  /**
   * Mirrors `move_vma()` → `move_page_tables()` (mm/mremap.c, 6.12): move the entries of
   * [from, from+nr) to [to, to+nr), one `get_extent(NORMAL_PMD)` extent at a time — up to the next
   * PMD boundary of either side. A PMD leaf is moved whole when its extent is a whole PMD
   * (`move_huge_pmd()`), else split; a PTE table is moved whole when the extent is a whole PMD
   * and the destination PMD is none (`move_normal_pmd()`); otherwise the destination table is
   * allocated (`pte_alloc()`) and `move_ptes()` moves the PTEs. Mapcounts and references do not
   * change. A no-op when the ranges overlap or leave the mm. A populated destination is unmapped
   * first, as `mremap_to()` does for MREMAP_FIXED (`unmapDestination()`). The new area takes the
   * old one's protection (`copy_vma()`); the old area stays in the model's VMA (there is no
   * `do_munmap()` of it, so its empty tables stay linked).
   */
  movePageTables(m: Machine, mm: MmId, from: Vpn, to: Vpn, nr: number): OpResult {
    const ppt = m.geometry.ptrsPerPte;
    const top = m.geometry.pmdsPerMm * ppt;
    if (nr <= 0 || from + nr > top || to + nr > top) return noop('range outside the mm');
    if (from < to + nr && to < from + nr) return noop('ranges overlap');
    if (this.rangePopulated(m, mm, to, nr)) this.unmapDestination(m, mm, to, asVpn(to + nr));
    const vma = mmAt(m, mm).vmaWritable;
    for (let k = 0; k < nr; k++) vma[to + k] = vma[from + k] ?? true;
    // A file VMA moves with its pages (same file offsets); the old range stays in the model's
    // anonymous VMA, as an anonymous area does.
    const files = [...Array(nr).keys()].map((k) => vmaFileAt(m, mm, from + k));
    files.forEach((vf, k) => setVmaFile(m, mm, to + k, vf));
    files.forEach((_, k) => setVmaFile(m, mm, from + k, null));
    const end = from + nr;
    for (let old: number = from, nu: number = to; old < end; ) {
      const extent = Math.min(ppt - (old % ppt), ppt - (nu % ppt), end - old);
      this.moveExtent(m, mm, asVpn(old), asVpn(nu), extent);
      old += extent;
      nu += extent;
    }
    return { kind: 'done' };
  }

  /**
   * One iteration of `move_page_tables()`'s PMD loop (mm/mremap.c, 6.12): [old, old+extent) lies
   * in one source PMD and maps to [nu, nu+extent) in one destination PMD.
   */
  moveExtent(m: Machine, mm: MmId, old: Vpn, nu: Vpn, extent: number): void {
    const i = pmdIndexOf(m, old);
    const j = pmdIndexOf(m, nu);
    const wholePmd = extent === m.geometry.ptrsPerPte;
    const pmd = pmdAt(m, mm, i);
    // get_old_pmd() returns NULL for a none PMD: nothing to move.
    if (pmd.kind === 'none') return;
    // A PMD migration entry never outlives its migrate op.
    this.warnOn(m, pmd.kind === 'migration', `mremap met a PMD migration entry (mm ${mm}, pmd ${i})`);
    if (pmd.kind === 'leaf') {
      if (wholePmd && this.moveHugePmd(m, mm, i, j)) return;
      this.splitHugePmd(m, mm, i);
    } else if (wholePmd && this.moveNormalPmd(m, mm, i, j)) return;
    if (pmdAt(m, mm, i).kind !== 'table') return;
    this.pteAlloc(m, mm, j);
    this.movePtes(m, mm, old, asVpn(old + extent), nu);
  }

  /**
   * Mirrors `move_huge_pmd()` (mm/huge_memory.c, 6.12) for an anonymous THP: under both PMD locks,
   * `pmdp_huge_get_and_clear()` the old leaf, `set_pmd_at()` it at the new address, and — the old
   * entry being present — `flush_pmd_tlb_range()` the old range before the locks are dropped.
   * Returns false (the caller splits) when the destination PMD is not none: the kernel WARNs
   * there, because `do_munmap()` of the target freed its tables; the model has no such munmap, so
   * a leftover empty table is an ordinary case here. Simplified: no deposited table to move.
   */
  moveHugePmd(m: Machine, mm: MmId, i: number, j: number): boolean {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf' || pmdAt(m, mm, j).kind !== 'none') return false;
    setPmd(m, mm, i, PMD_NONE);
    setPmd(m, mm, j, pmd);
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
    mark(m, 'mremap moved a PMD leaf');
    return true;
  }

  /**
   * Mirrors `move_normal_pmd()` (mm/mremap.c, 6.12, CONFIG_HAVE_MOVE_PMD): under both PMD locks,
   * clear the old PMD, point the new one at the same PTE table (`pmd_populate()`), and
   * `flush_tlb_range()` the old PMD's whole range before the locks are dropped. No PTE changes,
   * so no mapcount or reference does. Returns false (the caller moves PTE by PTE) when the
   * destination PMD is not none (the kernel WARNs; see moveHugePmd for why the model does not).
   */
  moveNormalPmd(m: Machine, mm: MmId, i: number, j: number): boolean {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table' || pmdAt(m, mm, j).kind !== 'none') return false;
    setPmd(m, mm, i, PMD_NONE);
    setPmd(m, mm, j, pmd);
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
    mark(m, 'mremap moved a PTE table');
    return true;
  }

  /**
   * Mirrors `move_ptes()` (mm/mremap.c, 6.12) over [old, oldEnd) of one source table to `nu` on,
   * per page: each PTE is moved and its old translation flushed before the next one moves — the
   * per-page specification. The kernel (and the batched kernel) flush the old range once, after
   * every PTE of the table has moved, still under the PTL. Both call `flush_tlb_batched_pending()`
   * first, under the PTL, as the kernel does.
   */
  movePtes(m: Machine, mm: MmId, old: Vpn, oldEnd: Vpn, nu: Vpn): void {
    this.flushTlbBatchedPending(m, mm);
    for (let k = 0; old + k < oldEnd; k++) this.moveOnePte(m, mm, asVpn(old + k), asVpn(nu + k));
  }

  /** One PTE of the reference's `move_ptes()`: clear it, set it at the new address, flush the old one at once. */
  moveOnePte(m: Machine, mm: MmId, src: Vpn, dst: Vpn): void {
    const pte = pteAt(m, mm, src);
    if (pte === null || pte.kind === 'none') return;
    setPte(m, mm, src, { kind: 'none' });
    setPte(m, mm, dst, pte);
    if (pte.kind === 'present') this.flushTlbPage(m, mm, src);
  }
}
