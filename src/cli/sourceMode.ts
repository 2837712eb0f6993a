/**
 * The CLI runs from its build (dist/cli/cli.mjs, bin/mmcheck.js) when that is fresh, else from the
 * sources through tsx. A user's TypeScript file — a variant, a cost workload — imports the
 * sources (`models/batched/BatchedKernel.ts`), and its classes must be the very classes the CLI
 * checks with (the reference is chosen, and a variant's base found, by class identity): so a
 * command that loads one runs from the sources. The build asks for that by throwing
 * NeedsSourcesError before it has done anything; bin/mmcheck.js then runs the command again from
 * the sources.
 */
let fromBuild = false;

/** Called by the build's entry (src/cli/buildEntry.ts): this process runs the built CLI. */
export function markRunningFromBuild(): void {
  fromBuild = true;
}

export const runningFromBuild = (): boolean => fromBuild;

export class NeedsSourcesError extends Error {
  constructor(what: string) {
    super(`${what} needs mmcheck's sources`);
    this.name = 'NeedsSourcesError';
  }
}

/** Before loading a user's TypeScript file: in the built CLI, ask to be run from the sources. */
export function requireSources(what: string): void {
  if (fromBuild) throw new NeedsSourcesError(what);
}
