// Files the user names on the command line: inputs are read only if they are regular files under
// a size limit, as strict UTF-8; outputs are checked before a run starts and written whole (to a
// temporary file beside the target, then renamed), so a bad path is refused up front and nothing
// half-written is ever left: a writer SIGKILLed mid-write leaves its temporary, which the next
// write of the same file removes. Each problem is an InputError: one line naming the option and the
// path, exit code 2.

import { accessSync, closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { processStartTime, sameProcessAlive } from './procfs.js';
import { basename, dirname, join, resolve, sep } from 'node:path';

export class InputError extends Error {}

const mib = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`);

/** Pseudo file systems whose files are not data: reading them may never end, writing them may hang (/dev/shm excepted). */
const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];

function underSpecial(path: string): string | undefined {
  if (path.startsWith(`/dev/shm${sep}`)) return undefined; // an ordinary tmpfs
  return SPECIAL_ROOTS.find((r) => path === r || path.startsWith(r + sep));
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** The position of the first byte that is not UTF-8, as "byte N (line L)"; undefined if all is. */
export function firstBadUtf8(buf: Buffer): string | undefined {
  const valid = (n: number) => {
    try { new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: n < buf.length }); return true; } catch { return false; }
  };
  if (valid(buf.length)) return undefined;
  // The longest valid prefix (a prefix that stops inside a character is valid when streaming).
  let lo = 0;
  let hi = buf.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (valid(mid)) lo = mid; else hi = mid;
  }
  // Byte `lo` (counted from 0) is the first that no UTF-8 text can have there; when only the end
  // is wrong (a character cut short), the offset is that of the character's first byte.
  let at = lo;
  if (hi === buf.length) while (at > 0 && (buf[at]! & 0xc0) === 0x80 && lo - at < 3) at--;
  let line = 1;
  for (let k = 0; k < at; k++) if (buf[k] === 0x0a) line++;
  return `byte offset ${at} (line ${line})`;
}

/**
 * Reads `path` as text: refused (with `what`, e.g. "--schedule-file", in the message) when it is not
 * a regular file, is larger than `maxBytes` (checked before reading, and again on what is read),
 * or is not valid UTF-8. A byte-order mark at the start is dropped.
 */
export function readInputText(path: string, what: string, maxBytes: number): string {
  const name = what ? `${what} ${path}` : path;
  if (path === '') throw new InputError(`${what || 'the file'}: the path is empty`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not hang; it is refused below anyway.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (ENOENT)' : code === 'EACCES' ? 'permission denied (EACCES)' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be opened (${code ?? (e as Error).message})`;
    throw new InputError(`${name}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${name}: is ${kindOf(st)}; give a regular file`);
    const special = underSpecial(realpathOr(path));
    if (special) throw new InputError(`${name}: is under ${special}, which holds no data files; give a regular file`);
    if (st.size > maxBytes) throw new InputError(`${name}: is ${st.size} bytes; at most ${mib(maxBytes)} are read`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > maxBytes) throw new InputError(`${name}: is larger than ${mib(maxBytes)}; at most ${mib(maxBytes)} are read`);
      if (got === buf.length) break; // grew while read: the next pass sees the limit
    }
    const bytes = buf.subarray(0, got);
    const bad = firstBadUtf8(bytes);
    if (bad) throw new InputError(`${name}: is not UTF-8 text: invalid byte at ${bad}`);
    const text = bytes.toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } finally {
    closeSync(fd);
  }
}

function realpathOr(path: string): string {
  try { return realpathSync(path); } catch { return resolve(path); }
}

/** Linux's NAME_MAX and PATH_MAX (less its NUL): a longer name or path fails with ENAMETOOLONG. */
const nameBytesMax = 255;
const pathBytesMax = 4095;
/** What a temporary adds to a file's name (temporaryOf): `.` NAME `.PID.START.RAND.tmp`, a pid of at most 7 digits, a start time of at most 20, 8 random characters. */
const temporaryNameBytes = 1 + 1 + 7 + 1 + 20 + 1 + 8 + 4;
/** The longest file name (bytes) vrange writes: its temporary beside it must still be a name the system takes. */
export const outputNameBytesMax = nameBytesMax - temporaryNameBytes;

/**
 * Refuses, before anything runs, a path the system would refuse as too long (ENAMETOOLONG, which
 * came as an internal error after the run, or as "no such directory"): a name in it longer than
 * 255 bytes, or the whole (made absolute) longer than 4095; for a file vrange writes (`written`),
 * a file name longer than outputNameBytesMax, so that its temporary is one too.
 */
export function checkPathLength(path: string, what: string, written: boolean): void {
  const abs = resolve(path);
  const bytes = Buffer.byteLength(abs);
  const pathMax = pathBytesMax - (written ? temporaryNameBytes : 0);
  if (bytes > pathMax) throw new InputError(`${what} ${path}: the path is ${bytes} bytes long (made absolute); at most ${pathMax}, the system's limit${written ? ' less what its temporary adds' : ''}`);
  const long = abs.split(sep).find((part) => Buffer.byteLength(part) > nameBytesMax);
  if (long !== undefined) throw new InputError(`${what} ${path}: a name in it is ${Buffer.byteLength(long)} bytes long; at most ${nameBytesMax}, the system's limit`);
  const name = Buffer.byteLength(basename(abs));
  if (written && name > outputNameBytesMax) {
    throw new InputError(`${what} ${path}: the file name is ${name} bytes long; at most ${outputNameBytesMax} (it is written to a temporary beside it, ${temporaryNameBytes} bytes longer, then renamed)`);
  }
}

/** A directory to list (`vrange list DIR`): it must exist and be a directory. */
export function checkInputDir(path: string, what: string): void {
  checkPathLength(path, what, false);
  let st;
  try { st = statSync(path); } catch { throw new InputError(`${what} ${path}: no such directory`); }
  if (!st.isDirectory()) throw new InputError(`${what} ${path}: is ${st.isFile() ? 'a file' : kindOf(st)}, not a directory`);
}

/**
 * Checks, before anything runs, that `path` can be written by writeOutput: its directory exists, is
 * a directory and is writable; the path is not a directory or other non-regular file; and it is not
 * under /proc, /sys or /dev. `flag` names the option for the message (e.g. "--trace").
 */
export function checkOutputPath(path: string, flag: string): void {
  if (path === '') throw new InputError(`${flag}: the path is empty; give a file to write`);
  // resolve() drops a trailing `/` or `/.`: `out.html/` would be written as the file out.html.
  if (/(?:^|\/)(?:\.\.?)?$/.test(path)) throw new InputError(`${flag} ${path}: ends with ${path.endsWith('/') ? '/' : `"${basename(path)}"`}, so it names a directory; give a file to write`);
  checkPathLength(path, flag, true);
  const abs = resolve(path);
  const dir = dirname(abs);
  let dst;
  try { dst = statSync(dir); } catch { throw new InputError(`${flag} ${path}: the directory ${dir} does not exist`); }
  if (!dst.isDirectory()) throw new InputError(`${flag} ${path}: ${dir} is not a directory`);
  const special = underSpecial(realpathOr(dir)) ?? underSpecial(abs);
  if (special) throw new InputError(`${flag} ${path}: is under ${special}, where vrange writes no files; give a path in an ordinary directory`);
  try { accessSync(dir, constants.W_OK | constants.X_OK); } catch { throw new InputError(`${flag} ${path}: the directory ${dir} is not writable`); }
  let st;
  try { st = statSync(abs); } catch { return; } // does not exist yet: fine
  if (!st.isFile()) throw new InputError(`${flag} ${path}: is ${kindOf(st)}; give a file to write`);
}

/** This process's start time (/proc/PID/stat), in its temporaries' names; `x` where /proc cannot be read. */
let ownStart: string | undefined;
const ownStartTime = (): string => (ownStart ??= processStartTime(process.pid) ?? 'x');

/**
 * A temporary file of `abs`, beside it: `.NAME.PID.START.RAND.tmp`, naming the writer (its pid and
 * start time, so that a pid used again later is not taken for it).
 */
export function temporaryOf(abs: string): string {
  return join(dirname(abs), `.${basename(abs)}.${process.pid}.${ownStartTime()}.${Math.random().toString(36).slice(2, 10)}.tmp`);
}

/**
 * The temporaries of `abs` that no live writer owns: left by a vrange killed while it wrote
 * (SIGKILL; nothing else stops a synchronous write half-way). Their writer's pid is no process now,
 * or a process that started at another time. Only this user's regular files; a temporary of an
 * older vrange (`.NAME.PID.RAND.tmp`, no start time) is judged by its pid alone. A temporary whose
 * writer is alive (another vrange writing the same file now) is left to it.
 */
export function staleTemporaries(abs: string): string[] {
  const dir = dirname(abs);
  const head = `.${basename(abs)}.`;
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const uid = process.getuid?.();
  const out: string[] = [];
  for (const name of names) {
    if (!name.startsWith(head)) continue;
    const m = /^(\d+)\.(?:(\d+|x)\.)?[a-z0-9]+\.tmp$/.exec(name.slice(head.length));
    if (!m) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid)) continue;
    } catch { continue; }
    if (!sameProcessAlive(Number(m[1]), m[2] === undefined || m[2] === 'x' ? undefined : m[2])) out.push(path);
  }
  return out;
}

/** Removes the stale temporaries of `abs` (staleTemporaries); one another process removes first is no error. */
export function removeStaleTemporaries(abs: string): void {
  for (const path of staleTemporaries(abs)) rmSync(path, { force: true });
}

/**
 * Writes `text` to `path` whole: into a temporary file beside it, renamed over it at the end. The
 * temporaries an earlier writer of the same path left when it was killed are removed first.
 */
export function writeOutput(path: string, text: string | Buffer, mode?: number): void {
  const abs = resolve(path);
  removeStaleTemporaries(abs);
  const tmp = temporaryOf(abs);
  try {
    writeFileSync(tmp, text, { flag: 'wx', ...(mode !== undefined ? { mode } : {}) });
    renameSync(tmp, abs);
  } catch (e) {
    // The temporary may not exist, or not be removable: the write's own error is the one to tell.
    try { rmSync(tmp, { force: true }); } catch { /* nothing to remove */ }
    throw new InputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/**
 * Checks a directory that a command will create files in (`keygen --out DIR`): it exists and is a
 * writable directory, or it does not exist yet and its nearest existing parent is one; and it is
 * not under /proc, /sys or /dev.
 */
export function checkOutputDir(path: string, flag: string): void {
  if (path === '') throw new InputError(`${flag}: the path is empty; give a directory`);
  checkPathLength(path, flag, false);
  const abs = resolve(path);
  let at = abs;
  for (;;) {
    let st;
    try { st = statSync(at); } catch { const up = dirname(at); if (up === at) break; at = up; continue; }
    if (!st.isDirectory()) throw new InputError(`${flag} ${path}: ${at === abs ? 'is' : `${at} is`} ${st.isFile() ? 'a file' : kindOf(st)}, not a directory`);
    const special = underSpecial(realpathOr(at)) ?? underSpecial(abs);
    if (special) throw new InputError(`${flag} ${path}: is under ${special}, where vrange writes no files; give an ordinary directory`);
    try { accessSync(at, constants.W_OK | constants.X_OK); } catch { throw new InputError(`${flag} ${path}: ${at === abs ? 'is not writable' : `cannot be created: ${at} is not writable`}`); }
    return;
  }
}
