// The scenario file a `reproduce:` line names (harness/command.ts reproduce): the path it was read
// from, unless that path cannot give the same scenario again. A path under /dev or /proc
// (`/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`: a file descriptor of this process, whatever was
// redirected to it), or a file that no longer holds the text that ran (removed, or changed since
// the run read it), is replaced by a copy of that text: $TMPDIR/vrange-scenario-SHA.yaml, SHA the
// first 16 hex digits of the text's SHA-256, written whole once (the same text, the same file).
// docs/semantics.md, "the scenario a reproduce line names".

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { writeOutput } from './files.js';

interface Read { text: string; stamp: string | undefined }

/** The text each scenario path gave when it was read (loadScenario), with its file's stamp then. */
const read = new Map<string, Read>();

/** Size, mtime, inode: a file with the same stamp is taken to hold what it held (no re-read). */
function stampOf(path: string): string | undefined {
  try { const st = statSync(path); return st.isFile() ? `${st.size}:${st.mtimeMs}:${st.dev}:${st.ino}` : undefined; } catch { return undefined; }
}

/** Called by the loader with the text it read from `path` (its byte-order mark dropped). */
export function noteScenarioText(path: string, text: string): void {
  read.set(path, { text, stamp: stampOf(path) });
}

/** A path that names a file descriptor (or another pseudo-file), not a file that stays. */
function isDescriptorPath(path: string): boolean {
  const abs = resolve(path);
  if (abs.startsWith(`/dev/shm${sep}`)) return false;
  return ['/dev', '/proc'].some((r) => abs === r || abs.startsWith(r + sep));
}

function stillHolds(path: string, r: Read): boolean {
  const now = stampOf(path);
  if (now === undefined) return false;
  if (now === r.stamp) return true;
  try {
    const text = readFileSync(path, 'utf8');
    return (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) === r.text;
  } catch { return false; }
}

/** The copies made by this process: text's SHA -> path. */
const copies = new Map<string, string>();

/**
 * The path a command that runs the scenario again should name: `file` itself, or the copy of the
 * text read from it (see above). Where the copy cannot be written ($TMPDIR not writable), `file`.
 */
export function reproducibleFile(file: string): string {
  const r = read.get(file);
  if (!r) return file;
  if (!isDescriptorPath(file) && stillHolds(file, r)) return file;
  const sha = createHash('sha256').update(r.text).digest('hex').slice(0, 16);
  const made = copies.get(sha);
  if (made !== undefined && stillHolds(made, { text: r.text, stamp: stampOf(made) })) return made;
  const copy = join(tmpdir(), `vrange-scenario-${sha}.yaml`);
  try {
    if (!stillHolds(copy, { text: r.text, stamp: undefined })) writeOutput(copy, r.text);
  } catch {
    return file;
  }
  copies.set(sha, copy);
  return copy;
}
