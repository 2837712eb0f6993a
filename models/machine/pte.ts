import { assertNever } from '../assertNever';
import type { Pfn } from './ids';

/**
 * A PTE. One field per kernel bit that the model needs, so a diff reads like the kernel-doc.
 * `migration` entries exist only inside a migrate operation (between unmap and remap); no
 * operation boundary ever sees one, because migration runs to completion inside its op.
 */
export type Pte =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'present';
      readonly pfn: Pfn;
      readonly writable: boolean;
      readonly dirty: boolean;
      readonly young: boolean;
    }
  | { readonly kind: 'migration'; readonly pfn: Pfn; readonly access: MigrationAccess }
  | SwapPte;

/**
 * A swap entry (`swp_entry_to_pte()`, include/linux/swapops.h): the page was unmapped by reclaim
 * and lives in slot `slot` of the swap device (swap.ts), or in the swap cache while a folio is
 * still there. `exclusive` is x86's `_PAGE_SWP_EXCLUSIVE` (`pte_swp_mkexclusive()`): the page was
 * PageAnonExclusive when it was unmapped, so `do_swap_page()` may map it writable at once; fork
 * clears it (`copy_nonpresent_pte()`). Simplified: the soft-dirty and uffd-wp swap bits are not
 * modelled (neither is any of their users).
 */
export type SwapPte = { readonly kind: 'swap'; readonly slot: number; readonly exclusive: boolean };

/** What a migration entry remembers of the PTE it replaced (make_*_migration_entry()). */
export type MigrationAccess = 'writable' | 'readableExclusive' | 'readable';

export type PresentPte = Extract<Pte, { kind: 'present' }>;

/**
 * A PMD: empty, a pointer to a PTE table (a frame in table state), a PMD leaf mapping a folio, or
 * a PMD migration entry (`set_pmd_migration_entry()`, mm/huge_memory.c) naming the head of the
 * folio under migration with what the leaf allowed. Like a PTE migration entry it exists only
 * inside a migrate operation: no operation boundary ever sees one.
 */
export type PmdEntry =
  | { readonly kind: 'none' }
  | { readonly kind: 'table'; readonly table: Pfn }
  | {
      readonly kind: 'leaf';
      readonly pfn: Pfn;
      readonly writable: boolean;
      readonly dirty: boolean;
      readonly young: boolean;
    }
  | { readonly kind: 'migration'; readonly pfn: Pfn; readonly access: MigrationAccess };

export type LeafPmd = Extract<PmdEntry, { kind: 'leaf' }>;
export type MigrationPmd = Extract<PmdEntry, { kind: 'migration' }>;

export const PTE_NONE: Pte = Object.freeze({ kind: 'none' });
export const PMD_NONE: PmdEntry = Object.freeze({ kind: 'none' });

/** pte_same(): the whole entry compares equal. */
export function pteSame(a: Pte, b: Pte): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'none':
      return true;
    case 'present': {
      const o = b as PresentPte;
      return a.pfn === o.pfn && a.writable === o.writable && a.dirty === o.dirty && a.young === o.young;
    }
    case 'migration': {
      const o = b as Extract<Pte, { kind: 'migration' }>;
      return a.pfn === o.pfn && a.access === o.access;
    }
    case 'swap': {
      const o = b as SwapPte;
      return a.slot === o.slot && a.exclusive === o.exclusive;
    }
    default:
      return assertNever(a);
  }
}

/** pmd_same(). */
export function pmdSame(a: PmdEntry, b: PmdEntry): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'none':
      return true;
    case 'table':
      return a.table === (b as Extract<PmdEntry, { kind: 'table' }>).table;
    case 'leaf': {
      const o = b as LeafPmd;
      return a.pfn === o.pfn && a.writable === o.writable && a.dirty === o.dirty && a.young === o.young;
    }
    case 'migration': {
      const o = b as MigrationPmd;
      return a.pfn === o.pfn && a.access === o.access;
    }
    default:
      return assertNever(a);
  }
}

