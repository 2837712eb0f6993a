import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { REPO, writeTempVariant } from './__helpers__/tempVariant';

/**
 * How a reviewer checks a patch against 6.15 (docs/fidelity/reuse.md): a variant extending
 * batched-6.15 is compared with reference-6.15, chosen by class (models/specFor.ts), and the
 * check says so. A variant that drops 6.15's MM_ID test (`__wp_can_reuse_large_anon_folio()`,
 * mm/memory.c) fails; one that changes nothing holds (against the 6.12 reference it would not:
 * properties/cowReuse615.test.ts).
 */
const failures = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-615-failures-'));
const variant = (name: string, body: string): string =>
  writeTempVariant(
    `${name}.ts`,
    `import type { MmId, Pfn } from '${REPO}/models/machine/ids';\nimport type { Machine } from '${REPO}/models/machine/state';\nimport { folioAt } from '${REPO}/models/machine/frames';\nimport { Batched615 } from '${REPO}/models/v615/Batched615';\nexport default class V extends Batched615 {\n  override readonly name: string = '${name}';\n${body}}\n`,
  );

describe('mmcheck check on a variant of batched-6.15', () => {
  it('runs it against reference-6.15 and holds when the patch keeps the rule', async () => {
    const file = variant('same-rule', `  override wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, mm: MmId): boolean {\n    return super.wpCanReuseLargeAnonFolio(m, head, mm);\n  }\n`);
    const r = await runCli(['check', '--kernel', file, '--runs', '60', '--seed', '1', '--quiet', '--failures', failures()]);
    expect(r.err).toBe('');
    expect(r.out).toContain('kernel same-rule against the reference (reference-6.15)');
    expect(r.out).toContain('HOLDS');
    expect(r.code).toBe(0);
  }, 120_000);

  it('fails a patch that reuses on folio-wide counts alone', async () => {
    const file = variant('counts-only', `  override wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, _mm: MmId): boolean {\n    const f = folioAt(m, head);\n    return f.largeMapcount > 1 && f.largeMapcount === f.refcount;\n  }\n`);
    const r = await runCli(['check', '--kernel', file, '--no-typecheck', '--runs', '300', '--seed', '1', '--quiet', '--failures', failures()]);
    expect(r.out).toContain('against the reference (reference-6.15)');
    expect(r.out).toContain('FAILED');
    expect(r.code).toBe(1);
  }, 120_000);
});
