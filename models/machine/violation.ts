import type { CpuId, HandleId, MmId, Pfn, Vpn } from './ids';
import type { WalkerKind } from './state';

/**
 * Everything mmcheck can report, one variant per check, discriminated by `code`. `step` is the
 * index of the op during which (or after which) the check failed.
 *
 * Hazards (the machine reports them, like hardware reporting misuse): free_with_stale_tlb,
 * table_freed_under_walker, table_freed_while_linked, table_freed_with_cached_pointer, stale_tlb_divergent_write,
 * tlb_use_after_free, handle_use_after_free, touched_non_ram, writeback_with_writable_tlb, lost_dirty_data. Kernel self-checks (VM_WARN_ON): kernel_warn,
 * model_crash for any other exception a kernel raised, step_timeout for an op that never ended.
 * Ledger audit: refcount_mismatch … deferred_split_missing. User-visible memory: stale_read,
 * stale_file_read, pin_unreliable. Differential: divergence. Serialisability of windows: not_serialisable. Locks
 * (model bugs): pte_without_ptl, pmd_without_lock, lock_order, lock_conflict, lock_imbalance,
 * preempt_under_spinlock.
 */
export type Violation =
  | {
      readonly code: 'free_with_stale_tlb';
      readonly step: number;
      readonly pfn: Pfn;
      readonly cpu: CpuId;
      readonly mm: MmId;
      readonly vpn: Vpn;
    }
  | {
      readonly code: 'table_freed_under_walker';
      readonly step: number;
      readonly table: Pfn;
      readonly cpu: CpuId;
      readonly walker: WalkerKind;
    }
  /**
   * A PTE table freed while a CPU's paging-structure cache may still point to it: that CPU (lazy
   * or not, as long as its CR3 is the mm's) may walk through the pointer speculatively at any
   * time, reading a reused frame as PTEs and setting accessed bits in it.
   */
  | {
      readonly code: 'table_freed_with_cached_pointer';
      readonly step: number;
      readonly table: Pfn;
      readonly cpu: CpuId;
      readonly mm: MmId;
      readonly pmdIndex: number;
      readonly lazy: boolean;
    }
  | {
      readonly code: 'table_freed_while_linked';
      readonly step: number;
      readonly table: Pfn;
      readonly mm: MmId;
      readonly pmdIndex: number;
    }
  | {
      readonly code: 'stale_tlb_divergent_write';
      readonly step: number;
      readonly mm: MmId;
      readonly vpn: Vpn;
      readonly cpu: CpuId;
      readonly pfn: Pfn;
      readonly staleCpu: CpuId;
      readonly stalePfn: Pfn;
    }
  | {
      readonly code: 'tlb_use_after_free';
      readonly step: number;
      readonly cpu: CpuId;
      readonly mm: MmId;
      readonly vpn: Vpn;
      readonly pfn: Pfn;
    }
  | { readonly code: 'handle_use_after_free'; readonly step: number; readonly handle: HandleId; readonly pfn: Pfn }
  /**
   * Reclaim started writing a page out to swap (`swap_writepage()`) while a CPU's TLB still held
   * a writable, dirty translation of it (its PTE gone, the flush still owed): that CPU's stores
   * complete from the TLB without a page walk, after the data was copied out, and are lost when
   * the page is freed. `try_to_unmap_flush_dirty()` before `pageout()` is what prevents it.
   */
  | {
      readonly code: 'writeback_with_writable_tlb';
      readonly step: number;
      readonly pfn: Pfn;
      readonly cpu: CpuId;
      readonly mm: MmId;
      readonly vpn: Vpn;
    }
  /**
   * A store through a TLB entry reached a page-cache page whose folio is clean while no PTE
   * mapping the page is dirty (rule R2 (docs/kernel-semantics.md §10), no lost dirty data): nothing will make writeback write
   * that store, and it is lost when the page is evicted. The kernel prevents it by write-protecting
   * and flushing every mapping before it cleans a folio (`folio_mkclean()`), and by keeping a
   * zapped dirty page's rmap until the flush (delayed rmap), so that `folio_mkclean()` finds it.
   */
  | {
      readonly code: 'lost_dirty_data';
      readonly step: number;
      readonly cpu: CpuId;
      readonly mm: MmId;
      readonly vpn: Vpn;
      readonly pfn: Pfn;
    }
  /**
   * Kernel code read the struct page of a PFN that is not RAM (a hole, or past the end of
   * memory): what `pfn_valid()` says no to. With SPARSEMEM_VMEMMAP the memmap of an offlined or
   * absent section is unmapped or poisoned, so `pfn_to_page()` arithmetic past a folio's end there
   * faults or reads garbage. `by` names the kernel function that touched it.
   */
  | { readonly code: 'touched_non_ram'; readonly step: number; readonly pfn: Pfn; readonly by: string }
  | { readonly code: 'kernel_warn'; readonly step: number; readonly message: string }
  /** A kernel threw something other than a finding (a broken invariant the model itself tripped on). */
  | { readonly code: 'model_crash'; readonly step: number; readonly message: string }
  /**
   * An op that did not finish within the step budget (a kernel method that loops): the check's
   * watchdog stopped the run. Reported like any failure, with the sequence up to that op.
   */
  | { readonly code: 'step_timeout'; readonly step: number; readonly seconds: number }
  | LedgerViolation
  | { readonly code: 'stale_read'; readonly step: number; readonly mm: MmId; readonly vpn: Vpn; readonly expected: number; readonly actual: number }
  /** pread() of a file page returned something other than what was last written to it (through a shared mapping or pwrite()). */
  | { readonly code: 'stale_file_read'; readonly step: number; readonly file: number; readonly index: number; readonly expected: number; readonly actual: number }
  | { readonly code: 'pin_unreliable'; readonly step: number; readonly handle: HandleId; readonly index: number; readonly expected: number; readonly actual: number }
  | { readonly code: 'divergence'; readonly step: number; readonly path: string; readonly reference: string; readonly other: string }
  /**
   * A window (a task in flight, the ops that ran meanwhile) whose user-visible outcome no serial
   * order of the same ops on the reference gives (src/oracles/serialisable.ts); `step` is the
   * step that closed it.
   */
  | { readonly code: 'not_serialisable'; readonly step: number; readonly message: string }
  | LockViolation;

/**
 * Lock checks (models/machine/locks.ts; docs/concurrency.md "Locks"): model bugs, not kernel
 * ones — a kernel path of the model that breaks the locking the kernel relies on, or a runner
 * that let an op run while a task held what the op needs. `cpu` is the context that did it: a
 * task's CPU, or null for an op's own atomic context; `holder` the task holding the lock.
 */
export type LockViolation =
  /** A task wrote a PTE without holding its table's PTL, or anyone wrote one whose PTL another task holds. */
  | {
      readonly code: 'pte_without_ptl';
      readonly step: number;
      readonly cpu: CpuId | null;
      readonly mm: MmId;
      readonly vpn: number;
      readonly table: Pfn;
      readonly holder: CpuId | null;
    }
  /** A task wrote a PMD without the PMD lock or mmap_lock for write, or anyone wrote one while another task holds the PMD lock. */
  | { readonly code: 'pmd_without_lock'; readonly step: number; readonly cpu: CpuId | null; readonly mm: MmId; readonly pmd: number; readonly holder: CpuId | null }
  /** A lock taken against the hierarchy (mm/rmap.c), twice, or a second of one class without a nesting annotation (lockdep). */
  | { readonly code: 'lock_order'; readonly step: number; readonly cpu: CpuId | null; readonly held: string; readonly taking: string; readonly detail: string }
  /** Code ran while another task held a lock it needs exclusively: the runner should have made it wait. */
  | { readonly code: 'lock_conflict'; readonly step: number; readonly cpu: CpuId | null; readonly holder: CpuId; readonly lock: string; readonly wants: string }
  /** A lock released that was not held, or a task that completed still holding one. */
  | { readonly code: 'lock_imbalance'; readonly step: number; readonly cpu: CpuId | null; readonly lock: string; readonly detail: string }
  /** A task stopped at a preemption point holding a spinlock, at a point that does not declare it (tasks.ts `POINTS_UNDER_PTL`). */
  | { readonly code: 'preempt_under_spinlock'; readonly step: number; readonly cpu: CpuId; readonly point: string; readonly lock: string };

/** Ledger audit findings: a stored struct-page field disagrees with what the page tables and holders imply. */
export type LedgerViolation = {
  readonly code:
    | 'refcount_mismatch'
    | 'mapcount_mismatch'
    | 'pincount_mismatch'
    | 'writable_not_exclusive'
    | 'exclusive_mapped_twice'
    | 'pinned_not_exclusive'
    | 'deferred_split_missing'
    | 'freed_frame_in_use'
    | 'swap_count_mismatch'
    | 'writable_file_page_clean'
    | 'private_file_page_writable';
  readonly step: number;
  /** The folio's logical id, or the PFN for frames that have none. */
  readonly folio: string;
  readonly pfn: Pfn;
  readonly detail: string;
};

export type ViolationCode = Violation['code'];

/** Thrown by the machine (hazards, kernel warnings) and by the oracles; carries the typed finding. */
export class ModelViolationError extends Error {
  constructor(readonly violation: Violation) {
    super(describeViolation(violation));
    this.name = 'ModelViolationError';
  }
}

/** One line for a human: the code and its fields. */
export function describeViolation(v: Violation): string {
  const { code, step, ...rest } = v;
  const fields = Object.entries(rest)
    .map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`)
    .join(' ');
  return `${code} at step ${step}${fields ? `: ${fields}` : ''}`;
}
