import type { GeometryName } from '../../models/machine/geometry';
import { CounterexampleFileError, parseCounterexample } from '../counterexample/file';
import type { Op } from '../ops/op';
import { COUNTEREXAMPLE_FORMAT } from '../schema/counterexample';
import { parseWith } from '../schema/parse';
import { readJsonFile } from '../schema/readJson';
import { SCENARIO_FORMAT, scenarioSchema } from '../schema/scenario';

/** An op list to run, with the kernel and geometry its file names (null: the file leaves them to the defaults). */
export interface Scenario {
  readonly ops: readonly Op[];
  readonly kernel: string | null;
  readonly geometry: GeometryName | null;
}

export class ScenarioFileError extends Error {}

/**
 * Read what `mmcheck run` runs: a scenario file (format mmcheck-scenario/1), a bare JSON array of
 * ops, or a saved counterexample (its kernel as recorded). Throws ScenarioFileError with one line
 * saying what is wrong.
 */
export function readScenario(file: string): Scenario {
  const fail = (m: string): never => {
    throw new ScenarioFileError(m);
  };
  const data = readJsonFile(file, 'scenario', fail);
  if (Array.isArray(data)) {
    // Checked as the ops of a scenario, so problems read "ops[3] (zap): …" as in every other file.
    const r = parseWith(scenarioSchema, { format: SCENARIO_FORMAT, ops: data });
    return r.ok ? { ops: r.value.ops, kernel: null, geometry: null } : fail(`'${file}' is not a valid op list: ${r.problem}`);
  }
  const format = typeof data === 'object' && data !== null && 'format' in data ? data.format : undefined;
  if (format === COUNTEREXAMPLE_FORMAT) {
    try {
      const c = parseCounterexample(data, file);
      return { ops: c.ops, kernel: c.kernelSpec, geometry: c.geometry };
    } catch (e) {
      if (e instanceof CounterexampleFileError) fail(e.message);
      throw e;
    }
  }
  if (format !== SCENARIO_FORMAT) {
    const got = format === undefined ? 'no format' : typeof format === 'string' ? `format ${JSON.stringify(format.slice(0, 40))}` : 'a format that is not a string';
    return fail(`'${file}' is not something mmcheck can run (${got}): give a JSON array of ops, or an object with "format": "${SCENARIO_FORMAT}" or "${COUNTEREXAMPLE_FORMAT}"`);
  }
  const r = parseWith(scenarioSchema, data);
  return r.ok ? { ops: r.value.ops, kernel: r.value.kernel ?? null, geometry: r.value.geometry ?? null } : fail(`'${file}' is not an mmcheck scenario: ${r.problem}`);
}
