import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MmId, Vpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { pmdAt, pmdStart, setPmd } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { OpResult } from '../models/result';
import { opsArb } from '../src/arbitraries/ops';
import type { Op } from '../src/ops/op';
import { CheckedRun, withDrain } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import { SMALL, toJson, violationOf } from './__helpers__/bench';
import { PIN_RO, PIN_RO_FAST, PIN_RW, GET_RO, op } from './__helpers__/ops';

/**
 * The differential oracle (design §5.4) and determinism (design §7): the reference agrees with
 * itself on varied fixed sequences, a kernel that behaves differently is caught with the path of
 * the first difference, and the same ops always give the same trace.
 */

const THP = SMALL.maxFolioOrder;
const PPT = SMALL.ptrsPerPte;

/** Fixed sequences touching every op kind; `probe` names a step whose result shows the path really ran. */
const SEQUENCES: ReadonlyArray<{ readonly name: string; readonly ops: readonly Op[]; readonly probe: { readonly step: number; readonly result: OpResult } }> = [
  {
    name: 'COW of a PMD-mapped THP across fork, then zap and exit',
    ops: [
      op.map(0, 0, THP, { pmd: true }),
      op.write(0, 0, 3),
      op.fork(0),
      op.write(1, 0, 3),
      op.read(2, 1, 3),
      op.write(2, 1, 5),
      op.zap(0, 0, PPT / 2),
      op.exit(1),
      op.read(0, 0, 3),
    ],
    probe: { step: 4, result: { kind: 'value', value: 2 } },
  },
  {
    name: 'migration of exclusive and shared folios, with reads after',
    ops: [
      op.map(0, PPT, 2),
      op.write(0, 0, PPT + 1),
      op.migrate(0, PPT, 1),
      op.read(1, 0, PPT + 1),
      op.fork(0),
      op.migrate(1, PPT, 2),
      op.read(2, 1, PPT + 1),
      op.map(0, 2 * PPT, THP, { pmd: true }),
      op.migrate(0, 2 * PPT, 1),
    ],
    probe: { step: 2, result: { kind: 'migrated', folios: 1 } },
  },
  {
    name: 'GUP get and pin, device reads and writes, fork of pinned pages, unpin',
    ops: [
      op.map(0, 0, 2),
      op.gup(0, 0, 0, 4, PIN_RW),
      op.gupWrite(0, 1),
      op.fork(0),
      op.gup(1, 1, 0, 2, PIN_RO_FAST),
      op.gup(2, 0, 2, 2, GET_RO),
      op.gupRead(1, 0),
      op.read(1, 1, 1),
      op.unpin(0),
      op.gup(0, 0, 0, 1, PIN_RO),
      op.gupRead(2, 0),
    ],
    probe: { step: 7, result: { kind: 'value', value: 3 } },
  },
  {
    name: 'lockless walkers in flight while tables are reclaimed',
    ops: [
      op.map(0, 0, 0),
      op.map(0, PPT, 1),
      op.walkBegin(1, 0, 0, 'pteOffsetMap'),
      op.walkBegin(2, 0, PPT, 'gupFast', true, false),
      op.zap(0, 0, 2 * PPT),
      op.freeTable(0, 0),
      op.freeTable(0, 1),
      op.tick(),
      op.walkEnd(2),
      op.tick(),
      op.walkEnd(1),
      op.tick(),
    ],
    probe: { step: 5, result: { kind: 'done' } },
  },
  {
    name: 'mprotect and mremap of a partly mapped THP, stores into read-only memory',
    ops: [
      op.map(0, 0, THP, { pmd: true }),
      op.mprotect(0, 2, 4, false),
      op.write(0, 0, 3),
      op.mprotect(0, 2, 4, true),
      op.write(0, 0, 3),
      op.mremap(0, 8, 40, 8),
      op.read(1, 0, 40),
      op.fork(0),
      op.mprotect(1, 0, PPT, false),
      op.write(2, 1, 1),
    ],
    probe: { step: 2, result: { kind: 'segv' } },
  },
];

describe('differential: the reference against itself', () => {
  it.each(SEQUENCES)('agrees with itself after every op: $name', ({ ops, probe }) => {
    const outcome = runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, ops);
    expect(violationOf(outcome)).toBeNull();
    expect(outcome.steps).toHaveLength(ops.length + 1);
    expect(outcome.steps[probe.step]!.applied.result).toEqual(probe.result);
  });
});

/** migrate_pages() that migrates nothing (every folio "busy"). */
class MigratesNothing extends ReferenceKernel {
  override readonly name = 'migrates-nothing';
  override migratePages(): OpResult {
    return { kind: 'migrated', folios: 0 };
  }
}

/** A read fault maps the new private page writable and dirty: internally consistent (the page is exclusive), but not what the reference does. */
class ReadFaultMapsWritable extends ReferenceKernel {
  override readonly name = 'read-fault-maps-writable';
  override doAnonymousPage(m: Machine, mm: MmId, v: Vpn): void {
    super.doAnonymousPage(m, mm, v, true);
  }
}

/** Reclaims empty PTE tables (unlinks and flushes them) but never frees them: a leak only the free-frame count shows. */
class LeaksReclaimedTables extends ReferenceKernel {
  override readonly name = 'leaks-reclaimed-tables';
  override reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table' || !this.tableIsEmpty(m, pmd.table)) return { kind: 'noop', reason: 'nothing to reclaim' };
    setPmd(m, mm, i, { kind: 'none' });
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
    return { kind: 'done' };
  }
}

describe('differential: a different kernel is caught with the path of the first difference', () => {
  it('a migrate_pages() that migrates nothing diverges on the migrate result', () => {
    const ops = [op.map(0, 0, 0), op.write(0, 0, 0), op.migrate(0, 0, 1), op.read(0, 0, 0)];
    expect(violationOf(runOps(new MigratesNothing(), SMALL, ops))).toBeNull(); // alone it breaks no per-kernel oracle
    expect(violationOf(runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, ops))).toBeNull();
    expect(violationOf(runDifferential(new ReferenceKernel(), new MigratesNothing(), SMALL, ops))).toEqual({
      code: 'divergence',
      step: 2,
      path: 'result.folios',
      reference: '1',
      other: '0',
    });
  });

  it('a read fault that maps its page writable diverges on the PTE it installed', () => {
    const ops = [op.read(0, 0, 3), op.read(0, 0, 3)];
    expect(violationOf(runOps(new ReadFaultMapsWritable(), SMALL, ops))).toBeNull();
    expect(violationOf(runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, ops))).toBeNull();
    expect(violationOf(runDifferential(new ReferenceKernel(), new ReadFaultMapsWritable(), SMALL, ops))).toEqual({
      code: 'divergence',
      step: 0,
      path: 'state.mms.0.pmds.0.3',
      reference: '"s0.1/0"',
      other: '"s0.1/0 w"',
    });
  });

  it('a kernel that leaks reclaimed page tables diverges only on the free-frame count after drain', () => {
    const ops = [op.map(0, 0, 0), op.zap(0, 0, 1), op.freeTable(0, 0)];
    expect(violationOf(runOps(new LeaksReclaimedTables(), SMALL, ops))).toBeNull();
    expect(violationOf(runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, ops))).toBeNull();
    const v = violationOf(runDifferential(new ReferenceKernel(), new LeaksReclaimedTables(), SMALL, ops));
    expect(v).toMatchObject({ code: 'divergence', step: 3, path: 'state.freeFrames' });
    if (v?.code !== 'divergence') throw new Error('expected a divergence');
    expect(Number(v.reference) - Number(v.other)).toBe(1);
  });
});

/** Everything a run shows: every step's op, result or violation, then the whole final machine (TLBs included). */
function trace(ops: readonly Op[]): string {
  const run = new CheckedRun(new ReferenceKernel(), SMALL);
  const lines = withDrain(ops).map((o, i) => {
    const r = run.step(o, i);
    return toJson('violation' in r ? { violation: r.violation } : r.applied);
  });
  lines.push(toJson(run.machine));
  return lines.join('\n');
}

describe('determinism', () => {
  it.each(SEQUENCES)('the same ops give byte-identical traces and machines: $name', ({ ops }) => {
    const a = trace(ops);
    expect(a).toContain('"stats"');
    expect(trace(ops)).toBe(a);
  });

  it('the same ops give byte-identical traces, for generated sequences (fixed seed)', () => {
    fc.assert(
      fc.property(opsArb(SMALL, 40), (ops) => {
        expect(trace(ops)).toBe(trace(ops));
      }),
      { seed: 20240601, numRuns: 40 },
    );
  });

  it('the same ops give identical differential outcomes', () => {
    for (const { ops } of SEQUENCES) {
      const run = () => toJson(runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, ops));
      expect(run()).toBe(run());
    }
  });
});
