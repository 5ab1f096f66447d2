/**
 * One cold start, in the process that runs this file (the parent starts a fresh `node` for it):
 * load the rules the way the functions do (a rules directory, through its precompiled form
 * when it has a current one) and build the Detector with the built-in mappings, then print the
 * milliseconds as JSON. Module loading is left out: it is the bundle's cost (bench/coldstart.ts).
 *
 *   node --import tsx bench/coldstart-child.ts <rules directory>
 */
import { performance } from 'node:perf_hooks';
import { Detector } from '../src/pipeline/detector.js';
import { loadRulesFromPaths } from '../src/rules/load.js';
import { InMemoryStateStore } from '../src/state/memory-store.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: coldstart-child.ts <rules directory>');
const cpu = process.cpuUsage();
const start = performance.now();
const { rules, diagnostics } = loadRulesFromPaths([dir]);
const loaded = performance.now();
new Detector({ rules, store: new InMemoryStateStore() });
const built = performance.now();
const used = process.cpuUsage(cpu);
process.stdout.write(
  JSON.stringify({
    totalMs: built - start,
    // CPU time of the process (all its threads): on a machine shared with other work, closer
    // to what the init costs than the wall clock.
    cpuMs: (used.user + used.system) / 1000,
    loadMs: loaded - start,
    detectorMs: built - loaded,
    rules: rules.length,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    stale: diagnostics.some((d) => d.code === 'rules-compiled-stale'),
  }),
);
