import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';

/**
 * PG_migrc, the page flag seed 002 adds (include/linux/page-flags.h: `TESTCLEARFLAG(Migrc)`,
 * `__PAGEFLAG(Migrc)`), kept on the folio as `Folio.pgMigrc`. Plain helpers so that the kernel
 * file reads like the patch.
 */

/** `folio_test_migrc()`. */
export function folioTestMigrc(m: Machine, p: Pfn): boolean {
  return folioAt(m, p).pgMigrc;
}

/** `__folio_set_migrc()`. */
export function folioSetMigrc(m: Machine, p: Pfn): void {
  folioAt(m, p).pgMigrc = true;
}

/** `__folio_clear_migrc()`. */
export function folioClearMigrc(m: Machine, p: Pfn): void {
  folioAt(m, p).pgMigrc = false;
}

/** `folio_test_clear_migrc()`, which the seed wraps as `migrc_unpend_if_pending()`. */
export function folioTestClearMigrc(m: Machine, p: Pfn): boolean {
  const was = folioTestMigrc(m, p);
  folioClearMigrc(m, p);
  return was;
}
