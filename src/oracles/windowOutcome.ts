import type { MmId, Pfn } from '../../models/machine/ids';
import { cpuId as asCpu, mmId as asMm, vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { mappedPfn, pmdAt, pmdIndexOf, pteAt } from '../../models/machine/pgtable';
import { tlbLookupOnAccess } from '../../models/machine/tlb';
import { swapSlot } from '../../models/machine/swap';
import { vmaFileAt } from '../../models/machine/files';
import { assertNever } from '../../models/assertNever';
import type { OpResult } from '../../models/result';
import type { Op } from '../ops/op';

/**
 * What the serialisability oracle compares of a window (docs/concurrency.md "What is compared,
 * when"): what each op returned to the user, and the user-visible memory once no task is in
 * flight. Both leave out what a serial order does not fix — see `observeResult()` and `Unfixed`.
 */

/**
 * Pages and frames whose content a race with a task's owed TLB flush made depend on *when* each
 * CPU's stale translation went away, which no serial order of whole ops describes: an access that
 * went through a TLB entry the page tables no longer agree with. Its own result, later loads of the
 * same address or frame, pins of the frame and the address's final value are not compared (the
 * user-memory oracle judges them with its window rules).
 */
export interface Unfixed {
  /** `pageKey(mm, vpn)`. */
  readonly pages: Set<string>;
  readonly frames: Set<Pfn>;
}

export const noUnfixed = (): Unfixed => ({ pages: new Set(), frames: new Set() });

/**
 * Is the PTE (or PMD leaf) of (mm, v) present, writable and dirty? A store through a dirty TLB
 * entry sets nothing in the PTE: if the PTE is read-only now, or clean (MADV_FREE cleared its
 * dirty bit and its flush is owed), the store is one the page tables do not show.
 */
function pteWritableDirty(m: Machine, mm: MmId, v: number): boolean {
  const pmd = pmdAt(m, mm, pmdIndexOf(m, asVpn(v)));
  if (pmd.kind === 'leaf') return pmd.writable && pmd.dirty;
  const pte = pteAt(m, mm, asVpn(v));
  return pte !== null && pte.kind === 'present' && pte.writable && pte.dirty;
}

/**
 * Will this user access go through a stale TLB entry — one whose frame the page tables no longer
 * map at that address, or a writable, dirty one whose PTE is no longer writable or dirty (for a
 * store: it stores without the page tables knowing)? Returns
 * the frame it would reach, or null when the access sees what the page tables say — or what a
 * migration entry there names (its data is copied after the access).
 */
export function staleHit(m: Machine, op: Op): Pfn | null {
  if (op.kind !== 'access') return null;
  const e = tlbLookupOnAccess(m, asCpu(op.cpu), asMm(op.mm), asVpn(op.vpn));
  // A store completes from the TLB only through a writable, dirty entry (accessThroughTlb()); else it walks or faults.
  if (e === undefined || (op.write && !(e.writable && e.dirty))) return null;
  // A migration entry naming the frame the entry translates to: the migration copies that frame
  // after its flush, so an access through the old translation is one before the migration.
  if (migrationEntryPfn(m, asMm(op.mm), op.vpn) === e.pfn) return null;
  if (mappedPfn(m, asMm(op.mm), asVpn(op.vpn)) !== e.pfn) return e.pfn;
  if (op.write && e.writable && e.dirty && !pteWritableDirty(m, asMm(op.mm), op.vpn)) return e.pfn;
  return null;
}

/** The frame a migration entry of (mm, v) names (a PTE's, or a PMD's plus the offset), or null. */
function migrationEntryPfn(m: Machine, mm: MmId, v: number): Pfn | null {
  const i = pmdIndexOf(m, asVpn(v));
  const pmd = pmdAt(m, mm, i);
  if (pmd.kind === 'migration') return (pmd.pfn + (v - i * m.geometry.ptrsPerPte)) as Pfn;
  const pte = pteAt(m, mm, asVpn(v));
  return pte !== null && pte.kind === 'migration' ? pte.pfn : null;
}

/** The frame a user access or a device access through a pin reaches now (TLB first), or null. */
export function frameReached(m: Machine, op: Op): Pfn | null {
  switch (op.kind) {
    case 'access': {
      const e = tlbLookupOnAccess(m, asCpu(op.cpu), asMm(op.mm), asVpn(op.vpn));
      return e !== undefined && (!op.write || (e.writable && e.dirty)) ? e.pfn : mappedPfn(m, asMm(op.mm), asVpn(op.vpn));
    }
    case 'gupRead':
    case 'gupWrite':
      return m.handles.find((h) => h.id === op.handle)?.pages[op.index]?.pfn ?? null;
    default:
      return null;
  }
}

/**
 * What an op returned that a user program sees and a serial order fixes, as one string; null for
 * what is not compared:
 * - a load's value, a store's success (a store task's 'done' included) or SIGSEGV, a device read through a **pin** (FOLL_GET
 *   promises no coherence: whether the kernel reused or copied a page under it may depend on a
 *   reference a batched zap still held), mremap/exit/unpin/gupWrite success;
 * - fork's child and GUP's handle (with its page count);
 * - not: map and populate (they only ever map new zeroed folios where nothing is mapped, so no
 *   value depends on whether they did; a THP `map` finds its PMD slot "in use" when a fault
 *   task has allocated an empty PTE table there and not yet mapped its page, which no order of
 *   whole ops shows);
 *   migration's count (a folio whose move failed on a transient reference — a batched zap's
 *   gather, a GUP-fast walk — is a legitimate outcome of every order), PT reclaim, tick, nowaitFail,
 *   drain (kernel-internal), the schedule ops, and a lockless walk's two halves: whether a GUP-fast
 *   walk's handle comes at `walkBegin` (it found no table and fell back at once) or at `walkEnd`
 *   depends on page tables a task may have allocated without mapping anything yet. The handle it
 *   made is in the outcome at the window's end.
 * `pinRead` says whether a gupRead's handle is a pin.
 */
export function observeResult(op: Op, r: OpResult, pinRead: boolean): string | null {
  switch (op.kind) {
    case 'access':
      // A store run as a task returns 'done' (it stores when the task completes, even at once).
      if (op.write && (r.kind === 'value' || r.kind === 'done')) return 'stored';
      return r.kind === 'value' ? `value ${r.value}` : r.kind;
    case 'gupRead':
      return pinRead ? resultText(r) : null;
    case 'fileRead':
      return resultText(r);
    case 'fork':
    case 'gup':
    case 'mremap':
    case 'exit':
    case 'unpin':
    case 'gupWrite':
    case 'zap':
    case 'mprotect':
      return resultText(r);
    case 'map':
    case 'populate':
    case 'mmapFile':
    case 'writeback':
    case 'truncate':
    case 'fileWrite':
    case 'migrate':
    case 'reclaim':
    case 'madvise':
    case 'freeTable':
    case 'collapse':
    case 'walkBegin':
    case 'walkEnd':
    case 'tick':
    case 'nowaitFail':
    case 'drain':
    case 'memHole':
    case 'allocPolicy':
    case 'preempt':
    case 'resume':
      return null;
    default:
      return assertNever(op);
  }
}

/** An OpResult as text; a noop's reason is left out (the user sees only that nothing happened). */
function resultText(r: OpResult): string {
  switch (r.kind) {
    case 'done':
    case 'noop':
    case 'segv':
    case 'gupFailed':
      return r.kind;
    case 'value':
      return `value ${r.value}`;
    case 'forked':
      return `forked mm#${r.child}`;
    case 'handle':
      return `handle#${r.handle} ${r.pages} pages`;
    case 'migrated':
    case 'reclaimed':
      return r.kind;
    default:
      return assertNever(r);
  }
}

/** The user-visible state at a window's end, keyed by what it describes (`mm#1 vpn 21`, `handle#2 page 0`). */
export type UserOutcome = Readonly<Record<string, string>>;

/**
 * The user-visible state of a quiescent machine: which mms are alive, each live mm's VMA write
 * permissions and the value every page reads (where nothing is mapped, what a fault would map: a
 * new zeroed page, or in a file VMA the file's page; only non-zero values are listed), what pread()
 * reads from every page of every file, the live GUP handles (kind, range, page count) and what a
 * device reads through each pinned page. Values are read from the frames the page tables
 * map, as a load that faults would: no task is in flight, so in a correct kernel no CPU may still
 * use another translation of a page. With `getContents`, what a device reads through FOLL_GET
 * references too (no serial order fixes it, but two runs that agree hold the same).
 */
export function userOutcome(m: Machine, getContents = false): UserOutcome {
  const out: Record<string, string> = {};
  const n = mmNrPages(m.geometry);
  for (const mm of m.mms) {
    out[`mm#${mm.id}`] = mm.alive ? `alive ${mm.vmaWritable.map((w) => (w ? 'w' : 'r')).join('')}` : 'exited';
    if (!mm.alive) continue;
    for (let v = 0; v < n; v++) {
      const value = pageValue(m, mm.id, v);
      if (value !== 0) out[pageKey(mm.id, v)] = String(value);
    }
  }
  m.files?.forEach((f, file) => {
    for (let index = 0; index < f.cache.length; index++) {
      const value = fileValue(m, file, index);
      if (value !== 0) out[fileKey(file, index)] = String(value);
    }
  });
  for (const h of m.handles) {
    out[`handle#${h.id}`] = `${h.pin ? 'pin' : 'get'}${h.write ? ' write' : ''} mm#${h.mm} vpn ${h.vpn}+${h.pages.length}`;
    if (h.pin || getContents) h.pages.forEach((p, k) => (out[`handle#${h.id} page ${k}`] = String(m.frames[p.pfn]?.content ?? 0)));
  }
  return out;
}

export const pageKey = (mm: number, v: number): string => `mm#${mm} vpn ${v}`;

/** The `userOutcome()` key of what pread() reads from page `index` of `file`. */
const fileKey = (file: number, index: number): string => `file#${file} page ${index}`;

/** The (mm, vpn) a `pageKey()` names. */
export function pageOfKey(key: string): { readonly mm: number; readonly vpn: number } | null {
  const at = /^mm#(\d+) vpn (\d+)$/.exec(key);
  return at === null ? null : { mm: Number(at[1]), vpn: Number(at[2]) };
}

/** What pread() of page `index` of `file` reads: its page-cache page's content, or the disk's. */
function fileValue(m: Machine, file: number, index: number): number {
  const f = m.files?.[file];
  const page = f?.cache[index] ?? null;
  return page !== null ? (m.frames[page]?.content ?? 0) : (f?.store[index] ?? 0);
}

/**
 * What a load of (mm, v) would read: the mapped frame's content, or, for a page swapped out, its
 * swap-cache page's or else its slot's (a swap-in brings that back); where nothing is mapped, the
 * file's page in a file VMA, else 0.
 */
function pageValue(m: Machine, mm: MmId, v: number): number {
  const p = mappedPfn(m, mm, asVpn(v));
  if (p !== null) return m.frames[p]?.content ?? 0;
  const pte = pteAt(m, mm, asVpn(v));
  const vf = vmaFileAt(m, mm, v);
  if ((pte === null || pte.kind === 'none') && vf !== null) return fileValue(m, vf.file, vf.pgoff);
  if (pte === null || pte.kind !== 'swap') return 0;
  const slot = swapSlot(m, pte.slot);
  return slot.cached !== null ? (m.frames[slot.cached]?.content ?? 0) : slot.content;
}

/**
 * The keys of `userOutcome()` that `unfixed` leaves out, named on the interleaved run's machine
 * (frames are its own; a serial run allocates others): its addresses, every address that maps one
 * of its frames, and every pinned page on one of them.
 */
export function unfixedKeys(m: Machine, unfixed: Unfixed): Set<string> {
  const keys = new Set(unfixed.pages);
  const files = unfixedFilePages(m, unfixed);
  if (unfixed.frames.size === 0 && files.size === 0) return keys;
  for (const key of files) keys.add(key);
  const n = mmNrPages(m.geometry);
  for (const mm of m.mms) {
    if (!mm.alive) continue;
    for (let v = 0; v < n; v++) {
      const p = mappedPfn(m, mm.id, asVpn(v));
      if (p !== null && unfixed.frames.has(p)) keys.add(pageKey(mm.id, v));
      // Every address that reads an unfixed file page (mapped or not yet faulted in).
      const vf = vmaFileAt(m, mm.id, v);
      if (vf !== null && (vf.shared || p === null) && files.has(fileKey(vf.file, vf.pgoff))) keys.add(pageKey(mm.id, v));
    }
  }
  // A pin reads its frame, which holds what its address held when it was taken — an unfixed
  // value too, when it was a copy made from an unfixed page (a COW or an unshare).
  for (const h of m.handles) h.pages.forEach((p, k) => (unfixed.frames.has(p.pfn) || unfixed.pages.has(pageKey(h.mm, h.vpn + k))) && keys.add(`handle#${h.id} page ${k}`));
  return keys;
}

/**
 * The file pages (`fileKey()`) whose value is unfixed: a page-cache page among the unfixed
 * frames, or the file page an unfixed address maps through a MAP_SHARED mapping (a store there
 * lands in the file).
 */
function unfixedFilePages(m: Machine, unfixed: Unfixed): Set<string> {
  const out = new Set<string>();
  for (const p of unfixed.frames) {
    const head = m.frames[p]?.head ?? p;
    const mapping = m.frames[head]?.folio?.mapping;
    if (mapping !== undefined) out.add(fileKey(mapping.file, mapping.index + (p - head)));
  }
  for (const key of unfixed.pages) {
    const at = pageOfKey(key);
    const vf = at === null ? null : vmaFileAt(m, asMm(at.mm), at.vpn);
    if (vf !== null && vf.shared) out.add(fileKey(vf.file, vf.pgoff));
  }
  return out;
}

/** `o` without the keys in `drop`. */
export function without(o: UserOutcome, drop: ReadonlySet<string>): UserOutcome {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (!drop.has(k)) out[k] = v;
  return out;
}
