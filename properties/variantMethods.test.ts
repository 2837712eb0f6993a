import { describe, expect, it } from 'vitest';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import type { MmuGather } from '../models/batched/mmuGather';
import type { Machine } from '../models/machine/state';
import { FreeBeforeFlush } from '../models/mutants/freeBeforeFlush';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { editDistance } from '../src/variants/editDistance';
import { kernelMethodNames, registeredBase, variantMethods } from '../src/variants/kernelMethods';
import { closestKernelMethods, looksMisspelled } from '../src/variants/misspelledOverrides';
import { parseTscDiagnostics } from '../src/variants/tscDiagnostics';
import ClaimsMutantName from './fixtures/variants/claimsMutantName';
import WithHelpers from './fixtures/variants/withHelpers';
import ZapWithoutFlushSlowToShrink from './fixtures/variants/zapWithoutFlushSlowToShrink';

class PatchedMutant extends FreeBeforeFlush {
  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    this.logFlush();
    super.tlbFlushMmu(m, tlb);
  }
  logFlush(): void {}
}
class NoMigrcVariant extends BatchedNoMigrc {}

describe('variantMethods', () => {
  it("splits a variant's own methods into kernel overrides and its helpers", () => {
    expect(variantMethods(WithHelpers)).toEqual({ overrides: ['tlbRemoveFolioPagesRaw'], helpers: ['countBatch', 'myHelper'] });
  });

  it('walks every class of a variant up to its registered base, each name once', () => {
    // ZapWithoutFlushSlowToShrink and its parent ZapWithoutFlush both define zapOnePte.
    expect(variantMethods(ZapWithoutFlushSlowToShrink)).toEqual({ overrides: ['zapOnePte'], helpers: [] });
  });

  it('stops at a registered mutant or BatchedNoMigrc, whose own methods are kernel methods', () => {
    expect(registeredBase(PatchedMutant)).toBe(FreeBeforeFlush);
    expect(registeredBase(ClaimsMutantName)).toBe(FreeBeforeFlush);
    expect(registeredBase(NoMigrcVariant)).toBe(BatchedNoMigrc);
    expect(variantMethods(PatchedMutant)).toEqual({ overrides: ['tlbFlushMmu'], helpers: ['logFlush'] });
    expect(variantMethods(NoMigrcVariant)).toEqual({ overrides: [], helpers: [] });
  });

  it('takes kernel methods from the whole prototype chain of the base it extends, and only that', () => {
    const batched = kernelMethodNames(BatchedKernel);
    expect(batched.has('tlbRemoveFolioPagesRaw')).toBe(true); // batched layer (gather.ts)
    expect(batched.has('zapOnePte')).toBe(true); // reference layer
    expect(batched.has('exitMm')).toBe(true); // ReferenceKernel itself
    expect(batched.has('constructor')).toBe(false);
    expect(kernelMethodNames(ReferenceKernel).has('tlbRemoveFolioPagesRaw')).toBe(false);
  });
});

describe('the misspelling rule', () => {
  const kernel = kernelMethodNames(BatchedKernel);

  it.each(['tlbRemoveFolioPageRaw', 'zapPresentPTEs', 'zapPresnetPtes', 'gupFastGrabs', 'drian'])('%s is taken for a misspelled override', (name) => {
    expect(looksMisspelled(name, kernel)).toBe(true);
  });

  it.each(['myHelper', 'countBatch', 'pick', 'record', 'flushAll', 'tlbFlushAll', 'shouldFlush', 'batchSize'])('%s is accepted as a helper', (name) => {
    expect(looksMisspelled(name, kernel)).toBe(false);
  });

  it('names the nearest kernel methods first', () => {
    expect(closestKernelMethods('tlbRemoveFolioPageRaw', kernel)[0]).toBe('tlbRemoveFolioPagesRaw');
    expect(closestKernelMethods('tlbRemoveFolioPageRaw', kernel)).toHaveLength(3);
  });

  it('counts an insertion, a substitution and a swap of neighbours as one edit each', () => {
    expect(editDistance('zapPresentPtes', 'zapPresentPte')).toBe(1);
    expect(editDistance('folioGet', 'folioPut')).toBe(2);
    expect(editDistance('zapPresnetPtes', 'zapPresentPtes')).toBe(1);
    expect(editDistance('', 'tick')).toBe(4);
  });
});

describe('tsc diagnostics', () => {
  it('keeps the located errors, skips elaboration lines, and makes paths absolute', () => {
    const out = [
      "../v.ts(3,12): error TS4117: This member cannot have an 'override' modifier. Did you mean 'tlbRemoveFolioPagesRaw'?",
      "/abs/w.ts(10,1): error TS2322: Type '{ a: number; }' is not assignable to type 'B'.",
      "  Property 'b' is missing in type '{ a: number; }' but required in type 'B'.",
      '',
    ].join('\n');
    expect(parseTscDiagnostics(out, '/tmp/cfg')).toEqual([
      { file: '/tmp/v.ts', line: 3, column: 12, code: 'TS4117', message: "This member cannot have an 'override' modifier. Did you mean 'tlbRemoveFolioPagesRaw'?" },
      { file: '/abs/w.ts', line: 10, column: 1, code: 'TS2322', message: "Type '{ a: number; }' is not assignable to type 'B'." },
    ]);
  });
});
