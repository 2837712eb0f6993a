import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';

/**
 * Random user-level programs for `conform`: ops a program can do with system calls (userLevel.ts;
 * migration only where there are two NUMA nodes), in the realistic geometry. Addresses crowd into a few windows — the start of
 * the first table, both sides of the first PMD boundary — so that folios, forks, COW, pins and
 * remaps meet on the same pages within a short program; each program is short because every
 * one of them runs on the real kernel.
 */
export function userOpArb(g: Geometry): fc.Arbitrary<Op> {
  const ppt = g.ptrsPerPte;
  const top = g.pmdsPerMm * ppt;
  const mm = fc.integer({ min: 0, max: g.maxMms - 1 });
  const cpu = fc.integer({ min: 0, max: g.nrCpus - 1 });
  const vpn = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 31 }) },
    { weight: 2, arbitrary: fc.integer({ min: ppt - 16, max: ppt + 15 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: top - 1 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, ppt, 2 * ppt, 3 * ppt) },
  );
  const nr = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom(ppt, 2 * ppt) },
  );
  // Orders the kernel has for anonymous memory: 0, the mTHP sizes 2..8, the PMD size.
  const order = fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: 2, max: 5 }) },
    { weight: 1, arbitrary: fc.integer({ min: 6, max: g.maxFolioOrder - 1 }) },
    { weight: 2, arbitrary: fc.constant(g.maxFolioOrder) },
  );
  const handle = fc.integer({ min: 0, max: g.maxHandles - 1 });
  // the file pages the mappings below reach: from offsets 0, 8, 16 and the second PMD's worth
  const fileIndex = fc.oneof(fc.integer({ min: 0, max: 47 }), fc.integer({ min: ppt, max: ppt + 23 }));
  const ops: Array<{ weight: number; arbitrary: fc.Arbitrary<Op> }> = [
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('map'), mm, vpn, order, pmd: fc.boolean(), first: fc.integer({ min: 0, max: 7 }), count: fc.oneof(fc.constant(ppt), fc.integer({ min: 1, max: 8 })) }),
    },
    // MAP_POPULATE-style: whole folios on the unpopulated aligned chunks of a range (each a map)
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('populate'), mm, vpn, nr, order }) },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('access'), cpu, mm, vpn, write: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('fork'), mm }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit'), mm }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('zap'), mm, vpn, nr }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('mprotect'), mm, vpn, nr, writable: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('mremap'), mm, from: vpn, to: vpn, nr }) },
    // whole PMDs, so move_huge_pmd() and move_normal_pmd() run
    {
      weight: 1,
      arbitrary: fc
        .record({ mm, src: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), dst: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }) })
        .map(({ mm: m, src, dst }): Op => ({ kind: 'mremap', mm: m, from: src * ppt, to: dst * ppt, nr: ppt })),
    },
    // io_uring buffer registration (a FOLL_WRITE | FOLL_LONGTERM pin) and vmsplice() (a read-only get)
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('gup'), cpu, mm, vpn, nr, pin: fc.constant(true), write: fc.constant(true), fast: fc.constant(true) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('gup'), cpu, mm, vpn, nr, pin: fc.constant(false), write: fc.constant(false), fast: fc.constant(true) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin'), handle }) },
    // move_pages() to another node: left out (and counted) on a machine with one NUMA node
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('migrate'), mm, vpn, count: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('gupRead'), handle, index: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('gupWrite'), handle, index: fc.integer({ min: 0, max: 7 }) }) },
    // Files (issue 14): file 0 as a memfd, mapped MAP_SHARED or MAP_PRIVATE over the address
    // windows from a few offsets, so that mappings, pwrite, pread, fsync and truncate meet on the
    // same pages; file 1 (16K folios) is drawn too and left out, counted
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('mmapFile'),
        mm,
        vpn,
        nr: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.constant(16)),
        file: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
        pgoff: fc.constantFrom(0, 8, 16, ppt),
        shared: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('fileWrite'), file: fc.constant(0), index: fileIndex }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fileRead'), file: fc.constant(0), index: fileIndex }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('writeback'), file: fc.constant(0) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate'), file: fc.constant(0), from: fileIndex }) },
  ];
  return fc.oneof(...ops);
}

/** Programs of 1..maxOps user-level ops. */
export function userProgramArb(g: Geometry, maxOps: number): fc.Arbitrary<Op[]> {
  return fc.array(userOpArb(g), { minLength: 1, maxLength: maxOps, size: 'max' });
}
