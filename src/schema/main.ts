import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderJsonSchemas } from './jsonSchemas';

// `npm run schema`: rewrite schema/*.schema.json from the zod definitions (a test fails while they are stale).
const root = join(import.meta.dirname, '..', '..');
for (const [path, text] of renderJsonSchemas()) {
  const out = join(root, path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  process.stdout.write(`wrote ${out}\n`);
}
