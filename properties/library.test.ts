import { describe, expect, it } from 'vitest';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { MmuGather } from '../models/batched/mmuGather';
import type { Machine } from '../models/machine/state';
import { checkKernel } from '../src/lib/checkKernel';
import { expectCaught, expectHolds } from '../src/lib/vitest';
import * as lib from '../src/lib/index';

// The library in this process (the packed package is tried from outside in packageOutside.test.ts):
// the verdicts checkKernel() gives, and the messages the vitest assertions fail with.

class FreeFirst extends BatchedKernel {
  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmuFree(m, tlb);
    this.tlbFlushMmuTlbonly(m, tlb);
  }
}

/** A helper the kernel never calls: the check cannot say anything about it. */
class NeverCalled extends BatchedKernel {
  patchedHelper(): number {
    return 1;
  }
}

describe('checkKernel()', () => {
  it('HOLDS for the batched kernel, with the totals and the same sequences as runCheck for the seed', () => {
    const c = checkKernel(BatchedKernel, { runs: 40, seed: 7 });
    expect(c.verdict).toBe('HOLDS');
    expect(c.report.sequences).toBe(40);
    expect(c.text.split('\n')[0]).toBe('mmcheck: kernel batched against the reference, geometry small, seed 7, generation uniform');
    expect(c.text).toMatch(/\nHOLDS: no hazard/);
    const again = lib.runCheck({ kernel: () => new BatchedKernel(), geometry: lib.geometry('small'), runs: 40, seed: 7, maxOps: 60 });
    expect(again.steps).toBe(c.report.steps);
  });

  it('FAILED for a broken class, its text the counterexample trace, the failing step and how to replay it', () => {
    const c = checkKernel(FreeFirst, { runs: 400 });
    expect(c.verdict).toBe('FAILED');
    expect(c.methodCalls['tlbFlushMmu']).toBeGreaterThan(0);
    expect(c.text).toMatch(/\nFAILED: (free_with_stale_tlb|tlb_use_after_free) at step \d+/);
    expect(c.text).toMatch(/\ncounterexample: \d+ ops, shrunk from \d+ in \d+ steps/);
    // It keeps the inherited name 'batched', so it runs as batched+FreeFirst, as the CLI names it.
    expect(c.text).toContain('mmcheck: kernel batched+FreeFirst against the reference');
    expect(c.text).toMatch(/\nwhat step \d+ changed in (batched\+FreeFirst|reference):/);
    expect(c.text).toMatch(/\nreplay: seed 1, fast-check path "[\d:]+"; the ops as JSON: \[/);
  });

  it('NOT EXERCISED when a method the class defines is never called', () => {
    const c = checkKernel(NeverCalled, { runs: 20 });
    expect(c.verdict).toBe('NOT EXERCISED');
    expect(c.methodCalls).toEqual({ patchedHelper: 0 });
    expect(c.text).toContain('    ✗ patchedHelper 0');
  });

  it('takes a factory (nothing watched) and a realistic geometry by name', () => {
    const c = checkKernel(() => new BatchedKernel(), { runs: 3, geometry: 'realistic' });
    expect(c.verdict).toBe('HOLDS');
    expect(c.methodCalls).toEqual({});
    expect(c.report.geometry).toBe('realistic');
  });

  it('refuses a misspelled override before running anything', () => {
    class Typo extends BatchedKernel {
      tlbFlushMmmu(): void {}
    }
    expect(() => checkKernel(Typo, { runs: 1 })).toThrow(/tlbFlushMmmu\(\) is no kernel method \(closest: tlbFlushMmu/);
  });
});

describe('mmcheck/vitest', () => {
  it('expectHolds passes a kernel that holds and fails a broken one with the report as its message', () => {
    expect(expectHolds(BatchedKernel, { runs: 20 }).verdict).toBe('HOLDS');
    expect(() => expectHolds(FreeFirst, { runs: 400 })).toThrow(/FAILED: (free_with_stale_tlb|tlb_use_after_free)[\s\S]*counterexample:/);
  });

  it('expectCaught passes a broken kernel, and fails a kernel that holds or one caught by another code', () => {
    expect(expectCaught(FreeFirst, { runs: 400 }).verdict).toBe('FAILED');
    expect(() => expectCaught(BatchedKernel, { runs: 20 })).toThrow(/expected the check to fail, but it says HOLDS/);
    expect(() => expectCaught(FreeFirst, { runs: 400, codes: ['divergence'] })).toThrow(/expected a violation of divergence, got (free_with_stale_tlb|tlb_use_after_free)/);
  });
});

describe('the library index', () => {
  it('exports the kernels, the registry, the runner, the arbitraries and the oracles', () => {
    expect(lib.KERNELS.map((k) => k.name)).toContain('batched');
    expect(new lib.BatchedNoMigrc()).toBeInstanceOf(lib.BatchedKernel);
    expect(typeof lib.opArb).toBe('function');
    expect(typeof lib.auditLedger).toBe('function');
    expect(lib.GEOMETRY_NAMES).toEqual(['small', 'realistic']);
  });
});
