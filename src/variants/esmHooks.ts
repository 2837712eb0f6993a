import type { ResolveHook } from 'node:module';

/**
 * Node module hooks the CLI registers after tsx's: every `.ts` file outside node_modules loads as
 * an ES module. Node picks a file's module system from the nearest package.json, so a variant in
 * a directory without `"type": "module"` (say /tmp/v.ts, importing the repo's BatchedKernel by
 * absolute path) would load as CommonJS, and its `import`s fail with "Cannot require() ES
 * Module … in a cycle". Variants, like mmcheck's own sources, are ES modules wherever they live.
 */
export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const r = await nextResolve(specifier, context);
  if (!r.url.startsWith('file:')) return r;
  const path = new URL(r.url).pathname;
  return path.endsWith('.ts') && !path.includes('/node_modules/') ? { ...r, format: 'module' } : r;
};
