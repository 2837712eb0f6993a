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

export function parseSeed(v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`--seed takes a whole number, got '${v}'`);
  return n | 0;
}

export const GEOMETRY_HELP = `machine geometry: ${GEOMETRY_NAMES.join(' | ')}`;
