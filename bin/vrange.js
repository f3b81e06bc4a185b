#!/usr/bin/env node
// Entry point of the `vrange` command: the compiled coordinator CLI (dist/, built by `npm ci`).
// The CLI as one file when its bundle is fresh, else its module tree (dist/cli/load.js).
let cli;
try {
  cli = await (await import('../dist/cli/load.js')).loadCli();
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('vrange: the compiled code is missing; run `npm ci` (or `npm run build`) in the vrange folder first\n');
    process.exit(2);
  }
  throw e;
}
// An error that escapes main() (thrown in a callback, a rejected promise nobody awaited) is a bug
// in vrange, never the user's: say so, with the command that shows it, and exit 70 (not 1 or 2).
const bug = (e) => {
  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  process.stderr.write(`vrange: internal error (a bug in vrange, not a problem with the input): ${e?.stack ?? e}\n`
    + `please report it with the command that shows it: vrange ${process.argv.slice(2).map(quote).join(' ')}\n`);
  process.exit(70);
};
process.on('uncaughtException', bug);
process.on('unhandledRejection', bug);
// `vrange run ... | head`: a reader that goes away early is not an error; the run still ends cleanly.
// Nor is a terminal that has gone (EIO, after a hangup: SIGHUP stops the run, shared/lifecycle.ts).
const gone = (e) => { if (e.code !== 'EPIPE' && e.code !== 'EIO') throw e; };
process.stdout.on('error', gone);
process.stderr.on('error', gone);
process.exitCode = await cli.main(process.argv.slice(2));
