/**
 * What one event costs in DynamoDB request units, for the three workloads of docs/cost.md: the whole
 * pipeline (`Detector.processObserved`: engine, gate, alert ledger) on the DynamoDB store against dynalite,
 * batches of 100, metered by DynamoDB's size rules (src/state/item-size.ts; state items are billed by their
 * stored, deflated size). docs/cost.md takes its first table's measured rows from here.
 *
 * - stateless only: the 3,000 mixed rules of bench/rules.ts without their stateful ones;
 * - 100 correlation rules: bench/streaming.ts's sequences, ANDs and REPEATS per host;
 * - 3,000 mixed rules: bench/rules.ts's rule set as it is.
 *
 * Runnable alone: `npm run bench -- --section ./cost.ts`.
 */
import { Detector } from '../src/pipeline/detector.js';
import type { Rule } from '../src/rules/model.js';
import { ensureStateTable, startDynamo } from '../src/emulators/emulators.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import type { ObservedData, ObservedEvent, StixObject } from '../src/stix/types.js';
import { syntheticEvents } from './events.js';
import { mixedRules } from './rules.js';
import { sequenceRules } from './streaming.js';
import type { BenchRow } from './table.js';

const EVENTS = 5000;
const BATCH = 100;

/** A rule that keeps state between events: more than one observation, or a window or repetition. */
export function isStateful(rule: Rule): boolean {
  return rule.pattern.observations.length > 1 || /\b(WITHIN|REPEATS|START)\b/.test(rule.patternText);
}

/** The bench's synthetic bundles as the pipeline's normalised events (observed-data and its objects). */
function observedEvents(count: number, seed: number): ObservedEvent[] {
  return syntheticEvents(count, seed).map((bundle) => {
    const objects = (bundle as { objects: StixObject[] }).objects;
    return {
      observedData: objects.find((o) => o.type === 'observed-data') as unknown as ObservedData,
      objects: objects.filter((o) => o.type !== 'observed-data'),
    };
  });
}

export async function benchCost(): Promise<BenchRow[]> {
  const mixed = mixedRules(3000);
  const workloads: [string, Rule[]][] = [
    ['stateless only', mixed.filter((r) => !isStateful(r))],
    ['100 correlation rules', sequenceRules(100)],
    ['3,000 mixed rules', mixed],
  ];
  const events = observedEvents(EVENTS, 31);
  const rows: BenchRow[] = [];
  const dynamo = await startDynamo();
  try {
    for (const [index, [name, rules]] of workloads.entries()) {
      const tableName = `cost-${index}`;
      await ensureStateTable(dynamo.client, tableName);
      const store = new DynamoDbStateStore({ client: dynamo.client, tableName });
      const detector = new Detector({ rules, store });
      let alerts = 0;
      for (let i = 0; i < events.length; i += BATCH) {
        const result = await detector.processObserved(events.slice(i, i + BATCH));
        if (result.errors.length > 0) throw new Error(`bench: ${name}: ${result.errors[0]?.message}`);
        alerts += result.alerts.length;
      }
      const { writes, writeUnits, readUnits, keysRead } = store.stats;
      const stateful = rules.filter(isStateful).length;
      rows.push({
        name: `${name}: alerts per event`,
        value: alerts / EVENTS,
        unit: 'alerts/event',
        note: `${rules.length} rules (${stateful} stateful), ${EVENTS} events in batches of ${BATCH}`,
      });
      rows.push({
        name: `${name}: state write units per event`,
        value: writeUnits / EVENTS,
        unit: 'WRU/event',
        note: `${writes} conditional writes of ${(writeUnits / Math.max(1, writes)).toFixed(2)} WRU on average (correlation items, ledger, gate)`,
      });
      rows.push({
        name: `${name}: state read units per event`,
        value: readUnits / EVENTS,
        unit: 'RRU/event',
        note: `${keysRead} keys read, strongly consistent`,
      });
    }
  } finally {
    await dynamo.stop();
  }
  return rows;
}
