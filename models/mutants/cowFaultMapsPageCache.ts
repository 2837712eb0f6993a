import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { VmaFile } from '../machine/files';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: a store to a MAP_PRIVATE file mapping with no PTE is handled as in a MAP_SHARED one
 * (`do_shared_fault()` instead of `do_cow_fault()`): the page-cache page itself is mapped
 * writable and the store lands in the file.
 * Violates: MAP_PRIVATE semantics (mm/memory.c `do_fault()`: `!(vma->vm_flags & VM_SHARED)` →
 * `do_cow_fault()`): a private mapping's stores never reach the file or other mappings of it.
 * Caught by: the ledger (private_file_page_writable) right after the fault; a pread() of the page
 * then sees the private store (stale_file_read).
 */
export class CowFaultMapsPageCache extends BatchedKernel {
  override readonly name: string = 'cow-fault-maps-page-cache';

  override doCowFault(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): void {
    this.doSharedFault(m, mm, v, vf);
  }
}

export const cowFaultMapsPageCache: MutantSpec = defineMutant(CowFaultMapsPageCache, {
  breaks: 'a store to a MAP_PRIVATE file mapping maps the page-cache page writable instead of copying it',
  violates: 'mm/memory.c do_fault(): a write fault in a private mapping is do_cow_fault(), which maps a copy',
  caughtBy: ['private_file_page_writable', 'stale_file_read', 'stale_read', 'divergence'],
});
