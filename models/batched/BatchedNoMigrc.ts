import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from './BatchedKernel';
import type { MigrateUbc } from './migrate';

/**
 * Mainline batching without MIGRC (which was never merged): every migration batch is unmapped
 * and flushed once, and no source folio is kept alive for a deferred flush. `mmcheck cost
 * --kernel batched-no-migrc` gives the seed 002 cover letter's "before" column.
 */
export class BatchedNoMigrc extends BatchedKernel {
  // Stryker disable next-line StringLiteral: kernel name, identifies the kernel in reports
  override readonly name: string = 'batched-no-migrc';

  /** Mirrors `can_migrc_test()` as a kernel without the seed patch would have it: never. */
  // Stryker disable next-line BlockStatement: one correct configuration for another
  override canMigrcTest(_m: Machine, _src: Pfn, _batch: MigrateUbc): boolean {
    // Stryker disable next-line BooleanLiteral: one correct configuration for another
    return false;
  }
}
