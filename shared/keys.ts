// CURVE key files for agents on other machines.
//
// `vrange keygen --out DIR --name NAME` writes two text files, each one Z85 key (40 characters)
// on one line: DIR/NAME.key (the secret key, mode 0600: whoever has it is NAME) and DIR/NAME.pub
// (the public key, safe to copy to the other machine). Options name the secret file; its public
// key is read from the `.pub` beside it (zeromq.js cannot derive one from the other).
//
// The kernel's trusted agents (`--trust PATH`): a directory (every `*.pub` file in it is one
// trusted agent key) or a file (one key per line; blank lines and `#` comments are skipped).

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { InputError, readInputText, writeOutput } from './files.js';
import { keyFileBytesMax } from './limits.js';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { isZ85Key } from './transport.js';

export class KeyError extends Error {}

export interface KeyPair { publicKey: string; secretKey: string }

/** Writes NAME.key and NAME.pub in `dir`; refuses to overwrite an existing pair. */
export function writeKeyPair(dir: string, name: string): { secretFile: string; publicFile: string; publicKey: string } {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new KeyError(`--name: "${name}" is not allowed; use letters, digits, '.', '_' and '-'`);
  mkdirSync(dir, { recursive: true });
  const secretFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  for (const f of [secretFile, publicFile]) if (existsSync(f)) throw new KeyError(`${f} exists; remove it or choose another --name`);
  const pair = curveKeyPair();
  // Each written whole (a temporary file renamed into place); the secret one created mode 0600.
  writeOutput(secretFile, pair.secretKey + '\n', 0o600);
  writeOutput(publicFile, pair.publicKey + '\n');
  return { secretFile, publicFile, publicKey: pair.publicKey };
}

function readKeyFile(file: string, what: string): string {
  let text: string;
  try { text = readInputText(file, what, keyFileBytesMax); } catch (e) { throw new KeyError(e instanceof InputError ? e.message : `${what} ${file}: cannot be read`); }
  const key = text.trim();
  if (!isZ85Key(key)) throw new KeyError(`${what} ${file}: not a CURVE key (40 Z85 characters, as \`vrange keygen\` writes)`);
  return key;
}

/** A key pair from its secret file (NAME.key) and the NAME.pub beside it. */
export function readKeyPair(secretFile: string): KeyPair {
  if (!secretFile.endsWith('.key')) throw new KeyError(`${secretFile}: a secret key file ends in .key (see \`vrange keygen\`)`);
  const secretKey = readKeyFile(secretFile, 'secret key');
  const publicKey = readKeyFile(secretFile.slice(0, -'.key'.length) + '.pub', 'public key');
  return { publicKey, secretKey };
}

/** A public key file (NAME.pub). */
export function readPublicKey(file: string): string { return readKeyFile(file, 'public key'); }

/** The trusted agent keys: every *.pub in a directory, or one key per line of a file. */
export function readTrusted(path: string): Set<string> {
  let st;
  try { st = statSync(path); } catch { throw new KeyError(`--trust ${path}: no such file or directory`); }
  const keys = new Set<string>();
  if (st.isDirectory()) {
    for (const f of readdirSync(path).filter((n) => n.endsWith('.pub')).sort()) keys.add(readPublicKey(join(path, f)));
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
