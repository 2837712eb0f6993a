import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { REPO, writeTempVariant } from './__helpers__/tempVariant';
import { reportSchema } from '../src/schema/report';

// A cost workload of your own, in a file beside your variants: `mmcheck cost --workload <file>`.

const EXAMPLE = join(REPO, 'docs', 'examples', 'zapHalfThpWorkload.ts');

describe('mmcheck cost --workload <file>', () => {
  it("runs the file's workload with the registered ones, every oracle on, and counts its work", async () => {
    const r = await runCli(['cost', '--workload', EXAMPLE, 'zap-pte-mapped-thp', '--reporter', 'json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const doc = reportSchema.parse(JSON.parse(r.out));
    if (doc.command !== 'cost') throw new Error(doc.command);
    expect(doc.data.workloads.map((w) => [w.name, w.clean])).toEqual([
      ['zap-half-thp', true],
      ['zap-pte-mapped-thp', true],
    ]);
    const rmap = (i: number): { reference: number; kernel: number } | undefined => doc.data.workloads[i]!.counters.find((c) => c.key === 'rmapCalls');
    // Half of a 512-page folio: the reference removes 256 rmaps one by one, the batched zap once.
    expect(rmap(0)).toMatchObject({ reference: 256, kernel: 1 });
    expect(rmap(1)).toMatchObject({ reference: 512, kernel: 1 });
  });

  it('the human table says the workload is your own rather than naming a seed', async () => {
    const r = await runCli(['cost', '--workload', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('zap-half-thp  (a workload of your own)');
    expect(r.out).toContain('  headline: half the PTEs of a large folio unmapped in one batch');
  });

  it.each([
    ['a file that exports no workload', "export const x = 1;\n", /^mmcheck: workload file '.*\/w\.ts' exports no cost workload: expected e\.g\. /],
    ['a workload named like a registered one', `import w from '${EXAMPLE.replace(/\.ts$/, '')}';\nexport default { ...w, name: 'zap-pte-mapped-thp' };\n`, /^mmcheck: workload file '.*\/w\.ts': 'zap-pte-mapped-thp' is the name of a registered workload; name yours differently\n$/],
    ['a file that does not type-check', "const n: number = 'x';\nexport default n;\n", /^mmcheck: workload .*\/w\.ts does not type-check \(1 error; --no-typecheck runs it anyway\):\n.*w\.ts:1:7: /],
  ])('%s: exit 2 with one message, nothing on stdout', async (_what, source, message) => {
    const file = writeTempVariant('w.ts', source);
    const r = await runCli(['cost', '--workload', file]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
  });

  it('an unknown name says a file may be given too', async () => {
    const r = await runCli(['cost', '--workload', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^mmcheck: unknown workload 'nope'; valid workloads: gup-pmd-thp, .*; or give a path to a workload file\n$/);
  });
});
