import { generateEvents, findUnsatisfiable } from '../../src/generate/index.js';
const pats = process.argv.slice(2);
for (const p of pats) {
  try {
    console.log('UNSAT', JSON.stringify(findUnsatisfiable(p)));
    const sets = generateEvents(p, { count: 1, seed: 3 });
    console.log(JSON.stringify(sets[0], null, 0));
    const misses = generateEvents(p, { miss: true, seed: 3 });
    for (const m of misses) console.log('MISS', m.kind, m.description);
  } catch (e) { console.log('ERR', (e as Error).message); }
}
