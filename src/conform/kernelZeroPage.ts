import { runBinary } from './kernelRun';

/**
 * Does the running kernel map the shared zero page on a read fault? Asked of the kernel itself:
 * one load of an untouched page, then look at what got mapped (KPF_ZERO_PAGE). Mainline does
 * (`do_anonymous_page()`); a kernel that forbids it — `mm_forbids_zeropage()` on s390 with KVM,
 * or a VM kernel booted with `pvm_no_zero_page=1`, as the machines this was written on — gives a
 * fresh zeroed page instead.
 */
export async function kernelMapsZeroPage(interpreter: string): Promise<boolean> {
  const [after] = await runBinary(interpreter, 'load 0 0 0 7\nobserve 0\n');
  const page = after?.pages.find((p) => p.mm === 0 && p.vpn === 7);
  if (page === undefined) throw new Error('the zero-page probe mapped nothing at the page it loaded');
  return page.zero;
}
