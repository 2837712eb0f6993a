import { z } from 'zod';
import { GEOMETRY_NAMES } from '../../models/machine/geometry';
import { opSchema } from './op';
import { RESERVED_NAMES } from './reservedNames';

export const COUNTEREXAMPLE_FORMAT = 'mmcheck-counterexample/1';

/**
 * The recorded violation is only displayed and compared by code and step, so only those are
 * required; its other fields (pfn, cpu, detail, …) are whatever the violation's code carries,
 * always plain scalars.
 */
export const violationSchema = z
  .object({ code: z.string(), step: z.int() })
  .catchall(z.union([z.string(), z.number(), z.boolean(), z.null()]))
  .meta({
    description: 'The violation the ops produced when the file was written: a code, the step, and the fields of that code.',
    // The one open object of the formats: say in the JSON Schema too that the reader refuses these names.
    propertyNames: { not: { enum: [...RESERVED_NAMES] } },
  });

/** A failing op list as `mmcheck check` saves it, replayable without fast-check. */
export const counterexampleSchema = z
  .strictObject({
    format: z.literal(COUNTEREXAMPLE_FORMAT),
    kernel: z.string().meta({ description: 'The name of the kernel that failed.' }),
    kernelSpec: z.string().meta({ description: 'What `--kernel` was given: a registered name, or the absolute path of a variant file.' }),
    geometry: z.enum(GEOMETRY_NAMES),
    seed: z.int(),
    path: z.string().meta({ description: "fast-check's replay path ('' when unknown)." }),
    status: z.enum(['found', 'shrunk']).meta({ description: "'found' while shrinking may still shorten it; 'shrunk' once shrinking ended." }),
    ops: z.array(opSchema),
    violation: violationSchema,
  })
  .meta({ title: 'mmcheck counterexample', description: 'A failing op list saved by mmcheck check; run it again with mmcheck replay, explain or run.' });
