import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import { assertNever } from '../../models/assertNever';
import { physMemOpArb } from './physMem';

/** A CPU the chunks below name (any of the machine's). */
function cpuIndexArb(g: Geometry): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: g.nrCpus - 1 });
}

/** An mm index the chunks below name (resolved among the live mms when the op runs). */
function mmIndexArb(g: Geometry): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: g.maxMms - 1 });
}

/**
 * Op generators weighted toward the states where batching bugs live (design §6): large folios,
 * PTE-mapped and partially mapped; forks of populated mms; pins; zaps that fill a gather;
 * read-only mappings under migration; walkers in flight while tables go away. Addresses cluster
 * on folio and table boundaries. fast-check gives commands no bias of its own, so all of it is here.
 */
/** Generator options. Every one is off by default: the arbitrary, and so every seed, is unchanged. */
export interface OpArbOptions {
  /**
   * Emit schedule ops (`preempt`, `resume`: issue 11, docs/concurrency.md), and zaps of the hot
   * pages, so zaps run as preempted kernel tasks and other ops land in their windows.
   */
  readonly interleave?: boolean;
}

export function opArb(g: Geometry, options: OpArbOptions = {}): fc.Arbitrary<Op> {
  const ppt = g.ptrsPerPte;
  const top = g.pmdsPerMm * ppt;
  const mm = mmIndexArb(g);
  const cpu = cpuIndexArb(g);
  const vpn = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: top - 1 }) },
    // near the start, the middle or the end of a table: folio and table boundaries
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), fc.constantFrom(0, 1, ppt / 2 - 1, ppt / 2, ppt - 2, ppt - 1))
        .map(([i, off]) => i * ppt + off),
    },
    // Two hot pages inside the second table (not on a folio or table boundary) that many ops
    // revisit: bugs that need several ops on one page — a read fault, a migration and a store
    // from another CPU to the same address (MIGRC), or two folios mapped side by side — are
    // otherwise a few-in-a-thousand event with 64 pages to choose from.
    { weight: 3, arbitrary: fc.integer({ min: ppt + 5, max: ppt + 6 }) },
  );
  const nr = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 * ppt }) },
    { weight: 1, arbitrary: fc.constantFrom(ppt / 2, ppt, 2 * ppt) },
  );
  const order = fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: g.maxFolioOrder - 1 }) },
    { weight: 2, arbitrary: fc.constant(g.maxFolioOrder) },
  );
  const handle = fc.integer({ min: 0, max: g.maxHandles - 1 });
  const ops: Array<{ weight: number; arbitrary: fc.Arbitrary<Op> }> = [
    {
      weight: 6,
      arbitrary: fc.record({ kind: fc.constant('map'), mm, vpn, order, pmd: fc.boolean(), first: fc.integer({ min: 0, max: ppt - 1 }), count: fc.oneof(fc.constant(ppt), fc.integer({ min: 1, max: ppt })) }),
    },
    // MAP_POPULATE of a range: many folios in one op, so gathers fill and batches repeat in few ops
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('populate'), mm, vpn, nr, order }) },
    { weight: 9, arbitrary: fc.record({ kind: fc.constant('access'), cpu, mm, vpn, write: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('fork'), mm }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('zap'), mm, vpn, nr }) },
    // a zap across a table boundary (with the mremap shape below, it meets folios that span two tables)
    {
      weight: 1,
      arbitrary: fc
        .record({ mm, boundary: fc.integer({ min: 1, max: g.pmdsPerMm - 1 }), half: fc.integer({ min: 1, max: ppt }) })
        .map(({ mm: m, boundary, half }): Op => ({ kind: 'zap', mm: m, vpn: boundary * ppt - half, nr: 2 * half })),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit'), mm }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('mprotect'), mm, vpn, nr, writable: fc.boolean() }) },
    // mprotect of the hot pages: a write-protect between two stores to the same page is what a
    // missing or late mprotect() flush needs to show (the store through the stale writable entry)
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('mprotect'), mm, vpn: fc.constant(ppt + 5), nr: fc.integer({ min: 1, max: 2 }), writable: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('mremap'), mm, from: vpn, to: vpn, nr }) },
    // move one folio-sized, folio-aligned range so that it straddles a table boundary: the only
    // way a large folio's PTEs span two tables, where a PTE batch must stop at the table end
    {
      weight: 2,
      arbitrary: fc
        .record({
          mm,
          order: fc.integer({ min: 1, max: g.maxFolioOrder }),
          slot: fc.integer({ min: 0, max: top - 1 }),
          boundary: fc.integer({ min: 1, max: g.pmdsPerMm - 1 }),
          shift: fc.integer({ min: 1, max: ppt - 1 }),
        })
        .map(({ mm: m, order: k, slot, boundary, shift }): Op => {
          const nr = 1 << k;
          return { kind: 'mremap', mm: m, from: slot - (slot % nr), to: boundary * ppt - (shift % nr || 1), nr };
        }),
    },
    // move whole PMDs: both ends PMD-aligned and the length a multiple of the PMD size, so 6.12's
    // move_page_tables() moves PMD entries (move_normal_pmd() for a table, move_huge_pmd() for a
    // leaf) instead of PTEs; random addresses almost never line up like this
    {
      weight: 3,
      arbitrary: fc
        .record({ mm, src: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), dst: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), pmds: fc.integer({ min: 1, max: 2 }) })
        .map(({ mm: m, src, dst, pmds }): Op => ({ kind: 'mremap', mm: m, from: src * ppt, to: dst * ppt, nr: pmds * ppt })),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('migrate'), mm, vpn, count: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('freeTable'), mm, pmd: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }) }) },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('gup'), cpu, mm, vpn, nr, pin: fc.boolean(), write: fc.boolean(), fast: fc.boolean() }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('unpin'), handle }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('gupRead'), handle, index: fc.integer({ min: 0, max: ppt - 1 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('gupWrite'), handle, index: fc.integer({ min: 0, max: ppt - 1 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('walkBegin'), cpu, mm, vpn, walker: fc.constantFrom('gupFast', 'pteOffsetMap'), pin: fc.boolean(), write: fc.boolean() }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('walkEnd'), cpu }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick') }) },
    // GFP_NOWAIT failures (row 20): the next zap or table free meets a batch page it cannot have
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nowaitFail'), nr: fc.integer({ min: 1, max: 3 }) }) },
    // Physical memory (issue 12 item 4): holes next to where folios land, allocation not first-fit
    { weight: 1, arbitrary: physMemOpArb(g) },
  ];
  if (options.interleave === true) ops.push(...scheduleOps(g, mm, cpu));
  return fc.oneof(...ops);
}

/**
 * The schedule ops, and zaps of the hot pages: a race in a zap window needs a `preempt` right
 * before a zap and a second op on the same pages while it is in flight (another zap, a load from
 * a CPU that still holds the translation), which random addresses over 64 pages rarely give.
 * Appended after the default choices so the default arbitrary stays exactly as it was.
 */
function scheduleOps(g: Geometry, mm: fc.Arbitrary<number>, cpu: fc.Arbitrary<number>): Array<{ weight: number; arbitrary: fc.Arbitrary<Op> }> {
  const ppt = g.ptrsPerPte;
  // Points a zap of a few tables passes: one per table it changes, and one before tlb_finish_mmu().
  const points = fc.integer({ min: 1, max: 4 });
  return [
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('preempt'), cpu, at: points }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('resume'), cpu, points }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('zap'), mm, vpn: fc.constant(ppt + 5), nr: fc.integer({ min: 1, max: 2 }) }) },
    // Loads and stores of a hot page: a CPU that holds its translation when a zap of it is preempted
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('access'), cpu, mm, vpn: fc.constant(ppt + 5), write: fc.boolean() }) },
    // Rarely, a GUP-fast walk of a hot page that stops before its grab (its read → grab window).
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('walkBegin'),
        cpu,
        mm,
        vpn: fc.constant(ppt + 5),
        walker: fc.constant('gupFast'),
        pin: fc.boolean(),
        write: fc.boolean(),
        stop: fc.constant('grab'),
      }),
    },
  ];
}

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
function preemptedZapArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      at: fc.integer({ min: 1, max: 2 }),
      mm: mmIndexArb(g),
      nr: fc.oneof(fc.integer({ min: 1, max: 2 }), fc.constant(ppt)),
      // One zap chunk in four: the CPU that stores first and loads inside the window.
      nested: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: cpuIndexArb(g) }),
    })
    .map(({ cpu, at, mm, nr, nested }): Op[] =>
      nested === null
        ? [
            { kind: 'preempt', cpu, at },
            { kind: 'zap', mm, vpn: ppt + 5, nr },
          ]
        : [
            { kind: 'access', cpu: nested, mm, vpn: ppt + 5, write: true },
            { kind: 'preempt', cpu, at },
            { kind: 'zap', mm, vpn: ppt + 5, nr },
            { kind: 'zap', mm, vpn: ppt + 5, nr: 1 },
            { kind: 'access', cpu: nested, mm, vpn: ppt + 5, write: false },
          ],
    );
}

/**
 * A migration that runs as a preempted task: `preempt` right before a migration of the hot page
 * (one folio: 'migrate: folio unmapped' is its first point, 'migrate: folio copied, before
 * remove_migration_ptes()' its second). Its races — a fault on the entry, a store through a
 * translation the batch has not flushed yet — need the hot page's loads and stores around it,
 * which the schedule ops already bring.
 */
function preemptedMigrateArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      // Mostly the later point: the copy is done and the entry still in place.
      at: fc.oneof({ weight: 1, arbitrary: fc.constant(1) }, { weight: 3, arbitrary: fc.constant(2) }),
      mm: mmIndexArb(g),
      // A store first, so that some CPU holds a writable, dirty translation the batch must flush.
      storeCpu: fc.option(cpuIndexArb(g), { nil: null }),
    })
    .map(({ cpu, at, mm, storeCpu }): Op[] => [
      ...(storeCpu === null ? [] : [{ kind: 'access', cpu: storeCpu, mm, vpn: ppt + 5, write: true } as const]),
      { kind: 'preempt', cpu, at },
      { kind: 'migrate', mm, vpn: ppt + 5, count: 1 },
    ]);
}

/**
 * A load or store whose fault runs as a preempted task: `preempt` right before an access to the
 * hot page. It is a task only when its fault finds the PTE empty; the race is a second fault on
 * the page (a hot-page access from another CPU) before it takes the PTL.
 */
function preemptedFaultArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      storeCpu: cpuIndexArb(g),
      mm: mmIndexArb(g),
      write: fc.boolean(),
    })
    .map(({ cpu, storeCpu, mm, write }): Op[] => [
      { kind: 'preempt', cpu, at: 1 },
      { kind: 'access', cpu: storeCpu, mm, vpn: ppt + 5, write },
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
function preemptedCowArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  const hot = ppt + 5;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      storeCpu: cpuIndexArb(g),
      rivalCpu: cpuIndexArb(g),
      mm: mmIndexArb(g),
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
function preemptedGupArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  const hot = ppt + 5;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      gupCpu: cpuIndexArb(g),
      mm: mmIndexArb(g),
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
function preemptedWriterArb(g: Geometry, fork: boolean): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  return fc
    .record({
      cpu: cpuIndexArb(g),
      at: fork ? fc.integer({ min: 1, max: 2 }) : fc.integer({ min: 1, max: 3 }),
      mm: mmIndexArb(g),
      nr: fc.integer({ min: 1, max: 2 }),
      writable: fc.boolean(),
      // fork: always a whole GUP-fast pin walk inside the window; mprotect: sometimes.
      walk: fork
        ? fc.record({ cpu: cpuIndexArb(g), write: fc.boolean(), stop: walkStopArb })
        : fc.option(fc.record({ cpu: cpuIndexArb(g), write: fc.boolean(), stop: walkStopArb }), { nil: null }),
    })
    .map(({ cpu, at, mm, nr, writable, walk }): Op[] => [
      { kind: 'preempt', cpu, at },
      fork ? { kind: 'fork', mm } : { kind: 'mprotect', mm, vpn: ppt + 5, nr, writable },
      // Sometimes a whole GUP-fast pin walk of the hot page inside the window (see pinWalkArb()).
      ...(walk === null
        ? []
        : ([
            { kind: 'walkBegin', cpu: walk.cpu, mm, vpn: ppt + 5, walker: 'gupFast', pin: true, write: walk.write, ...walk.stop },
            { kind: 'walkEnd', cpu: walk.cpu },
          ] satisfies Op[])),
    ]);
}

/**
 * A whole GUP-fast walk of a hot page with FOLL_PIN, begun and ended back to back: inside a
 * fork's window it is the walk `mm->write_protect_seq` must keep off the page fork is sharing
 * (two independent walkBegin/walkEnd draws on one CPU around a preempted fork rarely line up).
 */
function pinWalkArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  return fc
    .record({ cpu: cpuIndexArb(g), mm: mmIndexArb(g), write: fc.boolean(), stop: walkStopArb })
    .map(({ cpu, mm, write, stop }): Op[] => [
      { kind: 'walkBegin', cpu, mm, vpn: ppt + 5, walker: 'gupFast', pin: true, write, ...stop },
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
function grabWindowArb(g: Geometry): fc.Arbitrary<Op[]> {
  const ppt = g.ptrsPerPte;
  const hot = ppt + 5;
  return fc
    .record({
      walkCpu: cpuIndexArb(g),
      storeCpu: fc.option(cpuIndexArb(g), { nil: null }),
      rivalCpu: cpuIndexArb(g),
      mm: mmIndexArb(g),
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

/** Sequences of 1..maxOps ops; size 'max' so lengths spread over the whole range (the default size keeps them near 10). */
export function opsArb(g: Geometry, maxOps: number, options: OpArbOptions = {}): fc.Arbitrary<Op[]> {
  if (options.interleave !== true) return fc.array(opArb(g, options), { minLength: 1, maxLength: maxOps, size: 'max' });
  const chunk = fc.oneof(
    { weight: 12, arbitrary: opArb(g, options).map((op) => [op]) },
    { weight: 3, arbitrary: preemptedZapArb(g) },
    { weight: 1, arbitrary: preemptedMigrateArb(g) },
    { weight: 1, arbitrary: preemptedFaultArb(g) },
    { weight: 1, arbitrary: preemptedWriterArb(g, false) },
    { weight: 1, arbitrary: preemptedWriterArb(g, true) },
    { weight: 1, arbitrary: pinWalkArb(g) },
    { weight: 1, arbitrary: preemptedCowArb(g) },
    { weight: 1, arbitrary: preemptedGupArb(g) },
    { weight: 1, arbitrary: grabWindowArb(g) },
  );
  return fc.array(chunk, { minLength: 1, maxLength: maxOps, size: 'max' }).map((chunks) => chunks.flat().slice(0, maxOps));
}
