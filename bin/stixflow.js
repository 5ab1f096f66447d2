#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`, which `npm ci` runs through `prepare`).
import { runAsProcess } from '../dist/src/cli/process.js';

await runAsProcess(process.argv.slice(2));
