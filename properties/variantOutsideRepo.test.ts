import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { REPO, writeTempVariant } from './__helpers__/tempVariant';

// These run the real command in a child process: under vitest every file loads as an ES module,
// but under the CLI (tsx on Node's loader) a .ts file outside a `"type": "module"` package would
// load as CommonJS — the failure a reviewer's /tmp/v.ts ran into.

const failures = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-variant-failures-'));
const body = (name: string): string => `export default class V extends BatchedKernel {\n  override readonly name: string = '${name}';\n}\n`;

describe('a variant outside the repository', () => {
  it('importing BatchedKernel by absolute path loads, type-checks and runs, from its own directory', async () => {
    const file = writeTempVariant('v.ts', `import { BatchedKernel } from '${REPO}/models/batched/BatchedKernel';\n${body('tmp-absolute')}`);
    // cwd: the variant's directory, with no node_modules: tsc must come from mmcheck's root.
    const r = await runCli(['check', '--kernel', 'v.ts', '--runs', '10', '--seed', '1', '--quiet', '--failures', failures()], dirname(file));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('kernel tmp-absolute against the reference');
    expect(r.out).toContain('HOLDS');
  });

  it('importing it by a relative path with a .ts suffix loads and runs', async () => {
    const file = writeTempVariant('v.ts', (dir) => `import { BatchedKernel } from '${relative(dir, join(REPO, 'models', 'batched', 'BatchedKernel.ts'))}';\n${body('tmp-relative')}`);
    const r = await runCli(['check', '--kernel', file, '--runs', '10', '--seed', '1', '--quiet', '--failures', failures()]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('kernel tmp-relative against the reference');
  });

  it('with a syntax error (not type-checked) exits 2 with the file, line and column esbuild reports', async () => {
    const file = writeTempVariant('syntax.ts', `import { BatchedKernel } from '${REPO}/models/batched/BatchedKernel';\nexport default class S extends BatchedKernel {\n  f(): number {\n    return 1 +;\n  }\n}\n`);
    const r = await runCli(['check', '--kernel', file, '--no-typecheck', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`mmcheck: variant ${file}:4:14: syntax error: Unexpected ";"\n`);
  });
});
