/**
 * The STIX 2.1 Cyber-observable data model as the type checker needs it: each SCO type's
 * properties with their types, the predefined extensions, and the OCA extension objects
 * (`x-oca-event`, `x-oca-asset`) the built-in mappings emit. Written in a compact notation and
 * expanded once: `string`, `integer`, `float`, `boolean`, `timestamp`, `hex`, `binary`, `hashes`,
 * `dictionary`, `ref:a|b` (a reference to an object of one of those types; `ref:*` any),
 * `refs:a|b` (a list of references), `list:<type>`, `object:<name>` (a nested object type below).
 *
 * Sources: STIX 2.1 (OASIS Standard, section 6 "STIX Cyber-observable Objects" and its
 * extensions); the OCA STIX extensions (github.com/opencybersecurityalliance/stix-extensions:
 * x-oca-event, x-oca-asset).
 */

export type PropertyType =
  | { kind: 'string' | 'integer' | 'float' | 'boolean' | 'timestamp' | 'hex' | 'binary' | 'hashes' | 'dictionary' }
  | { kind: 'ref'; targets: readonly string[] | 'any' }
  | { kind: 'list'; of: PropertyType }
  | { kind: 'object'; name: string; properties: ReadonlyMap<string, PropertyType> }
  /** `extensions`: keyed by extension name; the predefined ones have known properties. */
  | { kind: 'extensions'; known: ReadonlyMap<string, PropertyType> };

type Notation = Record<string, string>;

/** Properties every SCO has (STIX 2.1 section 6.1 and the common properties). */
const COMMON: Notation = {
  type: 'string',
  id: 'string',
  spec_version: 'string',
  object_marking_refs: 'refs:marking-definition',
  granular_markings: 'list:object:granular-marking',
  defanged: 'boolean',
  extensions: 'extensions',
};

/** Nested object types (not SCOs): referenced as `object:<name>`. */
const NESTED: Record<string, Notation> = {
  'granular-marking': { lang: 'string', marking_ref: 'ref:marking-definition', selectors: 'list:string' },
  'mime-part': {
    body: 'string',
    body_raw_ref: 'ref:artifact|file',
    content_type: 'string',
    content_disposition: 'string',
  },
  'alternate-data-stream': { name: 'string', hashes: 'hashes', size: 'integer' },
  'windows-pe-optional-header': {
    magic_hex: 'hex',
    major_linker_version: 'integer',
    minor_linker_version: 'integer',
    size_of_code: 'integer',
    size_of_initialized_data: 'integer',
    size_of_uninitialized_data: 'integer',
    address_of_entry_point: 'integer',
    base_of_code: 'integer',
    base_of_data: 'integer',
    image_base: 'integer',
    section_alignment: 'integer',
    file_alignment: 'integer',
    major_os_version: 'integer',
    minor_os_version: 'integer',
    major_image_version: 'integer',
    minor_image_version: 'integer',
    major_subsystem_version: 'integer',
    minor_subsystem_version: 'integer',
    win32_version_value_hex: 'hex',
    size_of_image: 'integer',
    size_of_headers: 'integer',
    checksum_hex: 'hex',
    subsystem_hex: 'hex',
    dll_characteristics_hex: 'hex',
    size_of_stack_reserve: 'integer',
    size_of_stack_commit: 'integer',
    size_of_heap_reserve: 'integer',
    size_of_heap_commit: 'integer',
    loader_flags_hex: 'hex',
    number_of_rva_and_sizes: 'integer',
    hashes: 'hashes',
  },
  'windows-pe-section': { name: 'string', size: 'integer', entropy: 'float', hashes: 'hashes' },
  'windows-registry-value': { name: 'string', data: 'string', data_type: 'string' },
  'x509-v3-extensions': {
    basic_constraints: 'string',
    name_constraints: 'string',
    policy_constraints: 'string',
    key_usage: 'string',
    extended_key_usage: 'string',
    subject_key_identifier: 'string',
    authority_key_identifier: 'string',
    subject_alternative_name: 'string',
    issuer_alternative_name: 'string',
    subject_directory_attributes: 'string',
    crl_distribution_points: 'string',
    inhibit_any_policy: 'string',
    private_key_usage_period_not_before: 'timestamp',
    private_key_usage_period_not_after: 'timestamp',
    certificate_policies: 'string',
    policy_mappings: 'string',
  },
  // Predefined extensions (STIX 2.1 sections 6.7.2–6.7.6, 6.12.2–6.12.5, 6.13.2–6.13.3, 6.16.2).
  'archive-ext': { contains_refs: 'refs:file|directory', comment: 'string' },
  'ntfs-ext': { sid: 'string', alternate_data_streams: 'list:object:alternate-data-stream' },
  'pdf-ext': {
    version: 'string',
    is_optimized: 'boolean',
    document_info_dict: 'dictionary',
    pdfid0: 'string',
    pdfid1: 'string',
  },
  'raster-image-ext': {
    image_height: 'integer',
    image_width: 'integer',
    bits_per_pixel: 'integer',
    exif_tags: 'dictionary',
  },
  'windows-pebinary-ext': {
    pe_type: 'string',
    imphash: 'string',
    machine_hex: 'hex',
    number_of_sections: 'integer',
    time_date_stamp: 'timestamp',
    pointer_to_symbol_table_hex: 'hex',
    number_of_symbols: 'integer',
    size_of_optional_header: 'integer',
    characteristics_hex: 'hex',
    file_header_hashes: 'hashes',
    optional_header: 'object:windows-pe-optional-header',
    sections: 'list:object:windows-pe-section',
  },
  'http-request-ext': {
    request_method: 'string',
    request_value: 'string',
    request_version: 'string',
    request_header: 'dictionary',
    message_body_length: 'integer',
    message_body_data_ref: 'ref:artifact',
  },
  'icmp-ext': { icmp_type_hex: 'hex', icmp_code_hex: 'hex' },
  'socket-ext': {
    address_family: 'string',
    is_blocking: 'boolean',
    is_listening: 'boolean',
    options: 'dictionary',
    socket_type: 'string',
    socket_descriptor: 'integer',
    socket_handle: 'integer',
  },
  'tcp-ext': { src_flags_hex: 'hex', dst_flags_hex: 'hex' },
  'windows-process-ext': {
    aslr_enabled: 'boolean',
    dep_enabled: 'boolean',
    priority: 'string',
    owner_sid: 'string',
    window_title: 'string',
    startup_info: 'dictionary',
    integrity_level: 'string',
  },
  'windows-service-ext': {
    service_name: 'string',
    descriptions: 'list:string',
    display_name: 'string',
    group_name: 'string',
    start_type: 'string',
    service_dll_refs: 'refs:file',
    service_type: 'string',
    service_status: 'string',
  },
  'unix-account-ext': { gid: 'integer', groups: 'list:string', home_dir: 'string', shell: 'string' },
};

/** Which predefined extensions each SCO type may carry. */
const EXTENSIONS: Record<string, string[]> = {
  file: ['archive-ext', 'ntfs-ext', 'pdf-ext', 'raster-image-ext', 'windows-pebinary-ext'],
  'network-traffic': ['http-request-ext', 'icmp-ext', 'socket-ext', 'tcp-ext'],
  process: ['windows-process-ext', 'windows-service-ext'],
  'user-account': ['unix-account-ext'],
};

const SCOS: Record<string, Notation> = {
  artifact: {
    mime_type: 'string',
    payload_bin: 'binary',
    url: 'string',
    hashes: 'hashes',
    encryption_algorithm: 'string',
    decryption_key: 'string',
  },
  'autonomous-system': { number: 'integer', name: 'string', rir: 'string' },
  directory: {
    path: 'string',
    path_enc: 'string',
    ctime: 'timestamp',
    mtime: 'timestamp',
    atime: 'timestamp',
    contains_refs: 'refs:file|directory',
  },
  'domain-name': { value: 'string', resolves_to_refs: 'refs:domain-name|ipv4-addr|ipv6-addr' },
  'email-addr': { value: 'string', display_name: 'string', belongs_to_ref: 'ref:user-account' },
  'email-message': {
    is_multipart: 'boolean',
    date: 'timestamp',
    content_type: 'string',
    from_ref: 'ref:email-addr',
    sender_ref: 'ref:email-addr',
    to_refs: 'refs:email-addr',
    cc_refs: 'refs:email-addr',
    bcc_refs: 'refs:email-addr',
    message_id: 'string',
    subject: 'string',
    received_lines: 'list:string',
    additional_header_fields: 'dictionary',
    body: 'string',
    body_multipart: 'list:object:mime-part',
    raw_email_ref: 'ref:artifact',
  },
  file: {
    hashes: 'hashes',
    size: 'integer',
    name: 'string',
    name_enc: 'string',
    magic_number_hex: 'hex',
    mime_type: 'string',
    ctime: 'timestamp',
    mtime: 'timestamp',
    atime: 'timestamp',
    parent_directory_ref: 'ref:directory',
    contains_refs: 'refs:*',
    content_ref: 'ref:artifact',
  },
  'ipv4-addr': { value: 'string', resolves_to_refs: 'refs:mac-addr', belongs_to_refs: 'refs:autonomous-system' },
  'ipv6-addr': { value: 'string', resolves_to_refs: 'refs:mac-addr', belongs_to_refs: 'refs:autonomous-system' },
  'mac-addr': { value: 'string' },
  mutex: { name: 'string' },
  'network-traffic': {
    start: 'timestamp',
    end: 'timestamp',
    is_active: 'boolean',
    src_ref: 'ref:ipv4-addr|ipv6-addr|mac-addr|domain-name',
    dst_ref: 'ref:ipv4-addr|ipv6-addr|mac-addr|domain-name',
    src_port: 'integer',
    dst_port: 'integer',
    protocols: 'list:string',
    src_byte_count: 'integer',
    dst_byte_count: 'integer',
    src_packets: 'integer',
    dst_packets: 'integer',
    ipfix: 'dictionary',
    src_payload_ref: 'ref:artifact',
    dst_payload_ref: 'ref:artifact',
    encapsulates_refs: 'refs:network-traffic',
    encapsulated_by_ref: 'ref:network-traffic',
  },
  process: {
    // Not in STIX 2.1 (2.0 had it; 2.1 moved it to image_ref.name), but the built-in mappings and
    // most STIX tools write the executable's name here, and rules match on it.
    name: 'string',
    is_hidden: 'boolean',
    pid: 'integer',
    created_time: 'timestamp',
    cwd: 'string',
    command_line: 'string',
    environment_variables: 'dictionary',
    opened_connection_refs: 'refs:network-traffic',
    creator_user_ref: 'ref:user-account',
    image_ref: 'ref:file',
    parent_ref: 'ref:process',
    child_refs: 'refs:process',
  },
  software: {
    name: 'string',
    cpe: 'string',
    swid: 'string',
    languages: 'list:string',
    vendor: 'string',
    version: 'string',
  },
  url: { value: 'string' },
  'user-account': {
    user_id: 'string',
    credential: 'string',
    account_login: 'string',
    account_type: 'string',
    display_name: 'string',
    is_service_account: 'boolean',
    is_privileged: 'boolean',
    can_escalate_privs: 'boolean',
    is_disabled: 'boolean',
    account_created: 'timestamp',
    account_expires: 'timestamp',
    credential_last_changed: 'timestamp',
    account_first_login: 'timestamp',
    account_last_login: 'timestamp',
  },
  'windows-registry-key': {
    key: 'string',
    values: 'list:object:windows-registry-value',
    modified_time: 'timestamp',
    creator_user_ref: 'ref:user-account',
    number_of_subkeys: 'integer',
  },
  'x509-certificate': {
    is_self_signed: 'boolean',
    hashes: 'hashes',
    version: 'string',
    serial_number: 'string',
    signature_algorithm: 'string',
    issuer: 'string',
    validity_not_before: 'timestamp',
    validity_not_after: 'timestamp',
    subject: 'string',
    subject_public_key_algorithm: 'string',
    subject_public_key_modulus: 'string',
    subject_public_key_exponent: 'integer',
    x509_v3_extensions: 'object:x509-v3-extensions',
  },
  // OCA extension objects (github.com/opencybersecurityalliance/stix-extensions), as the
  // built-in mappings emit them; their own `x_` properties are custom and not checked.
  'x-oca-event': {
    action: 'string',
    category: 'list:string',
    // The built-in mappings write the code as text, as ECS's event.code keyword does.
    code: 'string',
    created: 'timestamp',
    dataset: 'string',
    duration: 'integer',
    start: 'timestamp',
    end: 'timestamp',
    ingested: 'timestamp',
    kind: 'string',
    module: 'string',
    original: 'string',
    outcome: 'string',
    provider: 'string',
    risk_score: 'float',
    sequence: 'integer',
    severity: 'integer',
    timezone: 'string',
    agent: 'string',
    host_ref: 'ref:x-oca-asset',
    user_ref: 'ref:user-account',
    process_ref: 'ref:process',
    parent_process_ref: 'ref:process',
    file_ref: 'ref:file',
    registry_ref: 'ref:windows-registry-key',
    network_ref: 'ref:network-traffic',
    domain_ref: 'ref:domain-name',
    url_ref: 'ref:url',
    ip_refs: 'refs:ipv4-addr|ipv6-addr',
  },
  'x-oca-asset': {
    hostname: 'string',
    device_id: 'string',
    domain: 'string',
    host_type: 'string',
    architecture: 'string',
    uptime: 'integer',
    os_name: 'string',
    os_version: 'string',
    os_platform: 'string',
    os_kernel: 'string',
    ip_refs: 'refs:ipv4-addr|ipv6-addr',
    mac_refs: 'refs:mac-addr',
  },
};

function expand(notation: string): PropertyType {
  if (notation.startsWith('list:')) return { kind: 'list', of: expand(notation.slice(5)) };
  if (notation.startsWith('refs:')) return { kind: 'list', of: expand(`ref:${notation.slice(5)}`) };
  if (notation.startsWith('ref:')) {
    const targets = notation.slice(4);
    return { kind: 'ref', targets: targets === '*' ? 'any' : targets.split('|') };
  }
  if (notation.startsWith('object:')) {
    const name = notation.slice(7);
    const properties = NESTED[name];
    if (!properties) throw new Error(`stix-model: no nested type '${name}'`);
    return { kind: 'object', name, properties: expandProperties(properties) };
  }
  return { kind: notation as 'string' };
}

function expandProperties(notation: Notation): ReadonlyMap<string, PropertyType> {
  return new Map(
    Object.entries(notation).map(([name, type]) => [name, type === 'extensions' ? noExtensions : expand(type)]),
  );
}

const noExtensions: PropertyType = { kind: 'extensions', known: new Map() };

/** The SCO types of the model (STIX 2.1 plus the OCA objects), with their properties. */
export const STIX_OBJECT_TYPES: ReadonlyMap<string, ReadonlyMap<string, PropertyType>> = new Map(
  Object.entries(SCOS).map(([type, own]) => {
    const properties = new Map(expandProperties({ ...COMMON, ...own }));
    const extensions = EXTENSIONS[type] ?? [];
    properties.set('extensions', {
      kind: 'extensions',
      known: new Map(extensions.map((name) => [name, expand(`object:${name}`)])),
    });
    return [type, properties];
  }),
);

/**
 * The hash-algorithm-ov vocabulary (STIX 2.1 section 10.7) and the other algorithm names the
 * specification's hash checks know, spelled as the specification (and the normaliser) writes them.
 */
export const HASH_ALGORITHMS = [
  'MD5',
  'SHA-1',
  'SHA-256',
  'SHA-512',
  'SHA3-256',
  'SHA3-512',
  'SSDEEP',
  'TLSH',
  'MD6',
  'RIPEMD-160',
  'SHA-224',
  'SHA-384',
  'SHA3-224',
  'SHA3-384',
  'WHIRLPOOL',
] as const;

/** `sha256`, `SHA256`, `sha-256`, `SHA_256` all name SHA-256. */
export function canonicalHashAlgorithm(name: string): string | undefined {
  const squashed = name.toUpperCase().replace(/[-_]/g, '');
  return HASH_ALGORITHMS.find((known) => known.replace(/-/g, '') === squashed);
}

/** A custom property or type, which the model allows and does not check. */
export function isCustomName(name: string): boolean {
  return name.startsWith('x_') || name.startsWith('x-');
}
