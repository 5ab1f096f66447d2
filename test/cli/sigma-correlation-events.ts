/** Sysmon process events (evtx-dump shape) of three users for the Sigma correlation tests. */
const WHOAMI = 'C:\\Windows\\System32\\whoami.exe';
const NET = 'C:\\Windows\\System32\\net.exe';

/** A Sysmon process creation (event 1) as an evtx dump writes it. */
export function processEvent(time: string, image: string, user: string, record: number): object {
  return {
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } },
        EventID: 1,
        TimeCreated: { '#attributes': { SystemTime: `2026-11-30T${time}.000000Z` } },
        EventRecordID: record,
        Channel: 'Microsoft-Windows-Sysmon/Operational',
        Computer: 'ws-07.corp.example',
      },
      EventData: {
        UtcTime: `2026-11-30 ${time}.000`,
        ProcessId: 4000 + record,
        Image: image,
        CommandLine: image.split('\\').pop(),
        User: user,
      },
    },
  };
}

// ana: whoami, net, whoami within 20 s (3 events, 2 tools, whoami before net);
// bo: whoami, then net 9.5 minutes later (never within any timespan);
// carol: net, then whoami 10 s later (both within a minute, but not in the order whoami → net).
export const EVENTS = [
  processEvent('08:00:01', WHOAMI, 'CORP\\ana', 1),
  processEvent('08:00:11', NET, 'CORP\\ana', 2),
  processEvent('08:00:21', WHOAMI, 'CORP\\ana', 3),
  processEvent('08:00:31', WHOAMI, 'CORP\\bo', 4),
  processEvent('08:10:00', NET, 'CORP\\bo', 5),
  processEvent('08:20:00', NET, 'CORP\\carol', 6),
  processEvent('08:20:10', WHOAMI, 'CORP\\carol', 7),
];
