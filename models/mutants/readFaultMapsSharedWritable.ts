import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { VmaFile } from '../machine/files';
import { pteAt, setPte } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: a read fault on a MAP_SHARED writable file mapping maps the page writable, as if the
 * VMA did not want write notifications (`vma_wants_writenotify()` ignored: `vm_page_prot` with
 * the write bit).
 * Violates: dirty tracking: the first store to a clean page must fault (page_mkwrite dirties the
 * folio); mapped writable at once, it stores into a clean folio that writeback skips (rule R2 (docs/kernel-semantics.md §10)).
 * Caught by: the ledger (writable_file_page_clean) right after the read fault.
 */
export class ReadFaultMapsSharedWritable extends BatchedKernel {
  override readonly name: string = 'read-fault-maps-shared-writable';

  override doReadFault(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): void {
    super.doReadFault(m, mm, v, vf);
    if (!vf.shared) return;
    const pte = pteAt(m, mm, v);
    if (pte !== null && pte.kind === 'present') setPte(m, mm, v, { ...pte, writable: true });
  }
}

export const readFaultMapsSharedWritable: MutantSpec = defineMutant(ReadFaultMapsSharedWritable, {
  breaks: 'a read fault maps a clean shared file page writable',
  violates: 'mm/mmap.c vma_wants_writenotify(): a shared writable mapping of a file with dirty tracking maps clean pages read-only (rule R2)',
  caughtBy: ['writable_file_page_clean', 'lost_dirty_data', 'stale_file_read', 'divergence'],
});
