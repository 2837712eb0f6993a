import type { MmId } from '../../models/machine/ids';

/**
 * Where the real process's VMAs may begin and end, which the model does not keep (it has one VMA
 * per mm with a write permission per page). Besides a change of protection (which the planner
 * reads from the model's per-page permission), mremap() is what splits a private anonymous VMA
 * in a conform program: the moved VMA keeps its `vm_pgoff`, so it does not line up with its new
 * neighbours, and the refill of the source (a new anonymous mapping) merges back only when
 * `is_mergeable_anon_vma()` allows — not next to a VMA of a forked child, whose anon_vma chain is
 * not singular (measured on 6.18: the refill stays a VMA of its own there). Rather than model
 * vma_merge(), the layout is conservative: every range an mremap() touches, on either side, gets
 * an identity of its own, and a folio range is placed only where one identity holds throughout.
 * The kernel's THP fault (`thp_vma_suitable_order()`) needs the folio's range inside one VMA.
 */
export class VmaLayout {
  private readonly ids = new Map<MmId, number[]>();
  private next = 1;

  constructor(private readonly nrPages: number) {}

  private of(mm: MmId): number[] {
    let o = this.ids.get(mm);
    if (o === undefined) {
      o = new Array<number>(this.nrPages).fill(0);
      this.ids.set(mm, o);
    }
    return o;
  }

  /** fork(): the child's VMAs are the parent's (`dup_mmap()`). */
  fork(parent: MmId, child: MmId): void {
    this.ids.set(child, [...this.of(parent)]);
  }

  /** mremap() of [from, from+nr) to `to`, then the refill of the source range. */
  moved(mm: MmId, from: number, to: number, nr: number): void {
    const o = this.of(mm);
    const renamed = new Map<number, number>();
    const moving = o.slice(from, from + nr);
    const refill = this.next++;
    for (let k = 0; k < nr; k++) o[from + k] = refill;
    for (let k = 0; k < nr; k++) {
      const old = moving[k] ?? 0;
      let id = renamed.get(old);
      if (id === undefined) {
        id = this.next++;
        renamed.set(old, id);
      }
      o[to + k] = id;
    }
  }

  /** True when [start, end) certainly lies in one VMA (as far as mremap() goes). */
  oneVma(mm: MmId, start: number, end: number): boolean {
    const o = this.of(mm);
    for (let v = start + 1; v < end; v++) if (o[v] !== o[start]) return false;
    return true;
  }
}
