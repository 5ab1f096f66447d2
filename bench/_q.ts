import { benchRules } from './rules.js';
console.log((await benchRules({ indicators: 1000 })).slice(0, 2).map((r) => `${r.name}: ${Math.round(r.value * 100) / 100} ${r.note}`).join('\n'));
