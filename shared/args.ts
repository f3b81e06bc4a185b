// Command-line options of the `vrange` commands, parsed by one pure function so that every
// command refuses bad arguments the same way: one line naming the option and what is allowed.
//
// Unlike node's parseArgs, an option's value may start with `-` (`--seed -3` is the value "-3",
// then refused as a seed, not "argument is ambiguous"); only an argument that starts with `--`
// is never taken as a value, so `--trace --json` says that --trace needs a value.

import { didYouMean } from './suggest.js';

/**
 * A user error in the arguments: exit 2, one line (the CLI adds "see `vrange help CMD`"). The
 * message is one line whatever it quotes (a value holding a newline is shown escaped, `\u{a}`);
 * `more` are lines of advice the CLI prints after it (how to make keys), never the user's text alone.
 */
export class UsageError extends Error {
  constructor(message: string, readonly more: readonly string[] = []) { super(message); }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given more than once (values are collected in order). */
  multiple?: boolean;
  /** What a value may be, for messages: "a whole number from 1 to 4000000". */
  value?: string | (() => string);
  /** The commands that take it, when the table is shared (default: every command of the table). */
  commands?: readonly string[];
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export type Values<T extends OptionTable> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : T[K]['multiple'] extends true ? string[] : string;
};

/**
 * Splits `args` into option values and positionals, refusing: an unknown option (with the closest
 * known one), an option of another command, a missing or empty value, a value given to a
 * true/false option, and a single option given twice. `--` ends the options.
 */
export function parseCommandArgs<T extends OptionTable>(command: string, args: readonly string[], table: T): { values: Values<T>; positionals: string[] } {
  const values: Record<string, string | boolean | string[]> = {};
  const hint = (spec: OptionSpec) => (typeof spec.value === 'function' ? spec.value() : spec.value);
  const positionals: string[] = [];
  const known = Object.keys(table).filter((k) => !table[k]!.commands || table[k]!.commands!.includes(command));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') { positionals.push(...args.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (!m) throw new UsageError(`unknown option ${JSON.stringify(arg)}; ${command} takes ${known.length ? known.map((k) => `--${k}`).join(', ') : 'no options'}`);
    const name = m[1]!;
    const spec = Object.hasOwn(table, name) ? table[name]! : undefined;
    if (!spec) {
      throw new UsageError(`unknown option --${name}; ${command} takes ${known.length ? known.map((k) => `--${k}`).join(', ') : 'no options'}`
        + didYouMean(name, known).replace(/"([^"]+)"/, '--$1'));
    }
    if (spec.commands && !spec.commands.includes(command)) {
      throw new UsageError(`--${name} goes with ${spec.commands.filter((c) => c !== 'kernel').join(' or ')}, not ${command}`);
    }
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value (it is on when given), got "--${name}=${m[2]}"`);
      value = true;
    } else {
      const inline = m[2];
      const next = args[i + 1];
      if (inline !== undefined) value = inline;
      else if (next !== undefined && !next.startsWith('--')) { value = next; i++; }
      else throw new UsageError(`--${name} needs a value${hint(spec) ? `: ${hint(spec)}` : ''}`);
      if (value === '') throw new UsageError(`--${name}: the value is empty${hint(spec) ? `; expected ${hint(spec)}` : ''}`);
    }
    if (spec.multiple) {
      ((values[name] ??= []) as string[]).push(value as string);
    } else {
      if (Object.hasOwn(values, name)) throw new UsageError(`--${name} is given twice; give it once`);
      values[name] = value;
    }
  }
  return { values: values as Values<T>, positionals };
}

/** A value that must be one of `allowed` (undefined stays undefined). */
export function oneOfValue<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag}: "${value}" is not allowed; allowed: ${allowed.join(', ')}${didYouMean(value, allowed)}`);
  }
  return value as T;
}

/** A value that must be a whole number from min to max (written in decimal digits). */
export function wholeValue(flag: string, value: string | undefined, min: number, max: number, unit = ''): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag}: "${value}" is not allowed; expected a whole number${unit} from ${min} to ${max}`);
  }
  return Number(value);
}
