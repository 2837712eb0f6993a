import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCounterexample } from '../src/counterexample/file';
import { main } from '../src/cli/main';

const root = join(import.meta.dirname, '..');

/** Wait (event-driven, bounded) until `cond` holds; no assertion depends on how long it took. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('an interrupted check', () => {
  it('SIGINT while shrinking leaves a complete, replayable failure file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-int-'));
    // A variant that fails at once and then shrinks slowly, so the SIGINT lands mid-shrink.
    const variant = join(root, 'properties', 'fixtures', 'variants', 'zapWithoutFlushSlowToShrink.ts');
    const child = spawn(process.execPath, [join(root, 'bin', 'mmcheck.js'), 'check', '--kernel', variant, '--runs', '500', '--seed', '3', '--quiet', '--failures', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    await until(() => out.includes('shrinking'), 'the first failure');
    child.kill('SIGINT');
    const { signal } = await exited;
    expect(signal).toBe('SIGINT'); // it was interrupted, not finished
    expect(out).not.toContain('counterexample:'); // shrinking had not ended
    // Ctrl-C is answered with the summary so far (the check runs in a worker; the main thread is free).
    expect(out).toMatch(/sequences {2}\d+ \(interrupted\)/);
    expect(out).toContain('INTERRUPTED');
    // (an interrupt between a temp write and its rename may leave a .tmp file; the .json is whole)
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const file = join(dir, files[0]!);
    const cx = readCounterexample(file);
    expect(cx.status).toBe('found');
    // What the unflushed zap leaves: a freed page under a TLB entry, or (the page still held) a
    // load through the stale entry that the reference faults instead. Which one the file holds
    // depends on how far shrinking got before the SIGINT (seed 3's first failure is a divergence).
    expect(['free_with_stale_tlb', 'divergence']).toContain(cx.violation.code);
    // and it replays: still failing, same violation
    const write = process.stdout.write.bind(process.stdout);
    let replayed = '';
    process.stdout.write = ((s: string) => ((replayed += s), true)) as typeof process.stdout.write;
    try {
      expect(await main(['replay', file])).toBe(1);
    } finally {
      process.stdout.write = write;
    }
    expect(replayed).toContain(`same violation: ${cx.violation.code}`);
  });
});
