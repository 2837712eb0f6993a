import { threadId } from 'node:worker_threads';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { Violation } from '../../models/machine/violation';
import type { Op } from '../ops/op';
import { COUNTEREXAMPLE_FORMAT, counterexampleSchema } from '../schema/counterexample';
import { parseWith } from '../schema/parse';
import { readJsonFile } from '../schema/readJson';

export { COUNTEREXAMPLE_FORMAT };

/**
 * A counterexample as a file (its format is defined in src/schema/counterexample.ts): everything
 * needed to replay it without fast-check — the geometry, the kernel and the reference it was
 * checked against, the op list — plus the seed and replay path it came from and the violation it
 * produced. The violation is typed as the model's, which the file format checks only loosely.
 */
export type Counterexample = Readonly<Omit<z.output<typeof counterexampleSchema>, 'ops' | 'violation'>> & {
  readonly ops: readonly Op[];
  readonly violation: Violation;
};

export class CounterexampleFileError extends Error {}

/** Write atomically (temp file + rename), so an interrupted write never leaves a truncated file. */
export function writeCounterexample(file: string, c: Counterexample): void {
  mkdirSync(dirname(file), { recursive: true });
  // Per thread: the jobs of a parallel check (--jobs) are threads of one process.
  const tmp = `${file}.tmp-${process.pid}-${threadId}`;
  writeFileSync(tmp, `${JSON.stringify(c, null, 1)}\n`);
  renameSync(tmp, file);
}

/** Read and validate a counterexample file; throws CounterexampleFileError saying exactly what is wrong. */
export function readCounterexample(file: string): Counterexample {
  return parseCounterexample(
    readJsonFile(file, 'counterexample', (m) => {
      throw new CounterexampleFileError(m);
    }),
    file,
  );
}

export function parseCounterexample(data: unknown, file: string): Counterexample {
  const r = parseWith(counterexampleSchema, data);
  if (!r.ok) throw new CounterexampleFileError(`'${file}' is not an mmcheck counterexample: ${r.problem}`);
  // The recorded violation is only displayed and compared by code and step, both checked by the schema.
  return { ...r.value, violation: r.value.violation as Violation };
}
