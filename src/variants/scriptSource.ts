import type { Session } from 'node:inspector/promises';
import type { Debugger } from 'node:inspector';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EncodedSourceMap } from '@jridgewell/trace-mapping';

/** The code V8 actually compiled for a script, and the source map that leads back to what the author wrote. */
export interface CompiledScript {
  readonly source: string;
  /** null when the script carries no `//# sourceMappingURL` (a plain .js variant): its offsets are the file's own. */
  readonly map: EncodedSourceMap | null;
}

/**
 * Fetch the compiled source and source map of the given scripts from V8's debugger. tsx hands
 * Node the esbuild output with an inline `//# sourceMappingURL=data:application/json;base64,...`;
 * V8 reads that comment itself and reports it as `sourceMapURL` when the debugger announces the
 * script, so nothing here searches the code for it. The debugger is on only for this call: once
 * enabled, V8 replays `scriptParsed` for every script already loaded, which is all we need.
 */
export async function compiledScripts(session: Session, scriptIds: ReadonlySet<string>): Promise<Map<string, CompiledScript>> {
  const mapUrls = new Map<string, URL>();
  const onParsed = ({ params: p }: { params: Debugger.ScriptParsedEventDataType }): void => {
    // a relative sourceMappingURL is relative to the script
    if (scriptIds.has(p.scriptId) && p.sourceMapURL) mapUrls.set(p.scriptId, new URL(p.sourceMapURL, p.url));
  };
  session.on('Debugger.scriptParsed', onParsed);
  const out = new Map<string, CompiledScript>();
  try {
    await session.post('Debugger.enable');
    for (const scriptId of scriptIds) {
      const { scriptSource } = await session.post('Debugger.getScriptSource', { scriptId });
      const url = mapUrls.get(scriptId);
      out.set(scriptId, { source: scriptSource, map: url === undefined ? null : readSourceMap(url) });
    }
  } finally {
    session.off('Debugger.scriptParsed', onParsed);
    await session.post('Debugger.disable');
  }
  return out;
}

/** A source map URL as V8 reports it: inline (what tsx writes) or a file beside a precompiled .js. */
function readSourceMap(url: URL): EncodedSourceMap {
  if (url.protocol === 'file:') return JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as EncodedSourceMap;
  const inline = /^data:application\/json[^,]*?(;base64)?,(.*)$/s.exec(url.href);
  if (inline === null) throw new Error(`cannot read the source map at ${url.href.slice(0, 80)}`);
  const payload = inline[2]!;
  return JSON.parse(inline[1] === undefined ? decodeURIComponent(payload) : Buffer.from(payload, 'base64').toString('utf8')) as EncodedSourceMap;
}
