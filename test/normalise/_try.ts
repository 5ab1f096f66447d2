import { createNormaliser, toBundle } from '../../src/normalise/index.js';
const n = createNormaliser({ tenant: 'acme' });
const events = [
  {"event_type": "process_create", "process_name": "bash", "parent_process_name": "nginx", "dst_port": 4444, "path": "/etc/shadow", "timestamp": 1508174148030},
  {"process": "powershell.exe", "parent_process": "winword.exe", "datetime": "2017-10-16T17:15:48.030123"},
  {"@timestamp": "2024-05-01T10:00:00.123Z", "ecs": {"version": "8.11.0"}, "event": {"id": "abc", "kind": "event", "category": ["process"], "type": ["start"]},
   "process": {"name": "cmd.exe", "pid": 4242, "executable": "C:\\Windows\\System32\\cmd.exe", "parent": {"name": "explorer.exe", "pid": "12"}, "hash": {"sha256": "aa"}},
   "source": {"ip": "10.0.0.1", "port": 5555}, "destination.ip": "2001:db8::1", "destination": {"port": 443}, "network": {"transport": "TCP"},
   "host": {"name": "ws1", "ip": ["10.0.0.1", "fe80::1"], "os": {"family": "windows"}}, "agent": {"name": "a"}, "user.name": "bob",
   "registry": {"path": "HKLM\\SOFTWARE\\Run\\evil", "value": "evil", "data": {"strings": ["c:\\evil.exe"], "type": "REG_SZ"}}},
  {"foo": 1}, 42, {"@timestamp": "garbage", "process": {"name": "x"}},
];
for (const [i, e] of events.entries()) {
  const r = n.normalise(e, i);
  console.log(JSON.stringify(r.ok ? r.events.map(toBundle) : r.diagnostic, null, 1));
}
