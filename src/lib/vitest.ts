import { assert, test } from 'vitest';
import type { Violation } from '../../models/machine/violation';
import type { KernelCheck, KernelCheckOptions, KernelUnderTest } from './checkKernel';
import { checkKernel } from './checkKernel';

export type { KernelCheck, KernelCheckOptions, KernelUnderTest } from './checkKernel';

/**
 * Assert that a kernel (a variant class, or a factory) holds against the reference: every
 * sequence ran with every oracle on, nothing failed, and every method the class defines was
 * called. Anything else fails the test with mmcheck's readable report as the message: the shrunk
 * counterexample step by step, what the failing step changed, and the seed and path to replay it.
 */
export function expectHolds(kernel: KernelUnderTest, options: KernelCheckOptions = {}): KernelCheck {
  const c = checkKernel(kernel, options);
  if (c.verdict !== 'HOLDS') assert.fail(c.text);
  return c;
}

/**
 * Assert that the check catches a kernel (a mutant, or a patch known to be broken): it FAILED,
 * with a violation of one of `codes` when given. Returns the check, so a test can look further.
 */
export function expectCaught(kernel: KernelUnderTest, options: KernelCheckOptions & { readonly codes?: readonly Violation['code'][] } = {}): KernelCheck {
  const c = checkKernel(kernel, options);
  if (c.verdict !== 'FAILED') assert.fail(`expected the check to fail, but it says ${c.verdict}\n${c.text}`);
  const code = c.report.failure!.outcome.violation.code;
  if (options.codes !== undefined && !options.codes.includes(code)) assert.fail(`expected a violation of ${options.codes.join(' or ')}, got ${code}\n${c.text}`);
  return c;
}

/** How long a registered check may take: checks run for seconds, far beyond vitest's 5 s default. */
export const CHECK_TEST_TIMEOUT_MS = 600_000;

/** Register a test "<name> holds against the reference" that runs expectHolds() with a check-sized timeout. */
export function testHolds(name: string, kernel: KernelUnderTest, options: KernelCheckOptions = {}): void {
  test(`${name} holds against the reference`, () => {
    expectHolds(kernel, options);
  }, CHECK_TEST_TIMEOUT_MS);
}
