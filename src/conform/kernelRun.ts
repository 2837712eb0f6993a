import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepObservation } from './observation';
import { parseKernelOutput, RuntimeError, RuntimeInterrupted } from './kernelOutput';
import { INTERPRETER_C, RUNTIME_C } from './runtimeSource';

export const GCC_FLAGS = ['-O1', '-Wall', '-Wextra', '-pthread'];

/** Compile a C file with gcc; throws RuntimeError with gcc's first lines on failure. */
export function compileC(source: string, out: string): void {
  const r = spawnSync('gcc', [...GCC_FLAGS, source, '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new RuntimeError(`gcc failed on ${source}: ${(r.stderr || r.error?.message || '').split('\n').slice(0, 5).join(' | ')}`);
}

/** The interpreter binary, compiled once per version of the runtime's source (cached under the temp dir). */
export function interpreterBinary(): string {
  const hash = createHash('sha256').update(readFileSync(RUNTIME_C)).update(readFileSync(INTERPRETER_C)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'mmcheck-conform');
  const bin = join(dir, `interpreter-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  compileC(INTERPRETER_C, tmp);
  renameSync(tmp, bin);
  return bin;
}

/**
 * Run a compiled program — the interpreter fed `input` on stdin, or an exported program with no
 * input — and parse what it printed; rejects with a RuntimeError when it failed on its own.
 */
export function runBinary(bin: string, input: string): Promise<StepObservation[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new RuntimeError(`running ${bin}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 130 || signal === 'SIGINT') {
        reject(new RuntimeInterrupted(`the runtime was interrupted (${code ?? signal})`));
        return;
      }
      try {
        const observed = parseKernelOutput(Buffer.concat(out).toString('utf8'));
        if (code !== 0) throw new RuntimeError(`the runtime exited with ${code ?? signal}: ${Buffer.concat(err).toString('utf8').split('\n').slice(0, 3).join(' | ')}`);
        resolve(observed);
      } catch (e) {
        reject(e instanceof Error ? e : new RuntimeError(String(e)));
      }
    });
    child.stdin.on('error', () => undefined); // a runtime that died early closes its stdin
    child.stdin.end(input);
  });
}
