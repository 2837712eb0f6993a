import type { MmId, Vpn } from './ids';

/**
 * Preemptible kernel tasks (issue 11; docs/concurrency.md). A kernel path that owns preemption
 * points has a generator twin that yields at each one; the runner keeps the live iterator and
 * the machine keeps only this plain description, so traces, oracles and `structuredClone` see
 * where every task stands.
 *
 * A preemption point is where the kernel really lets another CPU in on the state the path is
 * changing: it dropped the lock that excluded the competing path, not an arbitrary line.
 */
export type PreemptPoint =
  /**
   * `zap_pte_range()` finished one PMD slot and dropped its PTL (`pte_unmap_unlock()`), or
   * `zap_huge_pmd()` dropped the PMD lock: the entries are cleared, but the batched kernel's
   * flush and frees are still owed (until `tlb_finish_mmu()`), and `zap_pmd_range()` may
   * `cond_resched()` before the next slot.
   */
  | 'zap: table done, PTL dropped'
  /**
   * Every slot of the range is done and `tlb_finish_mmu()` has not run yet: the whole range's
   * TLB flush and the frees of the gathered pages are owed.
   */
  | 'zap: before tlb_finish_mmu()';

/** Every preemption point, in the order a zap passes them (for listings and docs). */
export const PREEMPT_POINTS: readonly PreemptPoint[] = ['zap: table done, PTL dropped', 'zap: before tlb_finish_mmu()'];

/**
 * A kernel path with preemption points, run a point at a time: `next()` runs it up to its next
 * point (the yielded value) or to its end (`done`).
 */
export type KernelSteps = Generator<PreemptPoint, void, void>;

/** Run a path with preemption points to its end at once: what its plain method does. */
export function runToEnd(steps: KernelSteps): void {
  for (let r = steps.next(); r.done !== true; r = steps.next());
}

/** What a CPU's preempted kernel task is doing, as plain data (`Cpu.task`). */
export interface KernelTaskView {
  /** The op that runs as the task: so far only MADV_DONTNEED of [start, end). */
  readonly op: 'zap';
  readonly mm: MmId;
  readonly start: Vpn;
  readonly end: Vpn;
  /** The last preemption point it passed (where it stands now). */
  point: PreemptPoint;
  /** How many preemption points it has passed since it started. */
  pointsPassed: number;
}

/** Does an in-flight task of `mm` cover page `v`? (Its stale translations there are the kernel's to flush.) */
export function taskCovers(t: KernelTaskView | null, mm: MmId, v: number): boolean {
  return t !== null && t.mm === mm && v >= t.start && v < t.end;
}
