import type { ReporterName } from '../results/reporters';
import { REPORTERS, isReporterName } from '../results/reporters';
import { GEOMETRY_NAMES, geometry, UnknownGeometryError } from '../../models/machine/geometry';
import type { Geometry } from '../../models/machine/geometry';
import { UsageError } from './usageError';

export function parseGeometry(name: string): Geometry {
  try {
    return geometry(name);
  } catch (e) {
    if (e instanceof UnknownGeometryError) throw new UsageError(`${e.message}`);
    throw e;
  }
}

export function parsePositiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} takes a positive whole number, got '${v}'`);
  return n;
}

/**
 * The seeds fast-check 4 keeps as given: its readSeed() folds any other integer to `seed | 0`
 * (so 4294967296 would silently run seed 0 and print 0), and the default xorshift128plus
 * generator is built from that 32-bit value. Anything outside is refused rather than folded.
 */
export const SEED_MIN = -(2 ** 31);
export const SEED_MAX = 2 ** 31 - 1;

export function parseSeed(v: string, flag = '--seed'): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || n < SEED_MIN || n > SEED_MAX) throw new UsageError(`${flag} takes a whole number from ${SEED_MIN} to ${SEED_MAX}, got '${v}'`);
  return n;
}

export const GEOMETRY_HELP = `machine geometry: ${GEOMETRY_NAMES.join(' | ')}`;

export const REPORTER_HELP = `how results are printed: ${REPORTERS.join(', ')} (json: schema/report.schema.json; junit: JUnit XML for CI; tap: TAP 13 as kselftest prints it); a machine format is the only thing on stdout`;

/** `--reporter`: one of REPORTERS, else a usage error naming them. */
export function parseReporter(v: string): ReporterName {
  if (!isReporterName(v)) throw new UsageError(`--reporter takes one of ${REPORTERS.join(', ')}, got '${v}'`);
  return v;
}
