/**
 * Every kernel tracepoint the models fire (`mark()`), as one closed list, so a report can name
 * the ones a check never reached instead of leaving them out. Like the cost counters they never
 * affect behaviour; they exist to measure which paths random sequences exercise.
 */

/** Fired by the machine's RCU for any kernel: a table free had to wait for a lockless walker. */
export const MACHINE_TRACEPOINTS = ['RCU table free waits for a GUP-fast walk', 'RCU table free waits for a pte_offset_map() reader'] as const;

/**
 * Fired by the reference's paths, and so by every kernel: page-table layout changes that are the
 * kernel's own (not a batching choice), such as mremap() moving a whole PMD entry.
 */
export const REFERENCE_TRACEPOINTS = ['mremap moved a PTE table', 'mremap moved a PMD leaf'] as const;

/** Where MIGRC gives its deferral up (flushes and frees the pending source folios). */
export const MIGRC_RELEASE_POINTS = ['write fault', 'mprotect', 'memory pressure', 'tick'] as const;
export type MigrcReleasePoint = (typeof MIGRC_RELEASE_POINTS)[number];

/** Fired by BatchedKernel's paths (and so by every kernel built on it). */
export const BATCHED_TRACEPOINTS = [
  'gather full',
  'gather batch freed in chunks',
  'gather free chunk kept an entry with its nr_pages',
  'pte batch cut at folio end',
  'pte batch cut at table end',
  'fork copied a PTE batch',
  'fork batch fell back for a pinned page',
  'gup grabbed a folio run once',
  'gup-fast grabbed a PMD leaf once',
  'unpin released a folio run once',
  'table batch freed by RCU',
  'single table freed by RCU',
  'migrc deferred a flush',
  'migrc released by write fault',
  'migrc released by mprotect',
  'migrc released by memory pressure',
  'migrc released by tick',
  'mprotect left a flush to tlb_finish_mmu',
  'mremap flushed a PTE table once',
] as const satisfies readonly (string | `migrc released by ${MigrcReleasePoint}`)[];

export type Tracepoint = (typeof MACHINE_TRACEPOINTS)[number] | (typeof REFERENCE_TRACEPOINTS)[number] | (typeof BATCHED_TRACEPOINTS)[number];
