/** Exhaustiveness check for closed unions: a missed case is a compile error, and a throw at run time. */
export function assertNever(x: never): never {
  throw new Error(`unreachable case: ${JSON.stringify(x)}`);
}
