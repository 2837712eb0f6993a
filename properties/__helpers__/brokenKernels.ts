import type { MmId, Vpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { PresentPte } from '../../models/machine/pte';
import { setPte } from '../../models/machine/pgtable';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';

/**
 * fork that write-protects the child's PTE but leaves the parent's writable: the parent's next
 * store lands in the page it still shares with the child (breaks the ledger's exclusivity rule and
 * the memory oracle's "no leak parent → child").
 */
export class ForkLeavesParentWritable extends ReferenceKernel {
  override readonly name: string = 'fork-leaves-parent-writable';
  override copyPresentPte(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte): void {
    super.copyPresentPte(m, parent, child, v, pte);
    setPte(m, parent, v, pte);
  }
}
