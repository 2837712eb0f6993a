import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { compileInterpreter, LiveRun, noneLeft, observed, page, processesOf, results, run, thpAtRest, thpNow, whyNoRealKernel } from './__helpers__/cRuntime';

/*
 * The C runtime of `mmcheck conform` (src/conform/c) on this machine's kernel: small programs
 * through the stdin interpreter, checked against kernel facts the model also states.
 */
const why = whyNoRealKernel();
if (why !== null) console.log(`conformRuntime: skipped, ${why}`);

/** Some VMs' kernels never map the shared zero page (this one's command line says so). */
const noZeroPage = readFileSync('/proc/cmdline', 'utf8').includes('pvm_no_zero_page=1');

describe.skipIf(why !== null)('the conform C runtime on the real kernel', () => {
  let bin = '';
  beforeAll(() => {
    bin = compileInterpreter();
  });

  it('a store is seen by a later load on another CPU; a page never written loads 0', async () => {
    const r = await run(bin, ['store 1 0 0 5 42', 'load 2 3 0 5', 'load 3 1 0 6', 'observe 4']);
    expect(r.code).toBe(0);
    expect(results(r, 1)).toEqual([]);
    expect(results(r, 2)).toEqual(['value 42']);
    expect(results(r, 3)).toEqual(['value 0']);
    expect(page(observed(r, 4), 0, 5)?.val).toBe(42);
    expect(r.lines.at(-1)).toBe('end 4');
  });

  it('map order 9 pmd=1 gives one PMD-mapped THP: 512 present pages of one folio', async () => {
    const r = await run(bin, ['map 1 0 512 9 1 0 512', 'observe 2']);
    expect(r.code).toBe(0);
    const obs = observed(r, 2);
    expect(obs.map((o) => o.vpn)).toEqual(Array.from({ length: 512 }, (_, i) => 512 + i));
    const head = obs[0]!.pfn;
    expect(head % 512).toBe(0);
    for (const o of obs) {
      expect(o.pfn).toBe(head + (o.vpn - 512));
      expect(o).toMatchObject({ head, thp: 1, order: 9, map: 1, excl: 1, zero: 0, val: 0 });
    }
  });

  it('map order 4 first 2 count 3 maps exactly base+2..base+4 of an order-4 folio', async () => {
    const r = await run(bin, ['map 1 0 32 4 0 2 3', 'observe 2']);
    const obs = observed(r, 2);
    expect(obs.map((o) => o.vpn)).toEqual([34, 35, 36]);
    const head = obs[0]!.head;
    expect(head % 16).toBe(0);
    for (const o of obs) expect(o).toMatchObject({ pfn: head + (o.vpn - 32), order: 4, thp: 1, map: 1 });
  });

  it('map order 9 pmd=0 splits the PMD but not the folio', async () => {
    const r = await run(bin, ['map 1 0 1024 9 0 3 100', 'observe 2']);
    const obs = observed(r, 2);
    expect(obs.map((o) => o.vpn)).toEqual(Array.from({ length: 100 }, (_, i) => 1027 + i));
    for (const o of obs) expect(o).toMatchObject({ order: 9, thp: 1, head: obs[0]!.pfn - 3 });
  });

  it('pmd=1 maps the THP by PMD, pmd=0 by PTEs (smaps AnonHugePages of the mm process)', async () => {
    const anonHuge = async (pmd: number): Promise<string> => {
      const live = new LiveRun(bin);
      live.send([`map 1 0 0 9 ${pmd} 0 512`, 'observe 2']);
      await live.until('end 2');
      const mm0 = processesOf(bin).filter((p) => p !== live.child.pid);
      expect(mm0.length).toBe(1);
      const kb = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync(`/proc/${mm0[0]!}/smaps_rollup`, 'utf8'))?.[1];
      live.child.stdin.end();
      await live.exited;
      return kb ?? '?';
    };
    expect(await anonHuge(1)).toBe('2048');
    expect(await anonHuge(0)).toBe('0');
  });

  it('fork shares a written page (map=2, excl=0) until the child stores to it (COW)', async () => {
    const r = await run(bin, ['store 1 0 0 9 7', 'fork 2 0 1', 'observe 3', 'store 4 2 1 9 8', 'observe 5']);
    const before = observed(r, 3);
    const parent = page(before, 0, 9)!;
    expect(page(before, 1, 9)).toEqual({ ...parent, mm: 1 });
    expect(parent).toMatchObject({ map: 2, excl: 0, val: 7 });
    const after = observed(r, 5);
    expect(page(after, 0, 9)).toMatchObject({ pfn: parent.pfn, map: 1, excl: 1, val: 7 });
    expect(page(after, 1, 9)).toMatchObject({ map: 1, excl: 1, val: 8 });
    expect(page(after, 1, 9)!.pfn).not.toBe(parent.pfn);
  });

  it('exit tears the mm down: its pages leave the observation and their map counts drop', async () => {
    const r = await run(bin, ['store 1 0 0 9 7', 'fork 2 0 1', 'fork 3 1 2', 'exit 4 0', 'observe 5', 'exit 6 1', 'observe 7']);
    expect(r.code).toBe(0);
    expect(new Set(observed(r, 5).map((o) => o.mm))).toEqual(new Set([1, 2]));
    expect(page(observed(r, 5), 2, 9)).toMatchObject({ map: 2, val: 7 });
    expect(page(observed(r, 7), 2, 9)).toMatchObject({ map: 1, excl: 1, val: 7 });
    expect(observed(r, 7).every((o) => o.mm === 2)).toBe(true);
  });

  it.skipIf(noZeroPage)('a load of a never-touched page maps the zero page', async () => {
    const r = await run(bin, ['load 1 0 0 77', 'observe 2']);
    expect(results(r, 1)).toEqual(['value 0']);
    expect(page(observed(r, 2), 0, 77)).toMatchObject({ zero: 1, val: 0 });
  });

  it.runIf(noZeroPage)('with pvm_no_zero_page=1 a read fault allocates a fresh page instead of the zero page', async () => {
    const r = await run(bin, ['load 1 0 0 77', 'load 2 0 0 78', 'observe 3']);
    const a = page(observed(r, 3), 0, 77)!;
    const b = page(observed(r, 3), 0, 78)!;
    expect(a).toMatchObject({ zero: 0, val: 0, map: 1 });
    expect(b.pfn).not.toBe(a.pfn);
  });

  it('a pinned page is copied for the child at fork, an unpinned one is shared', async () => {
    const r = await run(bin, ['store 1 0 0 7 70', 'store 2 0 0 8 80', 'pin 3 0 0 7 1', 'fork 4 0 1', 'observe 5']);
    expect(results(r, 3)).toEqual(['pinned 1']);
    const obs = observed(r, 5);
    expect(page(obs, 1, 7)!.pfn).not.toBe(page(obs, 0, 7)!.pfn);
    expect(page(obs, 1, 7)).toMatchObject({ val: 70, map: 1, excl: 1 });
    expect(page(obs, 1, 8)!.pfn).toBe(page(obs, 0, 8)!.pfn);
  });

  it('unpin drops the pin at once: a fork right after it shares the page again', async () => {
    const r = await run(bin, ['store 1 0 0 7 70', 'pin 2 0 0 7 1', 'unpin 3 0', 'fork 4 0 1', 'observe 5']);
    expect(r.code).toBe(0);
    expect(page(observed(r, 5), 1, 7)!.pfn).toBe(page(observed(r, 5), 0, 7)!.pfn);
  });

  it('get (vmsplice) references the pages: devread sees their values, in every pipe of the handle', async () => {
    // 300 pages take two pipes at the default fs.pipe-max-size (1 MiB = 256 pages).
    const r = await run(bin, ['store 1 0 0 100 11', 'store 2 0 0 390 39', 'get 3 0 0 100 300', 'devread 4 0 0', 'devread 5 0 290', 'store 6 0 0 100 12', 'devread 7 0 0', 'unpin 8 0']);
    expect(r.code).toBe(0);
    expect(results(r, 3)).toEqual(['got 300']);
    expect(results(r, 4)).toEqual(['value 11']);
    expect(results(r, 5)).toEqual(['value 39']);
    expect(results(r, 7)).toEqual(['value 12']);
  });

  it('pin then devwrite: the mm loads what the device wrote; devread sees what the mm stored', async () => {
    const r = await run(bin, ['store 1 0 0 20 1', 'pin 2 0 4 20 2', 'devwrite 3 4 1 555', 'load 4 1 0 21', 'store 5 0 0 20 66', 'devread 6 4 0', 'unpin 7 4']);
    expect(r.code).toBe(0);
    expect(results(r, 2)).toEqual(['pinned 2']);
    expect(results(r, 4)).toEqual(['value 555']);
    expect(results(r, 6)).toEqual(['value 66']);
  });

  it('read-only pages: a store faults (segv) without killing the mm, a load works, a pin fails', async () => {
    const r = await run(bin, ['store 1 0 0 30 3', 'mprotect 2 0 30 1 0', 'store 3 0 0 30 4', 'load 4 0 0 30', 'pin 5 0 0 30 1', 'mprotect 6 0 30 1 1', 'store 7 0 0 30 5', 'load 8 0 0 30']);
    expect(r.code).toBe(0);
    expect(results(r, 3)).toEqual(['segv']);
    expect(results(r, 4)).toEqual(['value 3']);
    expect(results(r, 5)).toEqual(['gupfailed']);
    expect(results(r, 8)).toEqual(['value 5']);
  });

  it('mremap moves the frame to the new address; refill makes the old range usable again', async () => {
    const r = await run(bin, ['store 1 0 0 10 9', 'observe 2', 'mremap 3 0 10 100 1', 'refill 4 0 10 1 1', 'observe 5', 'load 6 0 0 10']);
    const pfn = page(observed(r, 2), 0, 10)!.pfn;
    expect(page(observed(r, 5), 0, 100)).toMatchObject({ pfn, val: 9 });
    expect(page(observed(r, 5), 0, 10)).toBeUndefined();
    expect(results(r, 6)).toEqual(['value 0']);
  });

  it('a malformed program is one error line and exit 2; a failing system call exits 3', async () => {
    const unknown = await run(bin, ['frob 1 2']);
    expect(unknown.code).toBe(2);
    expect(unknown.lines).toEqual(['error unknown command: frob 1 2']);
    // mremap leaves its source unmapped (the TS side refills it); mprotect there is ENOMEM.
    const bad = await run(bin, ['mremap 1 0 10 100 1', 'mprotect 2 0 10 1 0', 'observe 3']);
    expect(bad.code).toBe(3);
    expect(bad.lines).toEqual(['error step 2 mprotect mm 0 vpn 10+1 writable=0: Cannot allocate memory']);
  });

  it('THP sysfs is changed during a run and restored after it', async () => {
    const rest = thpAtRest();
    const live = new LiveRun(bin);
    live.send(['map 1 0 64 4 0 0 16', 'observe 2']);
    await live.until('end 2');
    const during = thpNow();
    live.child.stdin.end();
    expect(await live.exited).toEqual({ code: 0, signal: null });
    expect(during.get('hugepages-64kB')).toBe('madvise');
    expect(during.get('hugepages-2048kB')).toBe('never');
    expect(thpAtRest()).toEqual(rest);
  });

  it('SIGINT while waiting on stdin restores THP sysfs and leaves no mm process behind', async () => {
    const rest = thpAtRest();
    const live = new LiveRun(bin);
    live.send(['map 1 0 0 9 1 0 512', 'fork 2 0 1', 'observe 3']);
    await live.until('end 3');
    expect(thpNow().get('hugepages-2048kB')).toBe('madvise');
    expect(processesOf(bin).length).toBe(3); // the coordinator and two mms
    live.child.kill('SIGINT');
    expect(await live.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(thpAtRest()).toEqual(rest);
    await noneLeft(bin);
  });
});
