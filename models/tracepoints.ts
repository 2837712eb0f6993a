/**
 * Every kernel tracepoint the models fire (`mark()`), as one closed list, so a report can name
 * the ones a check never reached instead of leaving them out. Like the cost counters they never
 * affect behaviour; they exist to measure which paths random sequences exercise.
 */

/** Fired by the machine's RCU for any kernel: a table free had to wait for a lockless walker. */
export const MACHINE_TRACEPOINTS = [
  'RCU table free waits for a pte_offset_map() reader',
  'speculative TLB entry recorded at PTE change',
  'flush dropped a speculative TLB entry',
  'table pointer cached by a CPU with the mm loaded',
  'flush skipped a lazy CPU',
  'freed_tables flush reached a lazy CPU',
  'flush IPI waited for a GUP-fast walk',
  'exit waited for a pte_offset_map() reader',
] as const;

/**
 * Fired by the reference's paths, and so by every kernel: page-table layout changes that are the
 * kernel's own (not a batching choice), such as mremap() moving a whole PMD entry.
 */
export const REFERENCE_TRACEPOINTS = ['mremap moved a PTE table', 'mremap moved a PMD leaf'] as const;

/**
 * Fired by the reference's reclaim, swap and madvise paths (issue 13), and so by every kernel:
 * how reclaim treated a folio, what a swap-in found, and MADV_COLD/PAGEOUT's large-folio rule.
 */
export const RECLAIM_TRACEPOINTS = [
  'reclaim swapped a folio out',
  'reclaim kept a folio it could not unmap',
  'reclaim kept a folio with an extra reference',
  'reclaim split a large folio',
  'swap-in mapped a swap-cache page',
  'swap-in freed the swap cache',
  'zap freed a swap-cache folio with its last swap entry',
  'madvise split a large folio',
  'madvise left a likely shared large folio alone',
  'madvise marked a folio lazyfree',
  'reclaim discarded a clean lazyfree folio',
  'reclaim found a lazyfree folio redirtied',
] as const;

/**
 * Fired by the reference's file paths (issue 14), and so by every kernel: the page cache, shared
 * file faults with dirty tracking, private file COW, writeback and truncate.
 */
export const FILE_TRACEPOINTS = [
  'a file folio was read into the page cache',
  'a large file folio was read into the page cache',
  'a file folio was dirtied',
  'page_mkwrite on a clean shared file page',
  'fault-around mapped a cached page',
  'do_cow_fault copied a page-cache page',
  'fork shared a page-cache page of a private mapping',
  'writeback wrote a dirty file folio',
  'writeback write-protected a mapped file page',
  'truncate removed a folio from the page cache',
  'truncate zeroed the tail of a straddling folio',
] as const;

/**
 * Fired by the reference's khugepaged paths (issue 14), and so by every kernel: a PMD range of
 * small anonymous pages collapsed into a THP; a file range collapsed into a page-cache THP, a
 * page table that mapped it retracted, and the page cache dropped when such a file is opened for
 * write. (The anonymous put-back, when the isolation finds a page changed since the scan, is a
 * task tracepoint: the page changes in the gap where khugepaged holds no lock, which
 * `--interleave` draws.)
 */
export const COLLAPSE_TRACEPOINTS = [
  'khugepaged collapsed a PMD range into a THP',
  // the file path (models/reference/collapseFile.ts)
  'khugepaged collapsed a file range into a THP',
  'khugepaged retracted a page table of a file THP',
  'open for write dropped the page cache of a file with a THP',
] as const;

/**
 * A reclaim path that needs a swap device whose free slots are so fragmented that no run fits a
 * large folio, which no sequence of the default check builds: listed in the docs, not in a check's
 * summary (properties/reclaim.test.ts reaches it).
 */
export const RARE_RECLAIM_TRACEPOINTS = ['add_to_swap found no free slot run'] as const;

/** Where MIGRC gives its deferral up (flushes and frees the pending source folios). */
export const MIGRC_RELEASE_POINTS = ['write fault', 'memory pressure', 'tick'] as const;
export type MigrcReleasePoint = (typeof MIGRC_RELEASE_POINTS)[number];

/** Fired by BatchedKernel's paths (and so by every kernel built on it). */
export const BATCHED_TRACEPOINTS = [
  'gather full',
  'gather batch page allocation failed',
  'gather batch freed in chunks',
  'gather free chunk kept an entry with its nr_pages',
  'pte batch cut at folio end',
  'pte batch cut at table end',
  'fork copied a PTE batch',
  'fork batch fell back for a pinned page',
  'gup-fast grabbed a PMD leaf once',
  'gup grabbed the rest of a PMD leaf once',
  'unpin released a folio run once',
  'table batch freed by RCU',
  'table batch page allocation failed',
  'single table freed by RCU',
  'migration split a partially mapped folio',
  'migration backed off: the folio may be pinned',
  'migration undone after the move failed',
  'flush_tlb_batched_pending flushed an mm',
  'migrc deferred a flush',
  'migrc released by write fault',
  'migrc released by memory pressure',
  'migrc released by tick',
  'mprotect left a flush to tlb_finish_mmu',
  'mremap flushed a PTE table once',
  'zap freed a run of swap entries once',
  'reclaim deferred its flush (TTU_BATCH_FLUSH)',
  'zap delayed the rmap of a dirty file page',
] as const satisfies readonly (string | `migrc released by ${MigrcReleasePoint}`)[];

/** Fired by the 6.15 COW-reuse policy (reference-6.15, batched-6.15): how a write fault on a large folio was decided. */
export const COW615_TRACEPOINTS = [
  'large folio reused on COW',
  'large folio COW: maybe mapped shared',
  'large folio COW: extra reference',
] as const;

/**
 * Fired only by the migrc-as-posted kernel (models/migrcAsPosted/): the states where the patch as
 * posted (seed 002) decides differently from the fixed MIGRC of `batched`.
 */
export const MIGRC_AS_POSTED_TRACEPOINTS = [
  'migrc-as-posted kept a PG_migrc folio out of MIGRC',
  'migrc-as-posted write fault cleared PG_migrc',
  'migrc-as-posted write fault with flushes pending and no PG_migrc',
] as const;

/**
 * Fired only on a machine with the shared zero page (createMachine's `zeroPage` option), by every
 * kernel: the paths where `vm_normal_page()` is NULL for a present PTE.
 */
export const ZERO_PAGE_TRACEPOINTS = [
  'read fault mapped the zero page',
  'write fault copied from the zero page',
  'unshare fault copied from the zero page',
  'fork copied a zero-page PTE',
  'zap cleared a zero-page PTE',
  'GUP took a reference on the zero page',
  'GUP-fast fell back at the zero page',
] as const;

/** Fired only by the `batched-gup-runs` proposal (models/batched/gupRuns.ts), beyond 6.12. */
export const GUP_RUNS_TRACEPOINTS = ['gup grabbed a folio run once'] as const;

/**
 * Fired only inside the windows of preempted kernel tasks (issue 11), so only a check with
 * `--interleave` lists them (a default check never reaches them and keeps its summary).
 */
export const TASK_TRACEPOINTS = [
  'collapse put the table back (a page changed after the scan)',
  'collapse_file found the range changed since its scan',
  'tlb_finish_mmu flushed the whole mm (nested gathers)',
  'fault waited for a migration entry',
  'fault backed off: another CPU changed the PTE (pte_same)',
  'COW fault backed off: another CPU changed the PTE (pte_same)',
  'GUP retried its lookup after the faulted entry changed',
  'GUP-fast grab failed: the page was freed (or split) after the read',
  'flush_tlb_batched_pending flushed for a preempted reclaim',
  'a store met an old translation a preempted reclaim owes the flush of',
  'a store went through a dirty translation of a PTE since cleaned',
] as const;

export type Tracepoint =
  | (typeof TASK_TRACEPOINTS)[number]
  | (typeof MACHINE_TRACEPOINTS)[number]
  | (typeof REFERENCE_TRACEPOINTS)[number]
  | (typeof RECLAIM_TRACEPOINTS)[number]
  | (typeof FILE_TRACEPOINTS)[number]
  | (typeof COLLAPSE_TRACEPOINTS)[number]
  | (typeof RARE_RECLAIM_TRACEPOINTS)[number]
  | (typeof BATCHED_TRACEPOINTS)[number]
  | (typeof COW615_TRACEPOINTS)[number]
  | (typeof MIGRC_AS_POSTED_TRACEPOINTS)[number]
  | (typeof GUP_RUNS_TRACEPOINTS)[number]
  | (typeof ZERO_PAGE_TRACEPOINTS)[number];
