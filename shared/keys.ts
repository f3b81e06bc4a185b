// CURVE key files for agents on other machines.
//
// `vrange keygen --out DIR --name NAME` writes two text files, each one Z85 key (40 characters)
// on one line: DIR/NAME.key (the secret key, mode 0600: whoever has it is NAME) and DIR/NAME.pub
// (the public key, safe to copy to the other machine), as a pair (writeKeyPair). Options name the
// secret file; its public key is read from the `.pub` beside it (zeromq.js cannot derive one from
// the other).
//
// The kernel's trusted agents (`--trust PATH`): a directory (every `*.pub` file in it is one
// trusted agent key) or a file (one key per line; blank lines and `#` comments are skipped).

import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { InputError, outputNameBytesMax, readInputText, removeStaleTemporaries, staleTemporaries, temporaryOf } from './files.js';
import { keyFileBytesMax } from './limits.js';
import { dirname, join, resolve } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { isZ85Key } from './transport.js';

export class KeyError extends Error {}

export interface KeyPair { publicKey: string; secretKey: string }

/**
 * Writes NAME.key and NAME.pub in `dir`, as a pair: both written whole into temporaries first, then
 * linked into place, NAME.pub then NAME.key, each refused if the name exists (link(2) does not
 * replace), so NAME.key is there only once its NAME.pub is. What a SIGKILL can leave: temporaries
 * (removed by the next keygen of the name), or, between the two links, NAME.pub alone, still the
 * same file as its temporary: the next keygen of the name removes such a half pair and writes a
 * new one. Refuses to overwrite an existing pair (or a NAME.pub of another origin).
 */
export function writeKeyPair(dir: string, name: string): { secretFile: string; publicFile: string; publicKey: string } {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new KeyError(`--name: ${JSON.stringify(name)} is not allowed; use letters, digits, '.', '_' and '-'`);
  // NAME.key and NAME.pub, and their temporaries, must be names the system takes.
  const nameMax = outputNameBytesMax - '.key'.length;
  if (name.length > nameMax) throw new KeyError(`--name: ${name.length} characters; at most ${nameMax} (NAME.key and its temporary must fit the system's 255-byte file names)`);
  mkdirSync(dir, { recursive: true });
  const secretFile = resolve(dir, `${name}.key`);
  const publicFile = resolve(dir, `${name}.pub`);
  removeHalfPair(secretFile, publicFile);
  removeStaleTemporaries(secretFile);
  removeStaleTemporaries(publicFile);
  const shown = { secret: join(dir, `${name}.key`), public: join(dir, `${name}.pub`) };
  for (const [f, as] of [[secretFile, shown.secret], [publicFile, shown.public]] as const) if (existsSync(f)) throw new KeyError(`${as} exists; remove it or choose another --name`);
  const pair = curveKeyPair();
  const tmpPub = temporaryOf(publicFile);
  const tmpKey = temporaryOf(secretFile);
  try {
    writeSynced(tmpPub, pair.publicKey + '\n', 0o666); // as any output: the umask decides
    writeSynced(tmpKey, pair.secretKey + '\n', 0o600); // the secret one created mode 0600
    place(tmpPub, publicFile, shown.public);
    try { place(tmpKey, secretFile, shown.secret); } catch (e) { rmSync(publicFile, { force: true }); throw e; }
    syncDir(dirname(publicFile));
  } finally {
    rmSync(tmpPub, { force: true });
    rmSync(tmpKey, { force: true });
  }
  return { secretFile: shown.secret, publicFile: shown.public, publicKey: pair.publicKey };
}

/** Creates `path` (it must not exist) holding `text`, on disk before it returns. */
function writeSynced(path: string, text: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try { writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
}

/** File systems without hard links answer link(2) so. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Gives the written temporary its name: a second link to it, refused if the name exists; on a file
 * system without hard links, a rename over a name checked free just before.
 */
function place(tmp: string, file: string, shown: string): void {
  const exists = () => new KeyError(`${shown} exists; remove it or choose another --name`);
  try { linkSync(tmp, file); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw exists();
    if (!NO_LINKS.has(code)) throw new KeyError(`cannot write ${shown}: ${(e as Error).message}`);
    if (existsSync(file)) throw exists();
    try { renameSync(tmp, file); } catch (e2) { throw new KeyError(`cannot write ${shown}: ${(e2 as Error).message}`); }
  }
}

function syncDir(dir: string): void {
  try { const fd = openSync(dir, 'r'); try { fsyncSync(fd); } finally { closeSync(fd); } } catch { /* not every file system syncs a directory */ }
}

/**
 * A keygen killed between its two links left NAME.pub without NAME.key, NAME.pub still the same
 * file (inode) as the temporary it was linked from, whose writer is gone: that NAME.pub is removed.
 * A NAME.pub of any other origin (a key copied from another machine) is never touched.
 */
function removeHalfPair(secretFile: string, publicFile: string): void {
  if (existsSync(secretFile)) return;
  let pub;
  try { pub = lstatSync(publicFile); } catch { return; }
  if (!pub.isFile() || pub.nlink < 2) return;
  for (const tmp of staleTemporaries(publicFile)) {
    try {
      const t = lstatSync(tmp);
      if (t.ino === pub.ino && t.dev === pub.dev) { rmSync(publicFile, { force: true }); return; }
    } catch { /* gone meanwhile */ }
  }
}

function readKeyFile(file: string, what: string): string {
  let text: string;
  try { text = readInputText(file, what, keyFileBytesMax); } catch (e) { throw new KeyError(e instanceof InputError ? e.message : `${what} ${file}: cannot be read`); }
  const key = text.trim();
  if (!isZ85Key(key)) throw new KeyError(`${what} ${file}: not a CURVE key (40 Z85 characters, as \`vrange keygen\` writes)`);
  return key;
}

/** A key pair from its secret file (NAME.key) and the NAME.pub beside it; `flag` (`--key`) names the option that gave it in every message. */
export function readKeyPair(secretFile: string, flag = '--key'): KeyPair {
  if (!secretFile.endsWith('.key')) throw new KeyError(`${flag} ${secretFile}: a secret key file ends in .key (see \`vrange keygen\`)`);
  const secretKey = readKeyFile(secretFile, flag);
  const publicKey = readKeyFile(secretFile.slice(0, -'.key'.length) + '.pub', `${flag} ${secretFile}: its public key`);
  return { publicKey, secretKey };
}

/** A public key file (NAME.pub); `what` (`--server-key`) names the option that gave it. */
export function readPublicKey(file: string, what = '--server-key'): string { return readKeyFile(file, what); }

/** The trusted agent keys: every *.pub in a directory, or one key per line of a file. */
export function readTrusted(path: string): Set<string> {
  let st;
  try { st = statSync(path); } catch { throw new KeyError(`--trust ${path}: no such file or directory`); }
  const keys = new Set<string>();
  if (st.isDirectory()) {
    for (const f of readdirSync(path).filter((n) => n.endsWith('.pub')).sort()) keys.add(readPublicKey(join(path, f), `--trust ${path}: public key`));
  } else {
    let text: string;
    try { text = readInputText(path, '--trust', keyFileBytesMax); } catch (e) { throw new KeyError(e instanceof InputError ? e.message : `--trust ${path}: cannot be read`); }
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      if (!isZ85Key(line)) throw new KeyError(`--trust ${path} line ${i + 1}: not a CURVE public key (40 Z85 characters)`);
      keys.add(line);
    });
  }
  if (keys.size === 0) throw new KeyError(`--trust ${path}: no public key in it (a directory of *.pub files, or a file with one key per line)`);
  return keys;
}
