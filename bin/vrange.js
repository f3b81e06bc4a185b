#!/usr/bin/env node
// Entry point of the `vrange` command: the compiled coordinator CLI.
import { main } from '../dist/coordinator/cli.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
