import type { MmId, Pfn, Vpn } from './ids';
import { vpn as asVpn } from './ids';
import type { PmdEntry, Pte } from './pte';
import type { Machine, Mm } from './state';
import { frameAt } from './frames';
import { recordStalePmd, recordStaleTranslation } from './tlb';
import { checkPmdWrite, checkPteWrite } from './locks';
import type { LockRef } from './locks';

/** Plain accessors for page tables: no kernel policy here, only addressing. */

export function mmAt(m: Machine, id: MmId): Mm {
  const mm = m.mms[id];
  if (mm === undefined) throw new Error(`no mm ${id}`);
  return mm;
}

export const pmdIndexOf = (m: Machine, v: Vpn): number => Math.floor(v / m.geometry.ptrsPerPte);
export const pteIndexOf = (m: Machine, v: Vpn): number => v % m.geometry.ptrsPerPte;
/** First virtual page covered by PMD slot i. */
export const pmdStart = (m: Machine, i: number): Vpn => asVpn(i * m.geometry.ptrsPerPte);

export function pmdAt(m: Machine, mm: MmId, i: number): PmdEntry {
  const e = mmAt(m, mm).pmds[i];
  if (e === undefined) throw new Error(`no pmd ${i} in mm ${mm}`);
  return e;
}

/**
 * Write PMD slot i; CPUs that have the mm loaded may keep what it held before (tlb.ts). While a
 * task runs or holds a lock, the write is checked against the locks (locks.ts `checkPmdWrite()`).
 */
export function setPmd(m: Machine, mm: MmId, i: number, e: PmdEntry): void {
  if (m.locks.running !== null || m.locks.taskHeld > 0) checkPmdWrite(m, mm, i);
  const pmds = mmAt(m, mm).pmds;
  const old = pmds[i];
  if (old !== undefined) recordStalePmd(m, mm, i, old, e);
  pmds[i] = e;
}

/** The PTE slots of a table frame. */
export function tableEntries(m: Machine, table: Pfn): Pte[] {
  const ptes = frameAt(m, table).ptes;
  if (ptes === null) throw new Error(`frame ${table} is not a page table`);
  return ptes;
}

/** The PTE for v, or null when no PTE table covers v (PMD none or a PMD leaf). */
export function pteAt(m: Machine, mm: MmId, v: Vpn): Pte | null {
  const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
  if (pmd.kind !== 'table') return null;
  return tableEntries(m, pmd.table)[pteIndexOf(m, v)] ?? null;
}

/** The frame a present translation of (mm, v) maps, through a PMD leaf or a PTE; null when there is none. */
export function mappedPfn(m: Machine, mm: MmId, v: Vpn): Pfn | null {
  const i = pmdIndexOf(m, v);
  const pmd = pmdAt(m, mm, i);
  if (pmd.kind === 'leaf') return (pmd.pfn + (v - pmdStart(m, i))) as Pfn;
  const pte = pteAt(m, mm, v);
  return pte !== null && pte.kind === 'present' ? pte.pfn : null;
}

/**
 * set_pte_at(); the PMD must point to a table. While a task runs or holds a lock, the write is
 * checked against the PTLs (locks.ts `checkPteWrite()`): a task must hold the table's PTL.
 */
export function setPte(m: Machine, mm: MmId, v: Vpn, pte: Pte): void {
  const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
  if (pmd.kind !== 'table') throw new Error(`set_pte_at on mm ${mm} vpn ${v} without a PTE table`);
  if (m.locks.running !== null || m.locks.taskHeld > 0) checkPteWrite(m, mm, v, pmd.table);
  const entries = tableEntries(m, pmd.table);
  const old = entries[pteIndexOf(m, v)];
  // CPUs that have the mm loaded may hold the old translation without ever having used it.
  if (old !== undefined) recordStaleTranslation(m, mm, v, old, pte);
  entries[pteIndexOf(m, v)] = pte;
}

/** Every virtual page an mm has. */
export function mmVpnCount(m: Machine): number {
  return m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
}

/** The mms that are alive, in id order. */
export function liveMms(m: Machine): Mm[] {
  return m.mms.filter((mm) => mm.alive);
}

/** The PTL of PMD slot i's PTE table (`pte_lockptr()`), or null when the slot holds no table. */
export function ptlOf(m: Machine, mm: MmId, i: number): LockRef | null {
  const pmd = pmdAt(m, mm, i);
  return pmd.kind === 'table' ? { kind: 'ptl', table: pmd.table } : null;
}

/** The PMD lock for slot i of mm (`pmd_lock()`). */
export function pmdLockOf(mm: MmId, i: number): LockRef {
  return { kind: 'pmd_lock', mm, pmd: i };
}

/** `mm->mmap_lock` of mm in `mode`. */
export function mmapLockOf(mm: MmId, mode: 'read' | 'write'): LockRef {
  return { kind: 'mmap_lock', mm, mode };
}
