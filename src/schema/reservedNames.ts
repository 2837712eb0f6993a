/**
 * Field names refused anywhere in an input file. JSON.parse makes `"__proto__"` an own property,
 * which a later copy or schema pass may drop silently or turn into a prototype; `constructor` and
 * `prototype` shadow what code may expect of any object. None of them is a field of any format.
 */
export const RESERVED_NAMES: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** The path of the first reserved field name in parsed JSON, or null when there is none. */
export function reservedNamePath(x: unknown): readonly PropertyKey[] | null {
  // One path, pushed and popped while walking: files hold 100,000s of ops, so nothing per element.
  const path: PropertyKey[] = [];
  const within = (key: PropertyKey, v: unknown): boolean => {
    path.push(key);
    if ((typeof key === 'string' && RESERVED_NAMES.includes(key)) || walk(v)) return true;
    path.pop();
    return false;
  };
  const walk = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.some((e: unknown, i) => within(i, e));
    if (typeof v !== 'object' || v === null) return false;
    return Object.entries(v).some(([k, e]) => within(k, e));
  };
  return walk(x) ? path : null;
}
