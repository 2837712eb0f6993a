import { z } from 'zod';
import { counterexampleSchema } from './counterexample';
import { opSchema } from './op';
import { scenarioSchema } from './scenario';
import { reportSchema } from './report';

/**
 * The JSON Schema files committed under schema/, generated from the zod definitions (so editors
 * and other tools check files against exactly what mmcheck accepts): path → file text.
 */
export function renderJsonSchemas(): ReadonlyMap<string, string> {
  const render = (s: z.ZodType): string => `${JSON.stringify(z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;
  return new Map([
    ['schema/op.schema.json', render(opSchema)],
    ['schema/counterexample.schema.json', render(counterexampleSchema)],
    ['schema/scenario.schema.json', render(scenarioSchema)],
    ['schema/report.schema.json', render(reportSchema)],
  ]);
}
