import { z } from 'zod';
import { GEOMETRY_NAMES } from '../../models/machine/geometry';
import { opSchema } from './op';

export const SCENARIO_FORMAT = 'mmcheck-scenario/1';

/** A hand-written op list for `mmcheck run`: what to run, and optionally on which kernel and geometry. */
export const scenarioSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: 'Where editors find this schema (e.g. "../schema/scenario.schema.json"); mmcheck ignores it.' }),
    format: z.literal(SCENARIO_FORMAT),
    kernel: z.string().optional().meta({ description: 'A registered kernel, or a variant file (a path from where mmcheck runs); default batched; --kernel overrides it.' }),
    geometry: z.enum(GEOMETRY_NAMES).optional().meta({ description: 'The machine geometry (default: small); --geometry overrides it.' }),
    ops: z.array(opSchema),
  })
  .meta({ title: 'mmcheck scenario', description: 'A hand-written op list for mmcheck run.' });
