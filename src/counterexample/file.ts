import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Violation } from '../../models/machine/violation';
import type { Op } from '../ops/op';
import { validateOp } from './validateOp';

/**
 * A counterexample as a file: everything needed to replay it without fast-check — the geometry,
 * the kernel and the reference it was checked against, the op list — plus the seed and replay
 * path it came from and the violation it produced.
 */
export interface Counterexample {
  readonly format: 'mmcheck-counterexample/1';
  readonly kernel: string;
  /** What `--kernel` was given: a registered name, or the absolute path of a variant file. */
  readonly kernelSpec: string;
  readonly geometry: string;
  readonly seed: number;
  readonly path: string;
  /** 'found' while shrinking may still shorten it; 'shrunk' once shrinking ended. */
  readonly status: 'found' | 'shrunk';
  readonly ops: readonly Op[];
  readonly violation: Violation;
}

export const COUNTEREXAMPLE_FORMAT = 'mmcheck-counterexample/1';

export class CounterexampleFileError extends Error {}

/** Write atomically (temp file + rename), so an interrupted write never leaves a truncated file. */
export function writeCounterexample(file: string, c: Counterexample): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(c, null, 1)}\n`);
  renameSync(tmp, file);
}

/** Read and validate a counterexample file; throws CounterexampleFileError saying exactly what is wrong. */
export function readCounterexample(file: string): Counterexample {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CounterexampleFileError(`cannot read counterexample '${file}': ${e instanceof Error ? e.message : String(e)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CounterexampleFileError(`'${file}' is not valid JSON (truncated?): ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseCounterexample(data, file);
}

export function parseCounterexample(data: unknown, file: string): Counterexample {
  const bad = (what: string): never => {
    throw new CounterexampleFileError(`'${file}' is not an mmcheck counterexample: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('the top level must be an object');
  const rec = data as Record<string, unknown>;
  if (rec['format'] !== COUNTEREXAMPLE_FORMAT) bad(`'format' must be '${COUNTEREXAMPLE_FORMAT}', got ${JSON.stringify(rec['format'])}`);
  const text = (k: 'kernel' | 'kernelSpec' | 'geometry' | 'path'): string => {
    const v = rec[k];
    return typeof v === 'string' ? v : bad(`'${k}' must be a string`);
  };
  const seed = rec['seed'];
  if (typeof seed !== 'number') return bad(`'seed' must be a number`);
  const status = rec['status'];
  if (status !== 'found' && status !== 'shrunk') return bad(`'status' must be 'found' or 'shrunk'`);
  if (!Array.isArray(rec['ops'])) return bad(`'ops' must be an array`);
  const ops = rec['ops'].map((o, i) => {
    const r = validateOp(o, `ops[${i}]`);
    return typeof r === 'string' ? bad(r) : r;
  });
  const v = rec['violation'];
  if (typeof v !== 'object' || v === null || typeof (v as Record<string, unknown>)['code'] !== 'string' || typeof (v as Record<string, unknown>)['step'] !== 'number') {
    return bad(`'violation' must be an object with a 'code' and a 'step'`);
  }
  // The recorded violation is only displayed and compared by code and step, both checked above.
  const violation = v as Violation;
  return { format: COUNTEREXAMPLE_FORMAT, kernel: text('kernel'), kernelSpec: text('kernelSpec'), geometry: text('geometry'), seed, path: text('path'), status, ops, violation };
}
