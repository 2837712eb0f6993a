import type { z } from 'zod';
import { assertNever } from '../../models/assertNever';
import { OP_KINDS } from '../ops/op';
import type { Place } from './place';
import { containerOf, opFields, placeOf, subjectOf } from './place';

/**
 * One line for one schema issue, saying where (op index, kind and field) and what is expected,
 * naming the valid choices: the form bad input is reported in. `topFields` are the fields the
 * file's top level may have.
 */
export function describeIssue(issue: z.core.$ZodIssue, data: unknown, topFields: readonly string[]): string {
  const place = placeOf(issue.path, data);
  const mustBe = (expected: string): string => `${subjectOf(place)} must be ${expected}${got(issue)}`;
  switch (issue.code) {
    case 'invalid_type':
      return mustBe(typeName(issue.expected));
    case 'invalid_value':
      return mustBe(oneOf(issue.values.map((v) => JSON.stringify(v))));
    case 'too_big':
    case 'too_small':
      return issue.origin === 'int' ? mustBe('a safe integer (at most 2^53 - 1 either side of 0)') : `${subjectOf(place)}: ${issue.message}`;
    case 'unrecognized_keys':
      return `${containerOf(place)}unexpected field(s) ${issue.keys.join(', ')}${validFields(place, issue.path, topFields)}`;
    case 'invalid_union':
      if (issue.discriminator === 'kind' && place.op !== null) {
        const kind = issue.input !== null && typeof issue.input === 'object' && 'kind' in issue.input ? issue.input.kind : undefined;
        return `${place.op}: ${kind === undefined ? 'missing op kind' : `unknown op kind ${JSON.stringify(kind)}`}; valid kinds: ${OP_KINDS.join(', ')}`;
      }
      return `${subjectOf(place)} matches none of the allowed forms${got(issue)}`;
    // The formats use none of these checks; reported with zod's own wording should one be added.
    case 'invalid_format':
    case 'not_multiple_of':
    case 'invalid_key':
    case 'invalid_element':
    case 'custom':
      return `${subjectOf(place)}: ${issue.message}`;
    default:
      return assertNever(issue);
  }
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
    case 'number':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'array':
      return `an ${expected}`;
    default:
      return `a ${expected}`;
  }
}

function oneOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  if (values.length === 2) return `${values[0]} or ${values[1]}`;
  return `one of ${values.join(', ')}`;
}

function got(issue: z.core.$ZodIssue): string {
  const x = issue.input;
  if (x === undefined) return ', but it is missing';
  // Named, not printed: an array or object in the wrong place may be a whole op list.
  if (Array.isArray(x)) return ', got an array';
  if (typeof x === 'object' && x !== null) return ', got an object';
  const text = JSON.stringify(x);
  return `, got ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** The fields the object that had an unexpected one may have, when it is the top level or an op. */
function validFields(place: Place, path: readonly PropertyKey[], topFields: readonly string[]): string {
  if (path.length === 0) return `; valid fields: ${topFields.join(', ')}`;
  if (place.kind === null || place.field !== null) return '';
  const fields = opFields(place.kind);
  return fields.length === 1 ? `; a ${place.kind} op has only 'kind'` : `; valid fields: ${fields.join(', ')}`;
}
