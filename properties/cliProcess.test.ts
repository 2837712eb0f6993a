import { describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'mmcheck.js');
const variants = join(root, 'properties', 'fixtures', 'variants');
const scratch = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-proc-'));

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/**
 * Run mmcheck with its stdout on a pipe nobody reads any more: a FIFO whose only reader is closed
 * before the child starts, so its very first write fails with EPIPE (no race with the reader).
 */
async function runWithClosedStdout(args: readonly string[]): Promise<Exit> {
  const fifo = join(scratch(), 'out');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  closeSync(reader);
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', writer, 'pipe'], cwd: root });
  closeSync(writer);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code, signal) => r({ code, signal, stderr })));
}

describe('the mmcheck process', () => {
  it('exits 3 with one line on an internal error (the stack only with --debug)', () => {
    const throwing = join(variants, 'throwsInConstructor.ts');
    const plain = spawnSync(process.execPath, [bin, 'cost', '--kernel', throwing], { cwd: root, encoding: 'utf8' });
    expect(plain.status).toBe(3);
    expect(plain.stderr).toBe('mmcheck: internal error: variant set-up failed: no such table\n');
    const debug = spawnSync(process.execPath, [bin, '--debug', 'cost', '--kernel', throwing], { cwd: root, encoding: 'utf8' });
    expect(debug.status).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at new ThrowsInConstructor /);
  });

  it('`mmcheck models | head -1`: a closed pipe is no error — no stack trace, exit 0', async () => {
    expect(await runWithClosedStdout(['models'])).toEqual({ code: 0, signal: null, stderr: '' });
  });

  it('`mmcheck check … | head -1` on a failing kernel: exit 1 still, nothing on stderr, the counterexample saved', async () => {
    const dir = scratch();
    const r = await runWithClosedStdout(['check', '--kernel', join(variants, 'zapWithoutFlush.ts'), '--runs', '300', '--seed', '3', '--quiet', '--failures', dir]);
    expect(r).toEqual({ code: 1, signal: null, stderr: '' });
    expect(readdirSync(dir)).toEqual(['zap-without-flush-small-seed3.json']);
  });
});
