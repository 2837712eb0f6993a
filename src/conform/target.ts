import { geometry } from '../../models/machine/geometry';
import { KERNELS } from '../../models/registry';
import type { ConformTarget } from './compareProgram';
import { interpreterBinary } from './kernelRun';
import { kernelMapsZeroPage } from './kernelZeroPage';
import { numaNodesWithMemory } from './prerequisites';
import type { KernelRelease } from './release';
import { referenceFor } from './release';

/**
 * What this machine's kernel is compared with: the reference policy of its version, in the
 * realistic geometry (x86-64's 512 PTEs per table and 2 MiB PMD folios — the small geometry has
 * no real counterpart), with the interpreter compiled and the kernel asked whether it maps the
 * shared zero page.
 */
export async function conformTarget(r: KernelRelease): Promise<ConformTarget> {
  const kernelName = referenceFor(r);
  const entry = KERNELS.find((k) => k.name === kernelName);
  if (entry === undefined) throw new Error(`reference kernel ${kernelName} is not registered`);
  const interpreter = interpreterBinary();
  // The model follows the kernel: the shared zero page (a machine option) exactly where the kernel maps it.
  const kernelZeroPage = await kernelMapsZeroPage(interpreter);
  return {
    kernelName,
    makeKernel: entry.make,
    geometry: geometry('realistic'),
    userLevel: { kernelZeroPage, modelZeroPage: kernelZeroPage, numaNodes: numaNodesWithMemory() },
    interpreter,
  };
}
