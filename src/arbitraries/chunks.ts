import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import { assertNever } from '../../models/assertNever';
import type { GenProfile } from './profile';
import { cpuArb, hotPage, mmArb } from './targets';
import { NR_FILES } from '../../models/machine/files';

/**
 * Where a GUP-fast walk drawn inside a chunk stops: mostly after its grab (as walks always did),
 * sometimes before it. 'recheck' is written as no field, so such walks are the ops they were.
 */
const walkStopArb: fc.Arbitrary<{ stop?: 'grab' }> = fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constant({ stop: 'grab' as const }) });

/**
 * A zap that runs as a preempted task: `preempt` right before a zap of the hot pages. As one
 * chunk, because a `preempt` applies to the very next op only and two independent draws rarely
 * line up; shrinking still removes the pair, or either half, like any op. Sometimes with the
 * nested-gather race around it (`mm_tlb_flush_nested()`, docs/concurrency.md): a CPU stores to the
 * hot page first (it holds the translation), and inside the window a second zap of the page —
 * which finds the PTE none and gathers nothing — is followed by that CPU's load: only the second
 * zap's forced full flush keeps the load from reading the zapped page.
 */
export function preemptedZapArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      at: fc.integer({ min: 1, max: 2 }),
      mm: mmArb(p),
      nr: fc.oneof(fc.integer({ min: 1, max: 2 }), fc.constant(g.ptrsPerPte)),
      // One zap chunk in four: the CPU that stores first and loads inside the window.
      nested: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: cpuArb(p) }),
      // One in four of those: the hot page is a shared file page, and writeback runs inside the
      // window before the CPU stores again (rule R2 (docs/kernel-semantics.md §10): the zap's delayed rmap, issue 14).
      file: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: NR_FILES - 1 }) }),
    })
    .map(({ cpu, at, mm, nr, nested, file }): Op[] => {
      if (nested === null) {
        return [
          { kind: 'preempt', cpu, at },
          { kind: 'zap', mm, vpn: hot, nr },
        ];
      }
      if (file !== null) {
        return [
          { kind: 'mmapFile', mm, vpn: hot, nr: 2, file, pgoff: 0, shared: true },
          { kind: 'access', cpu: nested, mm, vpn: hot, write: true },
          { kind: 'preempt', cpu, at: 1 },
          { kind: 'zap', mm, vpn: hot - (hot % g.ptrsPerPte), nr: 2 * g.ptrsPerPte },
          { kind: 'writeback', file },
          { kind: 'access', cpu: nested, mm, vpn: hot, write: true },
        ];
      }
      return [
        { kind: 'access', cpu: nested, mm, vpn: hot, write: true },
        { kind: 'preempt', cpu, at },
        { kind: 'zap', mm, vpn: hot, nr },
        { kind: 'zap', mm, vpn: hot, nr: 1 },
        { kind: 'access', cpu: nested, mm, vpn: hot, write: false },
      ];
    });
}

/**
 * A reclaim that runs as a preempted task: `preempt` right before a reclaim of two folios from the
 * hot page, so that it stops between them ('reclaim: folio done, before the next
 * (cond_resched())'). One chunk in four sets up each of the two races of that window: a CPU holds
 * a clean translation of a page with data (stored, swapped out, read back in: TTU_BATCH_FLUSH
 * defers only clean entries) and the reclaim unmaps it without flushing and stops; then
 * - `zap`: a MADV_DONTNEED of the page drops the swap entry and the CPU loads it: it must read 0
 *   (`flush_tlb_batched_pending()`, 3ea277194daa);
 * - `store`: another CPU stores to the page (its fault reads the slot into a new page) and the
 *   CPU loads it through its old translation — mainline's accepted window (docs/concurrency.md).
 */
export function preemptedReclaimArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      at: fc.integer({ min: 1, max: 2 }),
      mm: mmArb(p),
      race: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant('zap' as const) }, { weight: 1, arbitrary: fc.constant('store' as const) }),
      reader: cpuArb(p),
      writer: cpuArb(p),
    })
    .map(({ cpu, at, mm, race, reader, writer }): Op[] => {
      if (race === null) {
        return [
          { kind: 'preempt', cpu, at },
          { kind: 'reclaim', mm, vpn: hot, count: 2 },
        ];
      }
      const inWindow: Op = race === 'zap' ? { kind: 'zap', mm, vpn: hot, nr: 1 } : { kind: 'access', cpu: writer, mm, vpn: hot, write: true };
      return [
        { kind: 'access', cpu: reader, mm, vpn: hot, write: true },
        { kind: 'access', cpu: reader, mm, vpn: hot + 1, write: true },
        { kind: 'reclaim', mm, vpn: hot, count: 1 },
        { kind: 'access', cpu: reader, mm, vpn: hot, write: false },
        { kind: 'preempt', cpu, at: 1 },
        { kind: 'reclaim', mm, vpn: hot, count: 2 },
        inWindow,
        { kind: 'access', cpu: reader, mm, vpn: hot, write: false },
      ];
    });
}

/**
 * A madvise() that runs as a preempted task: `preempt` right before a madvise of the hot page (or
 * its whole table), which stops after the slot ('madvise: table done, PTL dropped') with the
 * batched kernel's flush still owed to `tlb_finish_mmu()`. One chunk in two sets up MADV_FREE's
 * race: a CPU stores to the page (a dirty translation), MADV_FREE cleans the PTE and stops, the
 * CPU stores again through its translation (the PTE stays clean), reclaim runs and the CPU loads:
 * 0 or its value — the store raced with the call (docs/concurrency.md "The madvise window").
 */
export function preemptedMadviseArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      at: fc.integer({ min: 1, max: 2 }),
      mm: mmArb(p),
      advice: fc.oneof({ weight: 2, arbitrary: fc.constant('free' as const) }, { weight: 1, arbitrary: fc.constant('cold' as const) }, { weight: 1, arbitrary: fc.constant('pageout' as const) }),
      whole: fc.boolean(),
      writer: fc.oneof(fc.constant(null), cpuArb(p)),
    })
    .map(({ cpu, at, mm, advice, whole, writer }): Op[] => {
      const range = whole ? { vpn: hot - (hot % g.ptrsPerPte), nr: g.ptrsPerPte } : { vpn: hot, nr: 1 };
      if (writer === null) {
        return [
          { kind: 'preempt', cpu, at },
          { kind: 'madvise', mm, ...range, advice },
        ];
      }
      return [
        { kind: 'access', cpu: writer, mm, vpn: hot, write: true },
        { kind: 'preempt', cpu, at: 1 },
        { kind: 'madvise', mm, ...range, advice: 'free' },
        { kind: 'access', cpu: writer, mm, vpn: hot, write: true },
        { kind: 'reclaim', mm, vpn: hot, count: 1 },
        { kind: 'access', cpu: writer, mm, vpn: hot, write: false },
      ];
    });
}

/**
 * A migration that runs as a preempted task: `preempt` right before a migration of the hot page
 * (one folio: 'migrate: folio unmapped' is its first point, 'migrate: folio copied, before
 * remove_migration_ptes()' its second). Its races — a fault on the entry, a store through a
 * translation the batch has not flushed yet — need the hot page's loads and stores around it,
 * which the schedule ops already bring.
 */
export function preemptedMigrateArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      // Mostly the later point: the copy is done and the entry still in place.
      at: fc.oneof({ weight: 1, arbitrary: fc.constant(1) }, { weight: 3, arbitrary: fc.constant(2) }),
      mm: mmArb(p),
      // A store first, so that some CPU holds a writable, dirty translation the batch must flush.
      storeCpu: fc.option(cpuArb(p), { nil: null }),
    })
    .map(({ cpu, at, mm, storeCpu }): Op[] => [
      ...(storeCpu === null ? [] : [{ kind: 'access', cpu: storeCpu, mm, vpn: hot, write: true } as const]),
      { kind: 'preempt', cpu, at },
      { kind: 'migrate', mm, vpn: hot, count: 1 },
    ]);
}

/**
 * A load or store whose fault runs as a preempted task: `preempt` right before an access to the
 * hot page. It is a task only when its fault finds the PTE empty; the race is a second fault on
 * the page (a hot-page access from another CPU) before it takes the PTL.
 */
export function preemptedFaultArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      storeCpu: cpuArb(p),
      mm: mmArb(p),
      write: fc.boolean(),
    })
    .map(({ cpu, storeCpu, mm, write }): Op[] => [
      { kind: 'preempt', cpu, at: 1 },
      { kind: 'access', cpu: storeCpu, mm, vpn: hot, write },
    ]);
}

/**
 * A store whose COW fault runs as a preempted task (docs/concurrency.md): a store populates the
 * hot page, a fork shares it, then `preempt` right before a store of the parent to it — its
 * `wp_page_copy()` stops after the copy, before retaking the PTL — and sometimes a rival that
 * changes the PTE inside the window: another CPU's store (which copies the page first) or a zap
 * of it. One chunk, because the four steps that open the window rarely line up by chance; the
 * child exits at its end.
 */
export function preemptedCowArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      storeCpu: cpuArb(p),
      rivalCpu: cpuArb(p),
      mm: mmArb(p),
      rival: fc.constantFrom('store', 'zap', 'none'),
    })
    .map(({ cpu, storeCpu, rivalCpu, mm, rival }): Op[] => [
      { kind: 'access', cpu: storeCpu, mm, vpn: hot, write: true },
      { kind: 'fork', mm },
      { kind: 'preempt', cpu, at: 1 },
      { kind: 'access', cpu: storeCpu, mm, vpn: hot, write: true },
      ...(rival === 'store'
        ? [{ kind: 'access', cpu: rivalCpu, mm, vpn: hot, write: true } as const]
        : rival === 'zap'
          ? [{ kind: 'zap', mm, vpn: hot, nr: 1 } as const]
          : []),
      // The child exits (it is the last live mm: index -1), so the chunk leaves the live mms as it
      // found them and the mm indexes of later ops do not depend on it — which lets the shrinker
      // drop the chunk without retargeting the rest of the sequence.
      { kind: 'exit', mm: -1 },
    ]);
}

/**
 * A GUP whose slow path runs as a preempted task (docs/concurrency.md): `preempt` right before a
 * GUP of the hot page — when the page is not mapped (or not writable for FOLL_WRITE) its fault
 * maps it and the task stops before the retried lookup — and sometimes a rival inside the window
 * that changes what the fault mapped: a zap of the page or a migration of it.
 */
export function preemptedGupArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      gupCpu: cpuArb(p),
      mm: mmArb(p),
      pin: fc.boolean(),
      write: fc.boolean(),
      fast: fc.boolean(),
      rival: fc.constantFrom('zap', 'migrate', 'none'),
    })
    .map(({ cpu, gupCpu, mm, pin, write, fast, rival }): Op[] => [
      { kind: 'preempt', cpu, at: 1 },
      { kind: 'gup', cpu: gupCpu, mm, vpn: hot, nr: 1, pin, write, fast },
      ...(rival === 'zap'
        ? [{ kind: 'zap', mm, vpn: hot, nr: 1 } as const]
        : rival === 'migrate'
          ? [{ kind: 'migrate', mm, vpn: hot, count: 1 } as const]
          : []),
    ]);
}

/**
 * An mprotect or a fork that runs as a preempted task (their windows, docs/concurrency.md): a
 * `preempt` right before it, as one chunk for the same reason as `preemptedZapArb()`. mprotect
 * takes the hot pages (its points: one per table it changes, one before `tlb_finish_mmu()`);
 * fork's first points are the pages it shares, one each, so a small `at` stops it with the
 * first shared page still writable in the parent.
 */
export function preemptedWriterArb(g: Geometry, p: GenProfile, fork: boolean): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      at: fork ? fc.integer({ min: 1, max: 2 }) : fc.integer({ min: 1, max: 3 }),
      mm: mmArb(p),
      nr: fc.integer({ min: 1, max: 2 }),
      writable: fc.boolean(),
      // fork: always a whole GUP-fast pin walk inside the window; mprotect: sometimes.
      walk: fork
        ? fc.record({ cpu: cpuArb(p), write: fc.boolean(), stop: walkStopArb })
        : fc.option(fc.record({ cpu: cpuArb(p), write: fc.boolean(), stop: walkStopArb }), { nil: null }),
    })
    .map(({ cpu, at, mm, nr, writable, walk }): Op[] => [
      { kind: 'preempt', cpu, at },
      fork ? { kind: 'fork', mm } : { kind: 'mprotect', mm, vpn: hot, nr, writable },
      // Sometimes a whole GUP-fast pin walk of the hot page inside the window (see pinWalkArb()).
      ...(walk === null
        ? []
        : ([
            { kind: 'walkBegin', cpu: walk.cpu, mm, vpn: hot, walker: 'gupFast', pin: true, write: walk.write, ...walk.stop },
            { kind: 'walkEnd', cpu: walk.cpu },
          ] satisfies Op[])),
    ]);
}

/**
 * A whole GUP-fast walk of a hot page with FOLL_PIN, begun and ended back to back: inside a
 * fork's window it is the walk `mm->write_protect_seq` must keep off the page fork is sharing
 * (two independent walkBegin/walkEnd draws on one CPU around a preempted fork rarely line up).
 */
export function pinWalkArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({ cpu: cpuArb(p), mm: mmArb(p), write: fc.boolean(), stop: walkStopArb })
    .map(({ cpu, mm, write, stop }): Op[] => [
      { kind: 'walkBegin', cpu, mm, vpn: hot, walker: 'gupFast', pin: true, write, ...stop },
      { kind: 'walkEnd', cpu },
    ]);
}

/**
 * A GUP-fast walk of the hot page stopped between its lockless read and `try_grab_folio_fast()`
 * (walkBegin `stop: 'grab'`, docs/concurrency.md), with a rival inside that window that frees or
 * replaces the page it read: a zap (the page is freed: the grab must fail), a zap and a store to
 * the next page (the frame is freed and reused: the grab lands on another folio and the recheck
 * must throw it back), a migration (the source is freed after the move), or another CPU's store
 * (a COW after a fork replaces the page). Sometimes a store maps the page first.
 */
export function grabWindowArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      walkCpu: cpuArb(p),
      storeCpu: fc.option(cpuArb(p), { nil: null }),
      rivalCpu: cpuArb(p),
      mm: mmArb(p),
      pin: fc.boolean(),
      write: fc.boolean(),
      rival: fc.constantFrom('zap', 'reuse', 'migrate', 'store'),
    })
    .map(({ walkCpu, storeCpu, rivalCpu, mm, pin, write, rival }): Op[] => [
      ...(storeCpu === null ? [] : [{ kind: 'access', cpu: storeCpu, mm, vpn: hot, write: true } as const]),
      { kind: 'walkBegin', cpu: walkCpu, mm, vpn: hot, walker: 'gupFast', pin, write, stop: 'grab' },
      ...((): Op[] => {
        switch (rival) {
          case 'zap':
            return [{ kind: 'zap', mm, vpn: hot, nr: 1 }];
          case 'reuse':
            return [
              { kind: 'zap', mm, vpn: hot, nr: 1 },
              { kind: 'access', cpu: rivalCpu, mm, vpn: hot + 1, write: true },
            ];
          case 'migrate':
            return [{ kind: 'migrate', mm, vpn: hot, count: 1 }];
          case 'store':
            return [{ kind: 'access', cpu: rivalCpu, mm, vpn: hot, write: true }];
          default:
            return assertNever(rival);
        }
      })(),
      { kind: 'walkEnd', cpu: walkCpu },
    ]);
}


/**
 * khugepaged collapsing the hot page's PMD range as a preempted task, in one of its two windows.
 * A CPU stores to the hot page first (a writable, young entry, so the range is worth collapsing,
 * and a translation `pmdp_collapse_flush()` must remove). After the collapse a device writes
 * through the newest pin and the CPU loads the page: the pin and the process must agree.
 */
export function preemptedCollapseArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  return fc.oneof({ weight: 1, arbitrary: collapseIsolatedWindowArb(g, p) }, { weight: 1, arbitrary: collapseGapArb(g, p) });
}

/**
 * Stopped between the isolation and the copy ('collapse: pages isolated, before the copy'), with
 * what no lock keeps out of that window: a GUP-fast walk reads the page before the collapse
 * begins and ends inside the window (only `tlb_remove_table_sync_one()` or GUP-fast's PMD recheck
 * keep its pin off a page about to be copied and freed), and the CPU stores again inside it.
 */
function collapseIsolatedWindowArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  return fc
    .record({
      cpu: cpuArb(p),
      user: cpuArb(p),
      walker: cpuArb(p),
      mm: mmArb(p),
      stop: walkStopArb,
    })
    .map(({ cpu, user, walker, mm, stop }): Op[] => [
      { kind: 'access', cpu: user, mm, vpn: hot, write: true },
      { kind: 'walkBegin', cpu: walker, mm, vpn: hot, walker: 'gupFast', pin: true, write: true, ...stop },
      { kind: 'preempt', cpu, at: 2 },
      { kind: 'collapse', mm, pmd: Math.floor(hot / g.ptrsPerPte) },
      { kind: 'walkEnd', cpu: walker },
      { kind: 'access', cpu: user, mm, vpn: hot, write: true },
      { kind: 'gupWrite', handle: -1, index: 0 },
      { kind: 'access', cpu: user, mm, vpn: hot, write: false },
    ]);
}

/** What changes the range while khugepaged holds no lock (`collapseGapArb()`). */
const GAP_RIVALS = ['pin', 'fault', 'zap', 'mprotect', 'fork', 'exit', 'collapse'] as const;

/**
 * Stopped in the gap between the scan and `mmap_write_lock()` ('collapse: THP allocated, no lock
 * held'; for a file range, between the scan and `collapse_file()`), where another CPU changes the range — pins the hot page (the isolation must then fail
 * and `pmd_populate()` put the table back), faults in a neighbour, zaps the hot page, splits the
 * VMA, forks, exits or collapses the range itself — before khugepaged resumes, revalidates and
 * finishes.
 */
function collapseGapArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const hot = hotPage(g);
  const pmd = Math.floor(hot / g.ptrsPerPte);
  const rivalArb = fc.oneof({ weight: 4, arbitrary: fc.constant('pin' as const) }, { weight: 3, arbitrary: fc.constantFrom(...GAP_RIVALS) });
  // One time in three the range is a MAP_PRIVATE mapping of file 0 first, read rather than written:
  // khugepaged's file path then stops between its scan and collapse_file() ('collapse_file: range
  // scanned, no lock held').
  const fileArb = fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
  return fc.record({ cpu: cpuArb(p), user: cpuArb(p), rival: cpuArb(p), mm: mmArb(p), what: rivalArb, file: fileArb }).map(({ cpu, user, rival, mm, what, file }): Op[] => [
    ...(file ? [{ kind: 'mmapFile', mm, vpn: pmd * g.ptrsPerPte, nr: g.ptrsPerPte, file: 0, pgoff: 0, shared: false } as const] : []),
    { kind: 'access', cpu: user, mm, vpn: hot, write: !file },
    { kind: 'preempt', cpu, at: 1 },
    { kind: 'collapse', mm, pmd },
    gapRival(what, rival, mm, hot, pmd),
    { kind: 'resume', cpu, points: 2 },
    { kind: 'gupWrite', handle: -1, index: 0 },
    { kind: 'access', cpu: user, mm, vpn: hot, write: false },
  ]);
}

function gapRival(what: (typeof GAP_RIVALS)[number], cpu: number, mm: number, hot: number, pmd: number): Op {
  switch (what) {
    case 'pin':
      return { kind: 'gup', cpu, mm, vpn: hot, nr: 1, pin: true, write: true, fast: false };
    case 'fault':
      return { kind: 'access', cpu, mm, vpn: hot + 1, write: true };
    case 'zap':
      return { kind: 'zap', mm, vpn: hot, nr: 1 };
    case 'mprotect':
      return { kind: 'mprotect', mm, vpn: hot, nr: 1, writable: false };
    case 'fork':
      return { kind: 'fork', mm };
    case 'exit':
      return { kind: 'exit', mm };
    case 'collapse':
      return { kind: 'collapse', mm, pmd };
    default:
      return assertNever(what);
  }
}
