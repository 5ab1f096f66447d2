/**
 * The Sigma taxonomy table: which events a Sigma logsource selects, and where each Sigma field of it is in an
 * event the built-in mappings normalised (paths rooted at x-oca-event). Documented in docs/sigma-taxonomy.md;
 * proved field by field against the windows fixtures in test/rules/sigma-taxonomy.test.ts.
 *
 * Windows is written out by hand: Sigma's Windows field names are the EventData names, and the paths chosen are
 * the ones holding the value *as written* (the full image path `file:x_path`, the user as `DOMAIN\name`
 * `process:x_user`, the Hashes text), because Sigma compares whole values the mapping also splits. Where no
 * STIX/OCA property holds the value as written, the windows mapping keeps it in `x-oca-event:x_event_data`.
 * The other products' tables are derived from their mappings (taxonomy.ts): their Sigma field names are the
 * source's own field names.
 *
 * Kept as code rather than a data file so that it ships wherever the compiled code goes (the package's dist/,
 * the bundled Lambda functions) with nothing to read at run time.
 */
import type { FieldValueType } from './taxonomy-types.js';

/** A field's paths (rooted at x-oca-event) and their type; a bare string is one string-typed path. */
export type FieldEntry = string | { paths: readonly string[]; type?: FieldValueType };

const EVENT = 'x-oca-event';
const PROCESS = `${EVENT}:process_ref`;
const PARENT = `${EVENT}:parent_process_ref`;
const TARGET_PROCESS = `${EVENT}:x_target_process_ref`;
const FILE = `${EVENT}:file_ref`;
const REGISTRY = `${EVENT}:registry_ref`;
const NETWORK = `${EVENT}:network_ref`;
const USER = `${EVENT}:user_ref`;
const TARGET_USER = `${EVENT}:x_target_user_ref`;
const MEMBER_USER = `${EVENT}:x_member_user_ref`;

/** Where the windows mapping keeps an EventData field as written (the raw-field fallback). */
export function windowsRawPath(name: string): string {
  return `${EVENT}:x_event_data.'${name}'`;
}

const int = (...paths: string[]): FieldEntry => ({ paths, type: 'integer' });
const bool = (...paths: string[]): FieldEntry => ({ paths, type: 'boolean' });
const text = (...paths: string[]): FieldEntry => ({ paths });
/** A mapped path whose transform may refuse a value (an address that is not one): then it is in x_event_data. */
const orRaw = (name: string, path: string): FieldEntry => ({ paths: [path, windowsRawPath(name)] });
const raw = (name: string): FieldEntry => windowsRawPath(name);

/**
 * Unnamed EventData (the classic PowerShell events' `Name=value` texts, older providers' values) is `Data`: one
 * text, or a list of them, which a comparison holds on when it holds on any element.
 */
export const WINDOWS_UNNAMED_DATA: FieldEntry = text(windowsRawPath('Data'), `${windowsRawPath('Data')}[*]`);

/** Sigma's Windows fields (Sysmon, Security, System, PowerShell EventData and the System block). */
export const WINDOWS_FIELDS: Readonly<Record<string, FieldEntry>> = {
  // ---- the event (System block) ----
  EventID: `${EVENT}:code`,
  Channel: `${EVENT}:x_channel`,
  Provider_Name: `${EVENT}:provider`,
  Computer: `${EVENT}:host_ref.hostname`,
  EventRecordID: `${EVENT}:x_record_id`,
  Keywords: `${EVENT}:x_keywords`,
  RuleName: `${EVENT}:x_rule_name`,
  Message: `${EVENT}:x_message`,

  // ---- the acting process: its image as written, whichever field the event names it by ----
  Image: `${PROCESS}.image_ref.x_path`,
  SourceImage: `${PROCESS}.image_ref.x_path`,
  NewProcessName: `${PROCESS}.image_ref.x_path`,
  // Defender's `Process Name` is not the mapping's ProcessName: it is kept as written, under ProcessName too.
  ProcessName: orRaw('ProcessName', `${PROCESS}.image_ref.x_path`),
  Application: `${PROCESS}.image_ref.x_path`,
  ProcessId: int(`${PROCESS}.pid`),
  ProcessID: int(`${PROCESS}.pid`),
  NewProcessId: int(`${PROCESS}.pid`),
  SourceProcessId: int(`${PROCESS}.pid`),
  ProcessGuid: `${PROCESS}.x_entity_id`,
  SourceProcessGuid: `${PROCESS}.x_entity_id`,
  SourceProcessGUID: `${PROCESS}.x_entity_id`,
  CommandLine: `${PROCESS}.command_line`,
  CurrentDirectory: `${PROCESS}.cwd`,
  IntegrityLevel: `${PROCESS}.x_integrity_level`,
  MandatoryLabel: `${PROCESS}.x_integrity_level`,
  TokenElevationType: raw('TokenElevationType'),
  LogonId: `${PROCESS}.x_logon_id`,
  LogonGuid: `${PROCESS}.x_logon_guid`,
  TerminalSessionId: int(`${PROCESS}.x_terminal_session_id`),
  User: `${PROCESS}.x_user`,
  SourceUser: `${PROCESS}.x_user`,
  // The mapping puts PE metadata on the process image, for Sysmon 7's loaded image too.
  OriginalFileName: `${PROCESS}.image_ref.x_original_file_name`,
  FileVersion: `${PROCESS}.image_ref.x_file_version`,
  Description: `${PROCESS}.image_ref.x_description`,
  Product: `${PROCESS}.image_ref.x_product`,
  Company: `${PROCESS}.image_ref.x_company`,
  // Hashes are the process image's in Sysmon 1 and the event's file elsewhere: exactly one of the two is set.
  Hashes: text(`${PROCESS}.image_ref.x_hashes_text`, `${FILE}.x_hashes_text`),
  Hash: `${FILE}.x_hashes_text`,
  md5: text(`${PROCESS}.image_ref.hashes.MD5`, `${FILE}.hashes.MD5`),
  sha1: text(`${PROCESS}.image_ref.hashes.'SHA-1'`, `${FILE}.hashes.'SHA-1'`),
  sha256: text(`${PROCESS}.image_ref.hashes.'SHA-256'`, `${FILE}.hashes.'SHA-256'`),
  Imphash: text(`${PROCESS}.image_ref.x_imphash`, `${FILE}.x_imphash`),
  Signed: bool(`${FILE}.x_signed`),
  Signature: `${FILE}.x_signature`,
  SignatureStatus: `${FILE}.x_signature_status`,

  // ---- the parent process ----
  ParentImage: `${PARENT}.image_ref.x_path`,
  ParentProcessName: `${PARENT}.image_ref.x_path`,
  ParentProcessId: int(`${PARENT}.pid`),
  ParentProcessGuid: `${PARENT}.x_entity_id`,
  ParentCommandLine: `${PARENT}.command_line`,
  ParentUser: `${PARENT}.x_user`,

  // ---- the target process (8 CreateRemoteThread, 10 ProcessAccess) ----
  TargetImage: `${TARGET_PROCESS}.image_ref.x_path`,
  TargetProcessId: int(`${TARGET_PROCESS}.pid`),
  TargetProcessGuid: `${TARGET_PROCESS}.x_entity_id`,
  TargetProcessGUID: `${TARGET_PROCESS}.x_entity_id`,
  TargetUser: `${TARGET_PROCESS}.x_user`,
  GrantedAccess: `${EVENT}:x_granted_access`,
  CallTrace: `${EVENT}:x_call_trace`,
  StartAddress: `${EVENT}:x_start_address`,
  StartModule: `${EVENT}:x_start_module`,
  StartFunction: `${EVENT}:x_start_function`,
  NewThreadId: int(`${EVENT}:x_new_thread_id`),
  SourceThreadId: int(`${EVENT}:x_source_thread_id`),

  // ---- accounts (Security) ----
  SubjectUserName: `${USER}.account_login`,
  SubjectDomainName: `${USER}.x_domain`,
  SubjectUserSid: `${USER}.user_id`,
  SubjectLogonId: `${USER}.x_logon_id`,
  AccountName: `${USER}.account_login`,
  UserName: `${USER}.account_login`,
  UserSid: `${USER}.user_id`,
  AccountDomain: `${USER}.x_domain`,
  TargetUserName: `${TARGET_USER}.account_login`,
  TargetDomainName: `${TARGET_USER}.x_domain`,
  TargetUserSid: `${TARGET_USER}.user_id`,
  TargetSid: `${TARGET_USER}.user_id`,
  TargetLogonId: `${TARGET_USER}.x_logon_id`,
  TargetLinkedLogonId: `${TARGET_USER}.x_linked_logon_id`,
  TargetOutboundUserName: `${TARGET_USER}.x_outbound_account_login`,
  TargetOutboundDomainName: `${TARGET_USER}.x_outbound_domain`,
  SamAccountName: `${TARGET_USER}.x_sam_account_name`,
  DisplayName: `${TARGET_USER}.display_name`,
  UserPrincipalName: `${TARGET_USER}.x_user_principal_name`,
  MemberName: `${MEMBER_USER}.x_distinguished_name`,
  MemberSid: `${MEMBER_USER}.user_id`,
  Action: `${EVENT}:x_action_text`,
  PrivilegeList: `${EVENT}:x_privileges`,
  LogonType: raw('LogonType'),
  LogonProcessName: `${EVENT}:x_logon_process`,
  AuthenticationPackageName: `${EVENT}:x_authentication_package`,
  LmPackageName: `${EVENT}:x_lm_package`,
  ElevatedToken: raw('ElevatedToken'),
  ImpersonationLevel: raw('ImpersonationLevel'),
  WorkstationName: `${EVENT}:x_source_workstation`,
  Workstation: `${EVENT}:x_source_workstation`,
  Status: `${EVENT}:x_status`,
  SubStatus: `${EVENT}:x_sub_status`,
  FailureReason: raw('FailureReason'),
  TicketEncryptionType: `${EVENT}:x_ticket_encryption_type`,
  TicketOptions: `${EVENT}:x_ticket_options`,
  PreAuthType: `${EVENT}:x_pre_auth_type`,

  // ---- network (Sysmon 3, Security 5156 and the logon addresses) ----
  SourceIp: orRaw('SourceIp', `${NETWORK}.src_ref.value`),
  SourceAddress: orRaw('SourceAddress', `${NETWORK}.src_ref.value`),
  IpAddress: orRaw('IpAddress', `${NETWORK}.src_ref.value`),
  ClientAddress: orRaw('ClientAddress', `${NETWORK}.src_ref.value`),
  DestinationIp: orRaw('DestinationIp', `${NETWORK}.dst_ref.value`),
  DestAddress: orRaw('DestAddress', `${NETWORK}.dst_ref.value`),
  SourcePort: int(`${NETWORK}.src_port`),
  IpPort: int(`${NETWORK}.src_port`),
  ClientPort: int(`${NETWORK}.src_port`),
  DestinationPort: int(`${NETWORK}.dst_port`),
  DestPort: int(`${NETWORK}.dst_port`),
  Protocol: raw('Protocol'),
  SourceHostname: `${NETWORK}.x_src_hostname`,
  DestinationHostname: `${NETWORK}.x_dst_hostname`,
  SourcePortName: `${NETWORK}.x_src_port_name`,
  DestinationPortName: `${NETWORK}.x_dst_port_name`,
  SourceIsIpv6: bool(`${NETWORK}.x_src_is_ipv6`),
  DestinationIsIpv6: bool(`${NETWORK}.x_dst_is_ipv6`),
  Initiated: bool(`${NETWORK}.x_initiated`),
  Direction: raw('Direction'),
  LayerName: raw('LayerName'),

  // ---- files ----
  TargetFilename: `${FILE}.x_path`,
  ImageLoaded: `${FILE}.x_path`,
  Path: `${FILE}.x_path`,
  // A 4656/4663 object: a file, a registry key, another named object, or (an unlisted type) kept as written.
  ObjectName: text(`${FILE}.x_path`, `${REGISTRY}.x_path`, `${EVENT}:x_object_name`, windowsRawPath('ObjectName')),
  ObjectType: `${EVENT}:x_object_type`,
  ObjectServer: `${EVENT}:x_object_server`,
  ObjectValueName: `${REGISTRY}.values[0].name`,
  OperationType: `${EVENT}:x_operation_type`,
  AccessMask: `${EVENT}:x_access_mask`,
  AccessList: raw('AccessList'),
  Accesses: raw('Accesses'),
  Properties: `${EVENT}:x_properties`,
  HandleId: `${EVENT}:x_handle_id`,
  ShareName: `${EVENT}:x_share_name`,
  ShareLocalPath: `${FILE}.parent_directory_ref.path`,
  RelativeTargetName: raw('RelativeTargetName'),
  CreationUtcTime: raw('CreationUtcTime'),
  PreviousCreationUtcTime: raw('PreviousCreationUtcTime'),
  IsExecutable: bool(`${FILE}.x_is_executable`),
  Archived: bool(`${FILE}.x_archived`),
  Contents: `${FILE}.x_contents`,

  // ---- registry (Sysmon 12/13/14, Security 4657) ----
  TargetObject: `${REGISTRY}.x_path`,
  Details: `${REGISTRY}.values[0].data`,
  NewValue: `${REGISTRY}.values[0].data`,
  OldValue: `${REGISTRY}.x_old_data`,
  NewName: raw('NewName'),
  EventType: `${EVENT}:x_event_type`,
  OperationTypeName: `${EVENT}:x_operation_type`,

  // ---- DNS (Sysmon 22) ----
  QueryName: `${EVENT}:domain_ref.value`,
  QueryStatus: `${EVENT}:domain_ref.x_query_status`,
  QueryResults: `${EVENT}:domain_ref.x_query_results`,

  // ---- pipes, WMI, tampering, Sysmon state ----
  PipeName: `${EVENT}:x_pipe_name`,
  EventNamespace: `${EVENT}:x_wmi_namespace`,
  Name: `${EVENT}:x_name`,
  Query: `${EVENT}:x_wmi_query`,
  Consumer: `${EVENT}:x_wmi_consumer`,
  Filter: `${EVENT}:x_wmi_filter`,
  Destination: `${EVENT}:x_wmi_destination`,
  Operation: `${EVENT}:x_operation`,
  Type: `${EVENT}:x_type`,
  Configuration: `${EVENT}:x_configuration`,
  ConfigurationFileHash: `${EVENT}:x_configuration_hash`,
  State: `${EVENT}:x_state`,
  Device: `${EVENT}:x_device`,

  // ---- services (7045, 4697) and scheduled tasks (4698–4702) ----
  ServiceName: `${PROCESS}.extensions.'windows-service-ext'.service_name`,
  ServiceFileName: `${PROCESS}.command_line`,
  ImagePath: `${PROCESS}.command_line`,
  ServiceType: `${PROCESS}.extensions.'windows-service-ext'.service_type`,
  StartType: `${PROCESS}.extensions.'windows-service-ext'.start_type`,
  ServiceStartType: `${PROCESS}.extensions.'windows-service-ext'.start_type`,
  ServiceAccount: `${PROCESS}.extensions.'windows-service-ext'.x_account`,
  TaskName: `${EVENT}:x_task_name`,
  TaskContent: `${EVENT}:x_task_content`,
  TaskContentNew: `${EVENT}:x_task_content`,

  // ---- audit policy ----
  CategoryId: `${EVENT}:x_audit_category`,
  SubcategoryId: `${EVENT}:x_audit_subcategory`,
  SubcategoryGuid: `${EVENT}:x_audit_subcategory_guid`,
  AuditPolicyChanges: raw('AuditPolicyChanges'),

  // ---- PowerShell (4103, 4104) ----
  ScriptBlockText: `${EVENT}:x_script_block_text`,
  ScriptBlockId: `${EVENT}:x_script_block_id`,
  MessageNumber: int(`${EVENT}:x_message_number`),
  MessageTotal: int(`${EVENT}:x_message_total`),
  Payload: `${EVENT}:x_payload`,
  ContextInfo: `${EVENT}:x_context_info`,
  HostApplication: `${PROCESS}.command_line`,
  Data: WINDOWS_UNNAMED_DATA,
};

/**
 * Fields whose meaning depends on the logsource. Security rules name 4688's fields as Windows writes them: there
 * ProcessId is the creator, in hex, which the mapping keeps as written; process_creation rules mean the new process.
 */
export const WINDOWS_FIELDS_BY_SERVICE: Readonly<Record<string, Readonly<Record<string, FieldEntry>>>> = {
  security: { ProcessId: raw('ProcessId') },
};

/** Sigma's file_access (Kernel-File's FileName), read from the Security object-access events that carry it. */
export const WINDOWS_FIELDS_BY_CATEGORY: Readonly<Record<string, Readonly<Record<string, FieldEntry>>>> = {
  file_access: { FileName: `${FILE}.x_path` },
};

/** Sigma's Windows services and the event log channels they read (pySigma's windows pipeline names). */
export const WINDOWS_SERVICE_CHANNELS: Readonly<Record<string, readonly string[]>> = {
  security: ['Security'],
  system: ['System'],
  application: ['Application'],
  sysmon: ['Microsoft-Windows-Sysmon/Operational'],
  powershell: ['Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational'],
  'powershell-classic': ['Windows PowerShell'],
  taskscheduler: ['Microsoft-Windows-TaskScheduler/Operational'],
  wmi: ['Microsoft-Windows-WMI-Activity/Operational'],
  'dns-server': ['DNS Server'],
  'dns-server-audit': ['Microsoft-Windows-DNS-Server/Audit'],
  'dns-server-analytic': ['Microsoft-Windows-DNS-Server/Analytical'],
  'dns-client': ['Microsoft-Windows-DNS Client Events/Operational'],
  'driver-framework': ['Microsoft-Windows-DriverFrameworks-UserMode/Operational'],
  ntlm: ['Microsoft-Windows-NTLM/Operational'],
  dhcp: ['Microsoft-Windows-DHCP-Server/Operational'],
  'msexchange-management': ['MSExchange Management'],
  applocker: [
    'Microsoft-Windows-AppLocker/MSI and Script',
    'Microsoft-Windows-AppLocker/EXE and DLL',
    'Microsoft-Windows-AppLocker/Packaged app-Deployment',
    'Microsoft-Windows-AppLocker/Packaged app-Execution',
  ],
  'printservice-admin': ['Microsoft-Windows-PrintService/Admin'],
  'printservice-operational': ['Microsoft-Windows-PrintService/Operational'],
  'codeintegrity-operational': ['Microsoft-Windows-CodeIntegrity/Operational'],
  'smbclient-security': ['Microsoft-Windows-SmbClient/Security'],
  'firewall-as': ['Microsoft-Windows-Windows Firewall With Advanced Security/Firewall'],
  'bits-client': ['Microsoft-Windows-Bits-Client/Operational'],
  windefend: ['Microsoft-Windows-Windows Defender/Operational'],
  'terminalservices-localsessionmanager': ['Microsoft-Windows-TerminalServices-LocalSessionManager/Operational'],
  'appxdeployment-server': ['Microsoft-Windows-AppXDeploymentServer/Operational'],
  'iis-configuration': ['Microsoft-IIS-Configuration/Operational'],
  capi2: ['Microsoft-Windows-CAPI2/Operational'],
  openssh: ['OpenSSH/Operational'],
  'shell-core': ['Microsoft-Windows-Shell-Core/Operational'],
  'lsa-server': ['Microsoft-Windows-LSA/Operational'],
  'appmodel-runtime': ['Microsoft-Windows-AppModel-Runtime/Admin'],
  vhd: ['Microsoft-Windows-VHDMP/Operational'],
  'diagnosis-scripted': ['Microsoft-Windows-Diagnosis-Scripted/Operational'],
  'microsoft-servicebus-client': ['Microsoft-ServiceBus-Client'],
  ldap_debug: ['Microsoft-Windows-LDAP-Client/Debug'],
};

/** One way a generic Windows category is logged: a channel, its event ids, and optional further equalities. */
export interface WindowsSelection {
  channel: string;
  codes: readonly number[];
  /** Further conditions on x-oca-event properties, each an IN list (Sysmon 12's EventType). */
  where?: Readonly<Record<string, readonly string[]>>;
}

const SYSMON = 'Microsoft-Windows-Sysmon/Operational';
const sysmon = (codes: number[], where?: Record<string, string[]>): WindowsSelection =>
  where === undefined ? { channel: SYSMON, codes } : { channel: SYSMON, codes, where };
const security = (codes: number[], where?: Record<string, string[]>): WindowsSelection =>
  where === undefined ? { channel: 'Security', codes } : { channel: 'Security', codes, where };
const powershell = (codes: number[]): WindowsSelection[] => [
  { channel: 'Microsoft-Windows-PowerShell/Operational', codes },
  { channel: 'PowerShellCore/Operational', codes },
];
const classic = (codes: number[]): WindowsSelection => ({ channel: 'Windows PowerShell', codes });

/**
 * Sigma's generic Windows categories (pySigma's sysmon and windows-audit pipelines): the Sysmon event ids, and
 * the Security events where Windows auditing logs the same thing.
 */
export const WINDOWS_CATEGORIES: Readonly<Record<string, readonly WindowsSelection[]>> = {
  process_creation: [sysmon([1]), security([4688])],
  file_change: [sysmon([2])],
  network_connection: [sysmon([3])],
  sysmon_status: [sysmon([4, 16])],
  process_termination: [sysmon([5])],
  driver_load: [sysmon([6])],
  image_load: [sysmon([7])],
  create_remote_thread: [sysmon([8])],
  raw_access_thread: [sysmon([9])],
  process_access: [sysmon([10])],
  file_event: [sysmon([11])],
  registry_add: [
    sysmon([12], { x_event_type: ['CreateKey'] }),
    security([4657], { x_operation_type: ['%%1904', 'New registry value created'] }),
  ],
  registry_delete: [
    sysmon([12], { x_event_type: ['DeleteKey', 'DeleteValue'] }),
    security([4657], { x_operation_type: ['%%1906', 'Registry value deleted'] }),
  ],
  registry_set: [sysmon([13]), security([4657], { x_operation_type: ['%%1905', 'Existing registry value modified'] })],
  registry_rename: [sysmon([14])],
  registry_event: [sysmon([12, 13, 14]), security([4657])],
  create_stream_hash: [sysmon([15])],
  pipe_created: [sysmon([17, 18])],
  wmi_event: [sysmon([19, 20, 21])],
  dns_query: [sysmon([22])],
  file_delete: [sysmon([23])],
  clipboard_capture: [sysmon([24])],
  process_tampering: [sysmon([25])],
  file_delete_detected: [sysmon([26])],
  file_block_executable: [sysmon([27])],
  file_block_shredding: [sysmon([28])],
  file_executable_detected: [sysmon([29])],
  sysmon_error: [sysmon([255])],
  file_access: [security([4663], { x_object_type: ['File'] })],
  ps_module: powershell([4103]),
  ps_script: powershell([4104]),
  ps_classic_start: [classic([400])],
  ps_classic_provider_start: [classic([600])],
  ps_classic_script: [classic([800])],
};
