/**
 * mmcheck as a library: what a test file or a script needs to check a kernel variant, build its
 * own properties from mmcheck's arbitraries and oracles, or read its reports. The CLI is built on
 * the same pieces. `mmcheck/vitest` adds assertions for vitest (expectHolds, expectCaught).
 */

// Checking a kernel: the one-call check, and the runner underneath it.
export { checkKernel } from './checkKernel';
export type { KernelCheck, KernelCheckOptions, KernelUnderTest } from './checkKernel';
export { runCheck, runOne } from '../check/runCheck';
export type { CheckOptions, CheckReport, CheckFailure, FlakyFailure } from '../check/runCheck';
export { verdictOf, EXIT_CODES } from '../check/verdict';
export type { Verdict, Exercise } from '../check/verdict';
export { runsAlone } from '../check/runsAlone';
export { CheckedRun, ALL_ORACLES, withDrain } from '../run/checkedRun';
export type { OracleSwitches } from '../run/checkedRun';
export type { RunOutcome, StepRecord } from '../run/outcome';

// Kernels: the registered ones by name, and the classes a variant extends.
export { KERNELS, kernelEntry, UnknownKernelError } from '../../models/registry';
export type { KernelEntry, KernelRole } from '../../models/registry';
export { ReferenceKernel } from '../../models/reference/ReferenceKernel';
export { BatchedKernel } from '../../models/batched/BatchedKernel';
export { BatchedNoMigrc } from '../../models/batched/BatchedNoMigrc';
export { Reference615 } from '../../models/v615/Reference615';
export { Batched615 } from '../../models/v615/Batched615';
export { specFor } from '../../models/specFor';
export { variantMethods } from '../variants/kernelMethods';
export type { KernelClass, VariantMethods } from '../variants/kernelMethods';

// Geometries and machines.
export { geometry, GEOMETRY_NAMES, isGeometryName, UnknownGeometryError } from '../../models/machine/geometry';
export type { Geometry, GeometryName } from '../../models/machine/geometry';
export { createMachine } from '../../models/machine/create';
export type { MachineOptions } from '../../models/machine/create';
export type { Machine, Folio, Frame, Mm, Cpu, TlbEntry } from '../../models/machine/state';
export type { Pfn, Vpn, MmId, CpuId } from '../../models/machine/ids';
export { pfn, vpn, mmId, cpuId } from '../../models/machine/ids';
export type { Pte, PresentPte, SwapPte, PmdEntry, LeafPmd } from '../../models/machine/pte';
export type { MmuGather } from '../../models/batched/mmuGather';

// Ops and their arbitraries.
export { OP_KINDS, formatOp } from '../ops/op';
export type { Op, OpKind } from '../ops/op';
export { opSchema } from '../schema/op';
export { opArb, opsArb } from '../arbitraries/ops';
export type { OpArbOptions, OpsArbOptions } from '../arbitraries/ops';
export { sequencesArb, DEFAULT_GENERATION, GENERATION_MODES } from '../check/generation';
export type { Generation, GenerationMode } from '../check/generation';

// Oracles and what they report.
export { describeViolation } from '../../models/machine/violation';
export type { Violation } from '../../models/machine/violation';
export { auditLedger } from '../oracles/ledger';
export { observe, firstDifference } from '../oracles/observe';
export type { Observation } from '../oracles/observe';
export { sameObservation } from '../oracles/sameObservation';
export { UserMemory } from '../oracles/userMemory';

// Reports: traces as the CLI prints them.
export { formatTrace } from '../report/trace';
export { formatCounterexample } from '../report/litmus';
export { explainSteps, formatExplanationStep } from '../report/explain';
export type { StepExplanation } from '../report/explain';
