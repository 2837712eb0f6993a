import { describeLock } from '../../models/machine/locks';
import type { Machine } from '../../models/machine/state';
import { observe } from '../oracles/observe';
import { holeFrames } from '../../models/machine/physMem';

/** The MM_ID slots of a folio no 6.15 kernel touched (every folio of a 6.12 kernel): not printed. */
const NO_MM_IDS = '-:0 -:0';

/**
 * Everything a reviewer may want to see of a machine, as "key → value" lines: page tables
 * (`mm0.pmd1.pte15 → s0.1/1 w`: page 1 of folio s0.1, writable), folios, GUP handles, and the
 * rest of the differential observation plus what it forgets on purpose (TLB entries per CPU with the frame
 * generation they were filled from, walkers in flight, deferred work, MIGRC's pending list).
 */
export function stateView(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  const o = observe(m, false);
  o.mms.forEach((mm, id) => {
    if (!mm.alive) {
      out.set(`mm${id}`, 'exited');
      return;
    }
    mm.pmds.forEach((pmd, i) => {
      if (typeof pmd === 'string') {
        if (pmd !== '-') out.set(`mm${id}.pmd${i}`, pmd);
        return;
      }
      out.set(`mm${id}.pmd${i}`, 'PTE table');
      for (const [k, e] of Object.entries(pmd)) out.set(`mm${id}.pmd${i}.pte${k}`, e);
    });
  });
  for (const [h, pages] of Object.entries(o.handles)) out.set(`handle${h}`, pages.join(' '));
  if (o.zeroPageGupRefs !== undefined && o.zeroPageGupRefs > 0) out.set('zero page', `GUP references ${o.zeroPageGupRefs}`);
  for (const [id, f] of Object.entries(o.folios)) {
    out.set(
      `folio ${id}`,
      `order ${f.order} ref ${f.refcount} pin ${f.pincount} mapcount(large ${f.largeMapcount}, entire ${f.entireMapcount})${f.mmIds === NO_MM_IDS ? '' : ` mm_ids(${f.mmIds})`} pages [${f.pages.join(' ')}]`,
    );
  }
  for (const c of m.cpus) {
    for (const e of c.tlb.values()) {
      const live = m.frames[e.pfn]?.gen === e.gen ? '' : ' STALE(frame reused or freed)';
      const spec = e.speculative ? ' speculative' : '';
      const frame = m.zeroPage?.pfn === e.pfn ? 'zero page' : `pfn ${e.pfn}`;
      out.set(`cpu${c.id}.tlb.mm${e.mm}.vpn${e.vpn}`, `${frame}${e.writable ? ' w' : ''} gen ${e.gen}${spec}${live}`);
    }
    if (c.walker !== null) out.set(`cpu${c.id}.walker`, `${c.walker.kind} mm${c.walker.mm} vpn ${c.walker.vpn} table ${c.walker.table ?? '-'}`);
    // A preempted kernel task (docs/concurrency.md); absent on a machine that never had one.
    if (c.task !== null) {
      const t = c.task;
      const what = t.op === 'fork' ? `fork mm${t.mm}${t.child === undefined ? '' : ` → mm${t.child}`}` : `${t.op} mm${t.mm} vpn ${t.start}+${t.end - t.start}`;
      out.set(`cpu${c.id}.task`, `${what} ⏸ ${t.point}`);
    }
    // The locks that task holds (models/machine/locks.ts), in the order it took them.
    if (c.locks.length > 0) out.set(`cpu${c.id}.locks`, c.locks.map(describeLock).join(' → '));
  }
  for (const mm of m.mms) {
    if (mm.tlbFlushPending > 0) out.set(`mm${mm.id}.tlb_flush_pending`, String(mm.tlbFlushPending));
    // Odd only while a preempted fork is write-protecting the mm (copy_page_range()).
    if (mm.writeProtectSeq % 2 === 1) out.set(`mm${mm.id}.write_protect_seq`, `${mm.writeProtectSeq} (odd: fork in copy_page_range())`);
    if (mm.mmapReaders > 0) out.set(`mm${mm.id}.mmap_lock`, `read × ${mm.mmapReaders}`);
  }
  out.set('rcu.callbacksPending', String(m.rcu.callbacks.length));
  if (m.nowaitFailures > 0) out.set('nowaitFailures', String(m.nowaitFailures));
  // Physical memory (memHole, allocPolicy): shown only once a sequence changed it.
  const holes = holeFrames(m);
  if (holes.length > 0) out.set('physmem.holes', pfnRanges(holes));
  if (m.allocPolicy !== undefined) out.set('physmem.allocPolicy', m.allocPolicy.kind === 'from' ? `from pfn ${m.allocPolicy.pfn}` : m.allocPolicy.kind);
  if (m.migrc.pending.length > 0) out.set('migrc.pending', m.migrc.pending.map((p) => m.frames[p]?.folio?.id ?? `pfn ${p}`).join(' '));
  // PG_migrc (only the migrc-as-posted kernel sets it): which folios carry the flag.
  const flagged = m.frames.flatMap((f) => (f.folio?.pgMigrc === true ? [f.folio.id] : []));
  if (flagged.length > 0) out.set('migrc.PG_migrc', flagged.join(' '));
  return out;
}

/** Lines for what changed between two views: "~ path: before → after", "+ path: value", "- path: value". */
export function diffViews(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [k, v] of after) {
    const old = before.get(k);
    if (old === undefined) lines.push(`+ ${k}: ${v}`);
    else if (old !== v) lines.push(`~ ${k}: ${old} → ${v}`);
  }
  for (const [k, v] of before) if (!after.has(k)) lines.push(`- ${k}: ${v}`);
  return lines;
}

/** Ascending PFNs as ranges: "3-4 9 100-115". */
function pfnRanges(pfns: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pfns.length; ) {
    let j = i;
    while (j + 1 < pfns.length && pfns[j + 1] === pfns[j]! + 1) j++;
    out.push(j === i ? `${pfns[i]}` : `${pfns[i]}-${pfns[j]}`);
    i = j + 1;
  }
  return out.join(' ');
}
