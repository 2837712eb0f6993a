import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The C runtime's directory (src/conform/c). */
export const C_DIR = join(import.meta.dirname, '..', '..', 'src', 'conform', 'c');
const THP_DIR = '/sys/kernel/mm/transparent_hugepage';
const LOCK = '/run/lock/mmcheck-conform.lock';

/** Why the runtime cannot run here, or null when it can. */
export function whyNoRealKernel(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (pagemap frame numbers, kpageflags and THP sysfs need it)';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'no gcc on PATH';
  if (!existsSync(join(THP_DIR, 'hugepages-2048kB', 'enabled'))) return `no ${THP_DIR}/hugepages-2048kB/enabled`;
  try {
    accessSync('/proc/kpageflags', constants.R_OK);
  } catch {
    return '/proc/kpageflags is not readable';
  }
  return null;
}

/** Compile interpreter.c (which includes runtime.c) with the flags the brief fixes; returns the binary. */
export function compileInterpreter(): string {
  const bin = join(mkdtempSync(join(tmpdir(), 'mmcheck-crt-')), 'interpreter');
  execFileSync('gcc', ['-O1', '-Wall', '-Wextra', '-Werror', '-pthread', join(C_DIR, 'interpreter.c'), '-o', bin], { stdio: 'pipe' });
  return bin;
}

/** One `obs` line. */
export interface Obs {
  readonly step: number;
  readonly mm: number;
  readonly vpn: number;
  readonly pfn: number;
  readonly map: number;
  readonly excl: number;
  readonly thp: number;
  readonly order: number;
  readonly zero: number;
  readonly val: number;
  readonly head: number;
}

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: readonly string[];
  readonly stderr: string;
}

/** Run the interpreter on a program (one command per line) to its end. */
export function run(bin: string, program: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, lines: out.split('\n').filter((l) => l !== ''), stderr: err }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${program.join('\n')}\n`);
  });
}

/** `step S …` results of one step. */
export const results = (r: Run, step: number): string[] =>
  r.lines.filter((l) => l.startsWith(`step ${step} `)).map((l) => l.slice(`step ${step} `.length));

/** The `obs` lines of one step. */
export function observed(r: Run, step: number): Obs[] {
  return r.lines
    .filter((l) => l.startsWith(`obs ${step} `))
    .map((l) => {
      const w = l.split(' ');
      const kv = new Map(w.slice(4).map((x) => x.split('=') as [string, string]));
      const n = (k: string): number => {
        const v = kv.get(k);
        if (v === undefined) throw new Error(`no ${k}= in ${l}`);
        return Number(v);
      };
      return {
        step,
        mm: Number((w[2] ?? '').slice(2)),
        vpn: Number(w[3]),
        pfn: n('pfn'),
        map: n('map'),
        excl: n('excl'),
        thp: n('thp'),
        order: n('order'),
        zero: n('zero'),
        val: n('val'),
        head: n('head'),
      };
    });
}

/** The page `vpn` of `mm` in an observation, or undefined when it is not present. */
export const page = (obs: readonly Obs[], mm: number, vpn: number): Obs | undefined => obs.find((o) => o.mm === mm && o.vpn === vpn);

/** A running interpreter fed line by line, for tests that act while it waits on stdin. */
export class LiveRun {
  private out = '';
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(bin: string) {
    this.child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on('data', () => undefined);
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  send(lines: readonly string[]): void {
    this.child.stdin.write(`${lines.join('\n')}\n`);
  }

  /** Wait (event-driven, bounded) until the output has `line`. */
  async until(line: string): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (this.out.split('\n').includes(line)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no "${line}" in the runtime's output: ${this.out.slice(0, 500)}`);
  }
}

/** Every per-size THP `enabled` setting (the bracketed word), read directly. */
export function thpNow(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of readdirSync(THP_DIR).filter((n) => n.startsWith('hugepages-')).sort()) {
    const f = join(THP_DIR, d, 'enabled');
    if (!existsSync(f)) continue;
    out.set(d, /\[(\w+)\]/.exec(readFileSync(f, 'utf8'))?.[1] ?? '?');
  }
  return out;
}

/**
 * The settings read while holding the runtime's lock (flock(1)), so never in the middle of
 * another run: what every run finds at its start and must leave behind.
 */
export function thpAtRest(): Map<string, string> {
  const files = [...thpNow().keys()].map((d) => join(THP_DIR, d, 'enabled'));
  const text = execFileSync('flock', [LOCK, 'cat', ...files], { encoding: 'utf8' });
  const words = text.split('\n').filter((l) => l !== '').map((l) => /\[(\w+)\]/.exec(l)?.[1] ?? '?');
  return new Map([...thpNow().keys()].map((d, i) => [d, words[i] ?? '?']));
}

/** Processes still running the binary (zombies have no exe link and do not count). */
export function processesOf(bin: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${d}/exe`) === bin) pids.push(Number(d));
    } catch {
      // gone, a zombie, or a kernel thread
    }
  }
  return pids;
}

/** Wait (bounded) until no process runs the binary: SIGKILLed mms take a moment to go. */
export async function noneLeft(bin: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (processesOf(bin).length === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`processes of ${bin} outlived the coordinator: ${processesOf(bin).join(' ')}`);
}
