import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './tempVariant';

/** What one run of the real `mmcheck` command printed and returned. */
export interface CliRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/**
 * Run bin/mmcheck.js in a child process, as a user would: module loading there goes through
 * tsx and Node's loader, not vitest's, and that is what some tests are about.
 */
export function runCli(args: readonly string[], cwd: string = REPO): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'mmcheck.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
