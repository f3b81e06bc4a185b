#!/usr/bin/env node
// Entry point of the `vrange` command: the compiled coordinator CLI (dist/, built by `npm ci`).
let cli;
try {
  cli = await import('../dist/coordinator/cli.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('vrange: the compiled code is missing; run `npm ci` (or `npm run build`) in the vrange folder first\n');
    process.exit(2);
  }
  throw e;
}
// `vrange run ... | head`: a reader that goes away early is not an error; the run still ends cleanly.
process.stdout.on('error', (e) => { if (e.code !== 'EPIPE') throw e; });
process.exitCode = await cli.main(process.argv.slice(2));
