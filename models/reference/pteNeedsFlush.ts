import type { PmdEntry, Pte } from '../machine/pte';

/**
 * x86's rules for "does changing this entry need a TLB flush?" (arch/x86/include/asm/tlbflush.h,
 * 6.12), as pure functions of the entry bits the model has: present, pfn, RW, dirty, accessed.
 * The kernel methods `pteNeedsFlush()` / `hugePmdNeedsFlush()` (reference/protect.ts) call these,
 * so a variant can override the rule while the rule itself stays testable on its own.
 */

/** The hardware flag bits of one entry that the model has. */
export interface EntryFlags {
  /** _PAGE_PRESENT */
  readonly present: boolean;
  /** _PAGE_RW */
  readonly writable: boolean;
  /** _PAGE_DIRTY */
  readonly dirty: boolean;
  /** _PAGE_ACCESSED */
  readonly young: boolean;
}

/**
 * Mirrors `pte_flags_need_flush()` (arch/x86/include/asm/tlbflush.h, 6.12). Two classes of bits
 * matter here:
 * - flush_on_clear = DIRTY | PRESENT | ACCESSED: clearing one needs a flush (a cached entry would
 *   keep using the old value); setting one does not (non-present entries are never cached, and
 *   the CPU sets A/D itself when it needs them). With `ignoreAccess` a cleared ACCESSED bit is
 *   ignored too (`pte_needs_flush()` passes true, `huge_pmd_needs_flush()` false).
 * - flush_on_change ∋ RW: any change needs a flush, both directions. Setting RW is flushed too,
 *   because a CPU still holding the read-only entry would take a spurious write fault (the
 *   comment above flush_on_clear: "Only include flags that would not trigger spurious
 *   page-faults"). So on x86 an mprotect() upgrade is flushed, at `tlb_finish_mmu()`.
 * Software bits (SOFTW1-4, SAVED_DIRTY) never need a flush; the model has none.
 */
export function pteFlagsNeedFlush(old: EntryFlags, nu: EntryFlags, ignoreAccess: boolean): boolean {
  const cleared = (a: boolean, b: boolean): boolean => a && !b;
  if (cleared(old.dirty, nu.dirty) || cleared(old.present, nu.present)) return true;
  if (!ignoreAccess && cleared(old.young, nu.young)) return true;
  return old.writable !== nu.writable;
}

/** The flag bits of a PTE; a none or migration entry is not present (and has no other bits). */
export function pteFlags(p: Pte): EntryFlags {
  if (p.kind !== 'present') return { present: false, writable: false, dirty: false, young: false };
  return { present: true, writable: p.writable, dirty: p.dirty, young: p.young };
}

/** The flag bits of a PMD leaf; anything else is treated as not present. */
export function pmdFlags(p: PmdEntry): EntryFlags {
  if (p.kind !== 'leaf') return { present: false, writable: false, dirty: false, young: false };
  return { present: true, writable: p.writable, dirty: p.dirty, young: p.young };
}

/**
 * Mirrors `pte_needs_flush()` (arch/x86/include/asm/tlbflush.h, 6.12): nothing was cached for a
 * non-present old entry; a changed PFN always needs a flush; otherwise the flag rules, with the
 * accessed bit ignored (see `ptep_clear_flush_young()`).
 */
export function x86PteNeedsFlush(old: Pte, nu: Pte): boolean {
  if (old.kind !== 'present') return false;
  if (nu.kind !== 'present' || nu.pfn !== old.pfn) return true;
  return pteFlagsNeedFlush(pteFlags(old), pteFlags(nu), true);
}

/**
 * Mirrors `huge_pmd_needs_flush()` (arch/x86/include/asm/tlbflush.h, 6.12): as `pte_needs_flush()`
 * for a PMD leaf, except that a cleared accessed bit needs a flush too (ignore_access = false).
 */
export function x86HugePmdNeedsFlush(old: PmdEntry, nu: PmdEntry): boolean {
  if (old.kind !== 'leaf') return false;
  if (nu.kind !== 'leaf' || nu.pfn !== old.pfn) return true;
  return pteFlagsNeedFlush(pmdFlags(old), pmdFlags(nu), false);
}
