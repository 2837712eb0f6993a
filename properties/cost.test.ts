import { describe, expect, it } from 'vitest';
import { captureOutput } from './__helpers__/captureOutput';
import type { MmId } from '../models/machine/ids';
import type { Geometry } from '../models/machine/geometry';
import { geometry } from '../models/machine/geometry';
import type { Machine } from '../models/machine/state';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { MigrateUbc } from '../models/batched/migrate';
import { kernelEntry } from '../models/registry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { main } from '../src/cli/main';
import type { Measurement } from '../src/cost/measure';
import { measureWorkload } from '../src/cost/measure';
import { firstResultDifference } from '../src/cost/table';
import type { CostWorkload } from '../src/cost/workload';
import { resultsOf } from '../src/cost/workload';
import { WORKLOADS, selectWorkloads } from '../src/cost/workloads/index';

/**
 * The seeds' headline results, reproduced as counters (never as time) on the realistic geometry:
 * direction and rough size. Each workload also has to have done its job, so a kernel that did
 * nothing cannot pass for one that saved everything.
 */

const REALISTIC: Geometry = geometry('realistic');

/** Batched migration as mainline has it (one flush per migrate_pages() batch), MIGRC off: seed 002's "before". */
class BatchedWithoutMigrc extends BatchedKernel {
  override readonly name: string = 'batched-without-migrc';
  override setTlbUbcFlushPending(m: Machine, batch: MigrateUbc, mm: MmId, _writable: boolean, dirty: boolean): void {
    super.setTlbUbcFlushPending(m, batch, mm, true, dirty);
  }
}

const cache = new Map<string, Measurement>();
function measure(name: string, make: () => ReferenceKernel = () => new BatchedKernel()): Measurement {
  const k = make();
  const key = `${name}/${k.name}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const [w] = selectWorkloads([name]) as [CostWorkload];
  const m = measureWorkload(k, REALISTIC, w, { oracles: true });
  cache.set(key, m);
  return m;
}
const ref = (name: string): Measurement => measure(name, () => new ReferenceKernel());

describe('cost workloads on the realistic geometry', () => {
  it.each(WORKLOADS.map((w) => w.name))('%s runs cleanly on both kernels, with the same op results', (name) => {
    const r = ref(name);
    const b = measure(name);
    expect(r.violation).toBeNull();
    expect(b.violation).toBeNull();
    expect(r.verdict).toMatchObject({ ok: true });
    expect(b.verdict).toMatchObject({ ok: true });
    expect(firstResultDifference(r.results, b.results)).toBeNull();
  });

  it('seed 004: GUP of 512 pages of a PMD-mapped order-9 folio is 512 atomic refcount updates per page, 1 batched', () => {
    for (const m of [ref('gup-pmd-thp'), measure('gup-pmd-thp')]) expect(resultsOf(m.results, 'handle')[0]?.pages).toBe(512);
    expect(ref('gup-pmd-thp').stats.atomicRefUpdates).toBe(512);
    expect(measure('gup-pmd-thp').stats.atomicRefUpdates).toBe(1);
    // FOLL_PIN on a large folio updates _refcount and _pincount: two per call.
    expect(ref('gup-pin-pmd-thp').stats.atomicRefUpdates).toBe(1024);
    expect(measure('gup-pin-pmd-thp').stats.atomicRefUpdates).toBe(2);
  });

  it('GUP of a PTE-mapped order-9 folio: 6.12 (batched) grabs per page like the reference, batched-gup-runs (beyond 6.12) once', () => {
    const runs = (): ReferenceKernel => kernelEntry('batched-gup-runs').make();
    for (const name of ['gup-pte-thp', 'gup-pin-pte-thp']) {
      expect(measure(name, runs).violation).toBeNull();
      expect(firstResultDifference(ref(name).results, measure(name, runs).results)).toBeNull();
    }
    // gup_fast_pte_range(): try_grab_folio_fast(page, 1) per PTE.
    expect(measure('gup-pte-thp').stats.atomicRefUpdates).toBe(512);
    expect(measure('gup-pin-pte-thp').stats.atomicRefUpdates).toBe(1024);
    expect(measure('gup-pte-thp', runs).stats.atomicRefUpdates).toBe(1);
    expect(measure('gup-pin-pte-thp', runs).stats.atomicRefUpdates).toBe(2);
  });

  it('seed 000: zap of a PTE-mapped order-9 folio is 2 gather slots and 1 rmap call batched, 512 rmap calls per page', () => {
    const r = ref('zap-pte-mapped-thp').stats;
    const b = measure('zap-pte-mapped-thp').stats;
    expect(b.gatherSlots).toBe(2);
    expect(b.rmapCalls).toBe(1);
    expect(r.rmapCalls).toBe(512);
    expect(r.atomicRefUpdates).toBe(512);
    expect(b.atomicRefUpdates).toBe(1);
    // Every CPU touched the folio, so each flush reaches all 4: per page in the reference, once batched.
    expect(r.tlbFlushIpis).toBe(512 * 4);
    expect(b.tlbFlushIpis).toBe(4);
  });

  it('seed 000 / delayed rmap: a table of dirty shared file pages is zapped with one forced flush, the rmaps removed once per folio after it; the reference flushes per page', () => {
    const r = ref('zap-dirty-shared-file');
    const b = measure('zap-dirty-shared-file');
    expect(r.violation).toBeNull();
    expect(b.violation).toBeNull();
    expect(b.stats.tlbFlushCalls).toBe(1);
    expect(r.stats.tlbFlushCalls).toBe(512);
    expect(b.stats.rmapCalls).toBe(128); // one per order-2 folio
    expect(r.stats.rmapCalls).toBe(512);
    expect(b.verdict.ok && r.verdict.ok).toBe(true); // every folio still cached and dirty
    expect(b.stats.gatherSlots).toBe(256); // a "page + nr_pages" entry per folio
  });

  it('seed 002: read-mostly migration with MIGRC sends at most a third of the reference remote TLB flushes', () => {
    const r = ref('migrate-read-mostly');
    const b = measure('migrate-read-mostly');
    for (const m of [r, b]) {
      const migrated = resultsOf(m.results, 'migrated');
      expect(migrated).toHaveLength(24);
      expect(migrated.every((x) => x.folios === 16)).toBe(true);
    }
    expect(r.stats.tlbFlushIpis).toBeGreaterThan(0);
    expect(b.stats.tlbFlushIpis).toBeLessThanOrEqual(r.stats.tlbFlushIpis / 3);
    // MIGRC's own share, against batched migration without it (the seed's "before"): the seed saw ~1/4.
    const plain = measure('migrate-read-mostly', () => new BatchedWithoutMigrc());
    expect(plain.verdict).toMatchObject({ ok: true });
    expect(plain.stats.tlbFlushIpis).toBeLessThan(r.stats.tlbFlushIpis);
    expect(b.stats.tlbFlushIpis).toBeLessThanOrEqual(plain.stats.tlbFlushIpis / 2);
  });

  it('seed 001 / reclaim: TTU_BATCH_FLUSH flushes a list of clean-PTE pages once; written pages are flushed per folio before pageout, as in the reference', () => {
    const r = ref('reclaim-touched-pages');
    const b = measure('reclaim-touched-pages');
    for (const m of [r, b]) expect(resultsOf(m.results, 'reclaimed')).toEqual([{ kind: 'reclaimed', folios: 128 }]);
    expect(r.stats.tlbFlushCalls).toBe(128);
    expect(r.stats.tlbFlushIpis).toBe(128 * 4);
    expect(b.stats.tlbFlushCalls).toBe(1);
    expect(b.stats.tlbFlushIpis).toBe(4);
    // The same pages written first: every PTE is dirty, so try_to_unmap_flush_dirty() flushes
    // before each pageout and the deferral saves nothing on order-0 folios.
    const [w] = selectWorkloads(['reclaim-touched-pages']) as [CostWorkload];
    const written: CostWorkload = {
      ...w,
      name: 'reclaim-written-pages',
      build: (g) => {
        const ops = w.build(g);
        return { ...ops, setup: ops.setup.map((o) => (o.kind === 'access' ? { ...o, write: true } : o)) };
      },
    };
    const rw = measureWorkload(new ReferenceKernel(), REALISTIC, written, { oracles: true });
    const bw = measureWorkload(new BatchedKernel(), REALISTIC, written, { oracles: true });
    expect(bw.verdict).toMatchObject({ ok: true });
    expect(rw.stats.tlbFlushCalls).toBe(128);
    expect(bw.stats.tlbFlushCalls).toBe(128);
  });

  it('seed 003: freeing page tables sends no table-sync IPI and batches RCU callbacks', () => {
    const r = ref('free-page-tables').stats;
    const b = measure('free-page-tables').stats;
    expect(r.tablesFreed).toBe(16);
    expect(b.tablesFreed).toBe(16);
    expect(b.tableSyncIpis).toBe(0);
    expect(r.rcuCallbacksQueued).toBe(16);
    expect(b.rcuCallbacksQueued).toBeLessThan(r.rcuCallbacksQueued);
    // The counter is live: the "semi RCU" kernel IPIs every CPU for each single-table free.
    const semi = measure('free-page-tables', kernelEntry('semi-rcu-single-table').make);
    expect(semi.stats.tableSyncIpis).toBeGreaterThan(0);
  });

  it('fork of PTE-mapped order-9 folios: one ref update and one rmap call per batch', () => {
    const r = ref('fork-pte-mapped-thp').stats;
    const b = measure('fork-pte-mapped-thp').stats;
    expect(r.atomicRefUpdates).toBe(4 * 512);
    expect(r.rmapCalls).toBe(4 * 512);
    expect(b.atomicRefUpdates).toBe(4);
    expect(b.rmapCalls).toBe(4);
  });

  it('fork of a pinned PTE-mapped folio: the -EAGAIN fallback costs the batched kernel twice the atomic updates', () => {
    const r = ref('fork-pinned-pte-mapped-thp').stats;
    const b = measure('fork-pinned-pte-mapped-thp').stats;
    expect(r.pagesCopied).toBe(512);
    expect(b.pagesCopied).toBe(512);
    expect(b.atomicRefUpdates).toBe(2 * r.atomicRefUpdates);
  });
});

describe('mmcheck cost', () => {
  const io = captureOutput();

  it('prints one row per counter with the ratio, the description and the seed', async () => {
    expect(await main(['--no-color', 'cost', '--workload', 'zap-pte-mapped-thp'])).toBe(0);
    expect(io.out).toContain('seed 000');
    expect(io.out).toMatch(/rmap add\/remove calls\s+512\s+1\s+0\.00195 \(1\/512\)/);
    expect(io.out).toMatch(/mmu_gather slots\s+0\s+2\s+new/);
    expect(io.out).toContain('page tables freed');
  });

  it('an unknown workload exits 2 naming the valid ones', async () => {
    expect(await main(['cost', '--workload', 'gup-pmd-thp', 'nope'])).toBe(2);
    expect(io.err).toContain("unknown workload 'nope'; valid workloads: gup-pmd-thp, gup-pin-pmd-thp, zap-pte-mapped-thp, zap-dirty-shared-file, migrate-read-mostly");
  });
});
