import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import type { ModelProgram } from './modelRun';
import { runInModel } from './modelRun';
import type { StepObservation } from './observation';
import type { Difference } from './canonical';
import { firstDifference } from './canonical';
import { runBinary } from './kernelRun';
import { interpreterInput } from './runtimeSource';
import type { UserLevelMachine } from './userLevel';

/** What a conform run compares with: the reference policy for the running kernel, in the realistic geometry. */
export interface ConformTarget {
  readonly kernelName: string;
  readonly makeKernel: () => ReferenceKernel;
  readonly geometry: Geometry;
  readonly userLevel: UserLevelMachine;
  /** The compiled interpreter (kernelRun.ts). */
  readonly interpreter: string;
}

export interface ProgramComparison {
  readonly program: ModelProgram;
  readonly observed: readonly StepObservation[];
  readonly difference: Difference | null;
}

/** Run a program in the model and on the kernel, and find the first step where they differ. */
export async function compareProgram(t: ConformTarget, ops: readonly Op[]): Promise<ProgramComparison> {
  const program = runInModel(t.makeKernel(), t.geometry, ops, t.userLevel);
  const observed = await runBinary(t.interpreter, interpreterInput(program.steps));
  return { program, observed, difference: firstDifference(program.expected, observed) };
}
