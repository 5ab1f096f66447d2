import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { layoutOf, readObjectEvents, type ObjectBatch, type ObjectLayout } from '../../src/ingest/object-reader.js';

function chunked(bytes: Buffer, size = 7): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    })(),
    { objectMode: false },
  );
}

async function readAll(
  bytes: Buffer | string,
  options: Parameters<typeof readObjectEvents>[1] = {},
): Promise<{ batches: ObjectBatch[]; layout?: ObjectLayout; gzip?: boolean }> {
  const out: { batches: ObjectBatch[]; layout?: ObjectLayout; gzip?: boolean } = { batches: [] };
  const source = chunked(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  for await (const batch of readObjectEvents(source, {
    ...options,
    onLayout: (layout, gzip) => Object.assign(out, { layout, gzip }),
  }))
    out.batches.push(batch);
  return out;
}

const events = (batches: ObjectBatch[]) => batches.flatMap((b) => b.events);
const rejections = (batches: ObjectBatch[]) => batches.flatMap((b) => b.rejections);

const record = (i: number) => ({ eventVersion: '1.09', eventID: `id-${i}`, eventName: 'GetObject', n: i });
/** A record with a seeded, barely compressible field, so that gzip'd sizes stay close to the text's. */
function noisyRecord(i: number): Record<string, unknown> {
  let x = (i * 2654435761 + 12345) >>> 0;
  let noise = '';
  for (let k = 0; k < 6; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    noise += x.toString(36);
  }
  return { ...record(i), noise };
}

describe('readObjectEvents', () => {
  it('reads NDJSON in batches, plain and gzip, with indexes in object order', async () => {
    const text = [0, 1, 2, 3, 4].map((i) => JSON.stringify(record(i))).join('\n') + '\n';
    for (const bytes of [Buffer.from(text), gzipSync(text)]) {
      const read = await readAll(bytes, { batchSize: 2 });
      expect(read.layout).toBe('lines');
      expect(read.gzip).toBe(bytes[0] === 0x1f);
      expect(read.batches.map((b) => b.events.length)).toEqual([2, 2, 1]);
      expect(events(read.batches).map((e) => [e.index, (e.value as { n: number }).n])).toEqual([
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ]);
    }
  });

  it('streams the Records array of a CloudTrail file on one line, gzip or not', async () => {
    const file = JSON.stringify({ Records: [0, 1, 2, 3, 4, 5, 6].map(record) });
    for (const bytes of [Buffer.from(file), gzipSync(file)]) {
      const read = await readAll(bytes, { batchSize: 3 });
      expect(read.layout).toBe('records');
      expect(read.batches.map((b) => b.events.length)).toEqual([3, 3, 1]);
      expect(events(read.batches).map((e) => (e.value as { eventID: string }).eventID)).toEqual(
        [0, 1, 2, 3, 4, 5, 6].map((i) => `id-${i}`),
      );
    }
  });

  it('streams a top-level JSON array element by element', async () => {
    const read = await readAll(`  [${[0, 1, 2].map((i) => JSON.stringify(record(i))).join(',\n')}]`, { batchSize: 2 });
    expect(read.layout).toBe('array');
    expect(events(read.batches).map((e) => e.index)).toEqual([0, 1, 2]);
  });

  it('yields the first batch long before the end of a large object (nothing is read whole)', async () => {
    // 20,000 records (about 2.5 MB decoded, 1 MB gzip'd), pulled in 16 KiB chunks: the reader must hand out batches as it goes.
    const total = 20_000;
    const file = gzipSync(JSON.stringify({ Records: Array.from({ length: total }, (_, i) => noisyRecord(i)) }));
    for (const [layout, bytes] of [
      ['records', file],
      ['lines', gzipSync(Array.from({ length: total }, (_, i) => JSON.stringify(noisyRecord(i))).join('\n'))],
    ] as const) {
      let pulled = 0;
      const source = Readable.from(
        (function* () {
          for (let at = 0; at < bytes.length; at += 16 * 1024) {
            const chunk = bytes.subarray(at, at + 16 * 1024);
            pulled += chunk.length;
            yield chunk;
          }
        })(),
        { objectMode: false },
      );
      let pulledAtFirstBatch = -1;
      let seen = 0;
      for await (const batch of readObjectEvents(source, { batchSize: 100 })) {
        if (pulledAtFirstBatch < 0) pulledAtFirstBatch = pulled;
        seen += batch.events.length;
      }
      expect(seen, layout).toBe(total);
      expect(pulledAtFirstBatch, layout).toBeGreaterThan(0);
      expect(pulledAtFirstBatch, layout).toBeLessThan(bytes.length / 4);
    }
  });

  it('applies the VPC Flow Logs header line to every batch', async () => {
    const header =
      'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction';
    const lines = [0, 1, 2].map(
      (i) =>
        `5 444455556666 eni-0a1b 10.1.2.${i} 203.0.113.9 4915${i} 443 6 12 4096 1717327200 1717327260 ACCEPT OK egress`,
    );
    const read = await readAll(gzipSync([header, ...lines].join('\n') + '\n'), { batchSize: 1 });
    expect(read.batches.length).toBeGreaterThanOrEqual(3);
    const values = events(read.batches).map((e) => e.value as Record<string, string>);
    expect(values.map((v) => v.srcaddr)).toEqual(['10.1.2.0', '10.1.2.1', '10.1.2.2']);
    expect(values.every((v) => v['flow-direction'] === 'egress')).toBe(true);
    expect(rejections(read.batches)).toEqual([]);
  });

  it('reports a broken line with its line number and reads the rest; skips a line over the limit', async () => {
    const text = [
      JSON.stringify(record(0)),
      '{"broken":',
      JSON.stringify(record(2)),
      `{"long":"${'x'.repeat(300)}"}`,
      JSON.stringify(record(4)),
    ].join('\n');
    const read = await readAll(text, { batchSize: 2, maxLineBytes: 200 });
    expect(events(read.batches).map((e) => (e.value as { n: number }).n)).toEqual([0, 2, 4]);
    const problems = rejections(read.batches);
    expect(problems.map((r) => [r.code, r.line])).toEqual([
      ['invalid-json', 2],
      ['line-too-long', 4],
    ]);
    // One index per event or unreadable part, in object order.
    expect([...events(read.batches), ...problems].map((e) => e.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  });

  it('reads pretty-printed values one after another, cutting batches only between values', async () => {
    const text = [0, 1, 2, 3].map((i) => JSON.stringify(record(i), null, 2)).join('\n');
    const read = await readAll(text, { batchSize: 2 });
    expect(events(read.batches).map((e) => (e.value as { n: number }).n)).toEqual([0, 1, 2, 3]);
    expect(rejections(read.batches)).toEqual([]);
  });

  it('keeps what came before damaged gzip data or a broken Records file, and says so', async () => {
    const full = gzipSync([0, 1, 2, 3].map((i) => JSON.stringify(record(i))).join('\n'));
    const cut = await readAll(full.subarray(0, full.length - 12), { batchSize: 10 });
    expect(rejections(cut.batches).map((r) => r.code)).toEqual(['invalid-gzip']);

    const broken = `{"Records":[${JSON.stringify(record(0))},${JSON.stringify(record(1))},{"eventID": nope}]}`;
    const read = await readAll(broken, { batchSize: 10 });
    expect(events(read.batches).map((e) => e.index)).toEqual([0, 1]);
    expect(rejections(read.batches)).toEqual([
      expect.objectContaining({
        code: 'invalid-records',
        index: 2,
        reason: expect.stringContaining('after element 2'),
      }),
    ]);
  });

  it('tells the layout from the first characters', () => {
    expect(layoutOf('\ufeff {"Records" : [')).toBe('records');
    expect(layoutOf('{"eventVersion":"1.0","Records":[]}')).toBe('lines');
    expect(layoutOf('\n[{"a":1}]')).toBe('array');
    expect(layoutOf('')).toBe('lines');
  });
});
