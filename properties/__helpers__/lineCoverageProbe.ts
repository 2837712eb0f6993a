import { loadKernel } from '../../src/cli/loadKernel';
import { main } from '../../src/cli/main';
import { startLineCoverage } from '../../src/variants/lineCoverage';
import type { LineCoverage, VariantLines } from '../../src/variants/lineCoverage';

/**
 * Start line coverage, then bring the variant in the way the CLI does: `check` runs it through a
 * short check; `load-only` loads it (which builds one instance) and runs nothing of its methods.
 * Returns the variant's lines as take() reports them.
 */
export async function probeLineCoverage(mode: string, variant: string, failures: string): Promise<VariantLines> {
  const coverage = await startLineCoverage();
  try {
    if (mode === 'check') {
      const code = await main(['check', '--kernel', variant, '--runs', '30', '--seed', '1', '--quiet', '--failures', failures]);
      if (code !== 0) throw new Error(`the check exited ${code}`);
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
