import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptRanges } from './rangeCounts';
import type { CoverageRange } from './rangeCounts';
import { compiledScripts } from './scriptSource';
import type { CompiledScript } from './scriptSource';
import { variantLines } from './variantLines';
import type { VariantLines } from './variantLines';

export type { VariantLines } from './variantLines';

/** Line coverage of the current thread, from V8's precise block coverage. */
export interface LineCoverage {
  /**
   * The lines of `file` that never ran since coverage started. `file` must have been loaded in
   * this thread (imported through tsx, or as plain JavaScript) after `startLineCoverage()`.
   */
  take(file: string): Promise<VariantLines>;
  /** Stop collecting and detach from V8; the LineCoverage cannot be used afterwards. */
  stop(): Promise<void>;
}

/** Coverage V8 has handed over for one script so far. */
interface Script {
  readonly url: string;
  /** One entry per `takePreciseCoverage`: each take resets V8's counters, so counts add up across them. */
  readonly snapshots: CoverageRange[][];
  compiled?: CompiledScript;
}

/**
 * Start counting, in V8, every block of code this thread runs. Call it before the variant is
 * imported: V8 counts from here on, and only code compiled after the start gets block-level
 * counts for sure. `session.connect()` attaches to the isolate of the calling thread, so in a
 * worker_threads Worker this counts the worker's code (and only it), in the main thread the main
 * thread's. `callCount` gives real counts rather than "ran or not"; `detailed` asks for block
 * ranges, without which a method that ran once would hide every branch inside it that did not.
 */
export async function startLineCoverage(): Promise<LineCoverage> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const scripts = new Map<string, Script>();
  let stopped = false;

  const collect = (result: readonly Profiler.ScriptCoverage[]): void => {
    for (const sc of result) {
      if (!sc.url.startsWith('file:')) continue; // Node's own modules and eval'd code are never a variant
      const known = scripts.get(sc.scriptId) ?? { url: sc.url, snapshots: [] };
      known.snapshots.push(scriptRanges(sc));
      scripts.set(sc.scriptId, known);
    }
  };

  return {
    async take(file: string): Promise<VariantLines> {
      if (stopped) throw new Error('line coverage was stopped');
      collect((await session.post('Profiler.takePreciseCoverage')).result);
      const path = canonical(resolve(file));
      const mine = [...scripts.entries()].filter(([, s]) => canonical(urlPath(s.url)) === path);
      if (mine.length === 0) throw new Error(`'${file}' was not loaded in this thread since line coverage started`);
      const missing = new Set(mine.filter(([, s]) => s.compiled === undefined).map(([id]) => id));
      if (missing.size > 0) for (const [id, c] of await compiledScripts(session, missing)) scripts.get(id)!.compiled = c;
      const runs = mine.flatMap(([, s]) => (s.compiled === undefined ? [] : [{ compiled: s.compiled, snapshots: s.snapshots }]));
      return variantLines(path, readFileSync(path, 'utf8'), runs);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await session.post('Profiler.stopPreciseCoverage');
      await session.post('Profiler.disable');
      session.disconnect();
    },
  };
}

/** A script URL's file path: loaders may add a query (tsx's namespaces do) that is no part of the file. */
const urlPath = (url: string): string => fileURLToPath(url.replace(/[?#].*$/s, ''));

/** Node loads modules by their real path, so compare real paths, not the spelling the caller used. */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
