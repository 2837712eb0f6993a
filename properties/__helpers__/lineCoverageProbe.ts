import { loadKernel } from '../../src/cli/loadKernel';
import { geometry } from '../../models/machine/geometry';
import { runCheck } from '../../src/check/runCheck';
import { startLineCoverage } from '../../src/variants/lineCoverage';
import type { LineCoverage, VariantLines } from '../../src/variants/lineCoverage';

/**
 * Start line coverage, then bring the variant in the way the check's worker does: `check` loads
 * it and runs a short check in this thread; `load-only` loads it (which builds one instance) and
 * runs nothing of its methods. Returns the variant's lines as take() reports them. (The CLI's
 * own report of them is tested in properties/verdicts.test.ts.)
 */
export async function probeLineCoverage(mode: string, variant: string, failures: string): Promise<VariantLines> {
  const coverage = await startLineCoverage();
  try {
    if (mode === 'check') {
      const kernel = await loadKernel(variant);
      const r = runCheck({ kernel: kernel.make, geometry: geometry('small'), runs: 30, seed: 1, maxOps: 60 });
      if (r.failure !== null || r.flaky !== null) throw new Error(`the check of ${variant} failed (failures folder ${failures})`);
    } else {
      await loadKernel(variant);
    }
    return await coverage.take(variant);
  } finally {
    await coverage.stop();
  }
}

/** What take() says about `file` in this thread: its lines, or the error it throws. */
export async function takeOutcome(coverage: LineCoverage, file: string): Promise<{ lines: VariantLines } | { error: string }> {
  try {
    return { lines: await coverage.take(file) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    await coverage.stop();
  }
}
