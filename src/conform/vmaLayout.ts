import type { MmId } from '../../models/machine/ids';

/**
 * Where the real process's VMAs begin and end, which the model does not keep (it has one VMA per
 * mm with a write permission per page). Besides a change of protection, the one thing that
 * splits a private anonymous VMA for good in a conform program is mremap(): the moved VMA keeps
 * its `vm_pgoff`, so it no longer lines up with its new neighbours and never merges with them
 * (`is_mergeable_vma()` needs `vm_pgoff` contiguous with the address). The layout records, per
 * page, that offset (`vm_pgoff - vpn`): 0 for the original mapping and for a refill of a moved-
 * out range (a new anonymous mmap gets `vm_pgoff = addr >> PAGE_SHIFT` and merges back). A folio
 * range with two offsets spans two VMAs, where the kernel's THP fault (`thp_vma_suitable_order()`)
 * will not place a folio.
 */
export class VmaLayout {
  private readonly offsets = new Map<MmId, number[]>();

  constructor(private readonly nrPages: number) {}

  private of(mm: MmId): number[] {
    let o = this.offsets.get(mm);
    if (o === undefined) {
      o = new Array<number>(this.nrPages).fill(0);
      this.offsets.set(mm, o);
    }
    return o;
  }

  /** fork(): the child's VMAs are the parent's (`dup_mmap()`). */
  fork(parent: MmId, child: MmId): void {
    this.offsets.set(child, [...this.of(parent)]);
  }

  /** mremap() of [from, from+nr) to `to`, then a refill of the source range. */
  moved(mm: MmId, from: number, to: number, nr: number): void {
    const o = this.of(mm);
    const moving = o.slice(from, from + nr);
    for (let k = 0; k < nr; k++) o[from + k] = 0;
    for (let k = 0; k < nr; k++) o[to + k] = (moving[k] ?? 0) + (from - to);
  }

  /** True when [start, end) lies in VMAs that would merge into one (one pgoff offset throughout). */
  oneVma(mm: MmId, start: number, end: number): boolean {
    const o = this.of(mm);
    for (let v = start + 1; v < end; v++) if (o[v] !== o[start]) return false;
    return true;
  }
}
