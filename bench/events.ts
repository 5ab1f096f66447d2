/** Seeded synthetic STIX 2.1 events for benchmarks: 3–5 SCOs each, about 600–900 bytes. */

/** Small fast seeded PRNG (mulberry32), so that every run measures the same data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PROCESSES = [
  'bash',
  'sh',
  'nginx',
  'powershell.exe',
  'winword.exe',
  'python3',
  'sshd',
  'cmd.exe',
  'curl',
  'java',
];
const PATHS = [
  '/etc/shadow',
  '/etc/passwd',
  '/var/log/auth.log',
  'C:\\Windows\\System32\\cmd.exe',
  '/tmp/x.sh',
  '/usr/bin/curl',
];

/** `offset` continues a stream: ids and times go on from event number `offset`. */
export function syntheticEvents(count: number, seed = 1, offset = 0): object[] {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  const events: object[] = [];
  const base = Date.UTC(2026, 0, 1);
  for (let i = offset; i < offset + count; i++) {
    const t = new Date(base + i * 1000).toISOString();
    const ip = `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`;
    const objects: Record<string, unknown>[] = [
      {
        type: 'process',
        id: `process--${i}-p`,
        name: pick(PROCESSES),
        pid: Math.floor(random() * 65535),
        command_line: `${pick(PROCESSES)} -c run ${i}`,
        x_host_id: `host-${i % 50}`,
        image_ref: `file--${i}-f`,
      },
      {
        type: 'file',
        id: `file--${i}-f`,
        name: pick(PATHS).split(/[\\/]/).pop(),
        hashes: { 'SHA-256': (i * 7919).toString(16).padStart(64, '0') },
        size: Math.floor(random() * 1e6),
      },
      { type: 'ipv4-addr', id: `ipv4-addr--${i}-a`, value: ip },
      {
        type: 'network-traffic',
        id: `network-traffic--${i}-n`,
        dst_ref: `ipv4-addr--${i}-a`,
        dst_port: pick([22, 80, 443, 4444, 8080, 3389]),
        protocols: ['ipv4', 'tcp'],
      },
    ];
    if (random() < 0.5)
      objects.push({
        type: 'user-account',
        id: `user-account--${i}-u`,
        user_id: `u${i % 100}`,
        account_login: `user${i % 100}`,
      });
    events.push({
      type: 'bundle',
      id: `bundle--${i}`,
      objects: [
        {
          type: 'observed-data',
          id: `observed-data--${i}`,
          spec_version: '2.1',
          first_observed: t,
          last_observed: t,
          number_observed: 1,
          object_refs: objects.map((o) => o.id),
        },
        ...objects,
      ],
    });
  }
  return events;
}
