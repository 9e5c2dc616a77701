package scope

// stdOption is one DHCPv4 option of the IANA registry that ISC dhcpd or Kea
// know by name. name is Kea's name with '-' → '_'; aliases are ISC dhcpd's
// names where they differ and the names this config accepted before.
type stdOption struct {
	code    uint8
	name    string
	typ     optType
	array   bool
	fields  []optType // typ == typeRecord; with array the last field repeats (Kea's rule)
	pairs   bool      // ips given in pairs (RFC 2132 §5.7, §5.8)
	aliases []string
}

// rec is a record's fields, for the table.
func rec(f ...optType) []optType { return f }

// stdOptions are the options of space dhcp4 known by name. Types follow
// Kea's std_option_defs.h (ISC's common/tables.c agrees unless said).
// Options the server writes itself (serverOwned) are not here.
var stdOptions = []stdOption{
	{code: 1, name: "subnet_mask", typ: typeIP},
	{code: 2, name: "time_offset", typ: typeInt32},
	{code: 3, name: "routers", typ: typeIPs},
	{code: 4, name: "time_servers", typ: typeIPs},
	{code: 5, name: "name_servers", typ: typeIPs, aliases: []string{"ien116_name_servers"}},
	{code: 6, name: "domain_name_servers", typ: typeIPs},
	{code: 7, name: "log_servers", typ: typeIPs},
	{code: 8, name: "cookie_servers", typ: typeIPs},
	{code: 9, name: "lpr_servers", typ: typeIPs},
	{code: 10, name: "impress_servers", typ: typeIPs},
	{code: 11, name: "resource_location_servers", typ: typeIPs},
	{code: 12, name: "host_name", typ: typeString},
	{code: 13, name: "boot_size", typ: typeUint16},
	{code: 14, name: "merit_dump", typ: typeString},
	{code: 15, name: "domain_name", typ: typeString},
	{code: 16, name: "swap_server", typ: typeIP},
	{code: 17, name: "root_path", typ: typeString},
	{code: 18, name: "extensions_path", typ: typeString},
	{code: 19, name: "ip_forwarding", typ: typeBool},
	{code: 20, name: "non_local_source_routing", typ: typeBool},
	{code: 21, name: "policy_filter", typ: typeIPs, pairs: true},
	{code: 22, name: "max_dgram_reassembly", typ: typeUint16},
	{code: 23, name: "default_ip_ttl", typ: typeUint8},
	{code: 24, name: "path_mtu_aging_timeout", typ: typeUint32},
	{code: 25, name: "path_mtu_plateau_table", typ: typeUint16, array: true},
	{code: 26, name: "interface_mtu", typ: typeUint16},
	{code: 27, name: "all_subnets_local", typ: typeBool},
	{code: 28, name: "broadcast_address", typ: typeIP},
	{code: 29, name: "perform_mask_discovery", typ: typeBool},
	{code: 30, name: "mask_supplier", typ: typeBool},
	{code: 31, name: "router_discovery", typ: typeBool},
	{code: 32, name: "router_solicitation_address", typ: typeIP},
	{code: 33, name: "static_routes", typ: typeIPs, pairs: true},
	{code: 34, name: "trailer_encapsulation", typ: typeBool},
	{code: 35, name: "arp_cache_timeout", typ: typeUint32},
	{code: 36, name: "ieee802_3_encapsulation", typ: typeBool},
	{code: 37, name: "default_tcp_ttl", typ: typeUint8},
	{code: 38, name: "tcp_keepalive_interval", typ: typeUint32},
	{code: 39, name: "tcp_keepalive_garbage", typ: typeBool},
	{code: 40, name: "nis_domain", typ: typeString},
	{code: 41, name: "nis_servers", typ: typeIPs},
	{code: 42, name: "ntp_servers", typ: typeIPs},
	{code: 43, name: "vendor_specific", typ: typeVendor, aliases: []string{"vendor_encapsulated_options"}},
	{code: 44, name: "netbios_name_servers", typ: typeIPs},
	{code: 45, name: "netbios_dd_server", typ: typeIPs},
	{code: 46, name: "netbios_node_type", typ: typeUint8},
	{code: 47, name: "netbios_scope", typ: typeString},
	{code: 48, name: "font_servers", typ: typeIPs},
	{code: 49, name: "x_display_manager", typ: typeIPs},
	// ISC's type is text-or-hex ("X"), Kea's string: "PXEClient" and the
	// like are text.
	{code: 60, name: "vendor_class_identifier", typ: typeString},
	{code: 62, name: "nwip_domain_name", typ: typeString, aliases: []string{"nwip_domain"}},
	{code: 63, name: "nwip_suboptions", typ: typeHex},
	{code: 64, name: "nisplus_domain_name", typ: typeString, aliases: []string{"nisplus_domain"}},
	{code: 65, name: "nisplus_servers", typ: typeIPs},
	{code: 66, name: "tftp_server_name", typ: typeString},
	{code: 67, name: "boot_file_name", typ: typeString, aliases: []string{"bootfile_name"}},
	{code: 68, name: "mobile_ip_home_agent", typ: typeIPs},
	{code: 69, name: "smtp_server", typ: typeIPs},
	{code: 70, name: "pop_server", typ: typeIPs},
	{code: 71, name: "nntp_server", typ: typeIPs},
	{code: 72, name: "www_server", typ: typeIPs},
	{code: 73, name: "finger_server", typ: typeIPs},
	{code: 74, name: "irc_server", typ: typeIPs},
	{code: 75, name: "streettalk_server", typ: typeIPs},
	{code: 76, name: "streettalk_directory_assistance_server", typ: typeIPs},
	// RFC 3004: a list of length-prefixed classes, written as the bytes.
	{code: 77, name: "user_class", typ: typeHex},
	{code: 78, name: "slp_directory_agent", typ: typeRecord, fields: rec(typeBool, typeIP), array: true},
	{code: 79, name: "slp_service_scope", typ: typeRecord, fields: rec(typeBool, typeString)},
	// RFC 4702 §2: flags, RCODE1, RCODE2, domain name.
	{code: 81, name: "fqdn", typ: typeRecord, fields: rec(typeUint8, typeUint8, typeUint8, typeFQDN)},
	{code: 85, name: "nds_servers", typ: typeIPs},
	{code: 86, name: "nds_tree_name", typ: typeString},
	{code: 87, name: "nds_context", typ: typeString},
	{code: 88, name: "bcms_controller_names", typ: typeDomains},
	{code: 89, name: "bcms_controller_address", typ: typeIPs},
	{code: 90, name: "authenticate", typ: typeHex},
	{code: 91, name: "client_last_transaction_time", typ: typeUint32},
	{code: 92, name: "associated_ip", typ: typeIPs},
	{code: 93, name: "client_system", typ: typeUint16, array: true, aliases: []string{"pxe_system_type"}},
	{code: 94, name: "client_ndi", typ: typeRecord, fields: rec(typeUint8, typeUint8, typeUint8), aliases: []string{"pxe_interface_id"}},
	{code: 97, name: "uuid_guid", typ: typeRecord, fields: rec(typeUint8, typeHex), aliases: []string{"pxe_client_id"}},
	{code: 98, name: "uap_servers", typ: typeString},
	{code: 99, name: "geoconf_civic", typ: typeHex},
	{code: 100, name: "pcode", typ: typeString},
	{code: 101, name: "tcode", typ: typeString},
	{code: 108, name: "v6_only_preferred", typ: typeUint32},
	{code: 112, name: "netinfo_server_address", typ: typeIPs},
	{code: 113, name: "netinfo_server_tag", typ: typeString},
	// RFC 8910 moved the captive portal URI to 114 (ISC's default-url).
	{code: 114, name: "v4_captive_portal", typ: typeString, aliases: []string{"default_url"}},
	{code: 116, name: "auto_config", typ: typeUint8},
	{code: 117, name: "name_service_search", typ: typeUint16, array: true},
	{code: 119, name: "domain_search", typ: typeDomains},
	{code: 121, name: "classless_static_routes", typ: typeRoutes, aliases: []string{"classless_static_route", "rfc3442_classless_static_routes"}},
	{code: 124, name: "vivco_suboptions", typ: typeVIVCO, aliases: []string{"vivco"}},
	{code: 125, name: "vivso_suboptions", typ: typeVIVSO, aliases: []string{"vivso"}},
	{code: 136, name: "pana_agent", typ: typeIPs},
	{code: 137, name: "v4_lost", typ: typeFQDN},
	{code: 138, name: "capwap_ac_v4", typ: typeIPs},
	{code: 141, name: "sip_ua_cs_domains", typ: typeDomains},
	{code: 142, name: "ipv4_address_andsf", typ: typeIPs},
	// RFC 8572 §8.3: URIs, each after a 2-byte length.
	{code: 143, name: "v4_sztp_redirect", typ: typeTuples16},
	// RFC 6731 §4: preference, two servers, then domains.
	{code: 146, name: "rdnss_selection", typ: typeRecord, fields: rec(typeUint8, typeIP, typeIP, typeFQDN), array: true},
	{code: 150, name: "tftp_server_address", typ: typeIPs},
	{code: 151, name: "status_code", typ: typeRecord, fields: rec(typeUint8, typeString)},
	{code: 152, name: "base_time", typ: typeUint32},
	{code: 153, name: "start_time_of_state", typ: typeUint32},
	{code: 154, name: "query_start_time", typ: typeUint32},
	{code: 155, name: "query_end_time", typ: typeUint32},
	{code: 156, name: "dhcp_state", typ: typeUint8},
	{code: 157, name: "data_source", typ: typeUint8},
	// RFC 7618 §4: offset, PSID length, PSID (ISC's "BBS").
	{code: 159, name: "v4_portparams", typ: typeRecord, fields: rec(typeUint8, typeUint8, typeUint16)},
	// RFC 9463 §4.1: instance length, priority, ADN length, ADN, the rest.
	{code: 162, name: "v4_dnr", typ: typeRecord, fields: rec(typeUint16, typeUint16, typeUint8, typeFQDN, typeHex)},
	// RFC 5969 §7.1.1: IPv4 mask length, 6rd prefix length, 6rd prefix, relays.
	{code: 212, name: "option_6rd", typ: typeRecord, fields: rec(typeUint8, typeUint8, typeIPv6, typeIP), array: true},
	{code: 213, name: "v4_access_domain", typ: typeFQDN},
	// Microsoft's pre-RFC 3442 code for the same routes; neither ISC nor
	// Kea names it, but every configuration that sets 121 for Windows
	// clients defines it.
	{code: 249, name: "ms_classless_static_routes", typ: typeRoutes},
}

// pxeSpace is the PXE 2.1 specification's option 43 sub-options (its
// §2.4 table), the space ISC dhcpd's example configurations define as
// `option space PXE`. Usable as vendor_specific: {space: pxe, options: ...}.
var pxeSpace = []stdOption{
	{code: 1, name: "mtftp_ip", typ: typeIP},
	{code: 2, name: "mtftp_cport", typ: typeUint16},
	{code: 3, name: "mtftp_sport", typ: typeUint16},
	{code: 4, name: "mtftp_tmout", typ: typeUint8},
	{code: 5, name: "mtftp_delay", typ: typeUint8},
	{code: 6, name: "discovery_control", typ: typeUint8},
	{code: 7, name: "discovery_mcast_addr", typ: typeIP},
	{code: 8, name: "boot_servers", typ: typeHex},
	{code: 9, name: "boot_menu", typ: typeHex},
	{code: 10, name: "menu_prompt", typ: typeRecord, fields: rec(typeUint8, typeString)},
	{code: 71, name: "boot_item", typ: typeRecord, fields: rec(typeUint16, typeUint16)},
}

// builtinSpaces are the sub-option spaces known without a definition.
var builtinSpaces = map[string][]stdOption{
	SpaceDHCP4: stdOptions,
	"pxe":      pxeSpace,
}

// serverOwned are options the engine writes itself; the config may not set
// them (RFC 2132 §9: lease time, message type, server id, PRL, max size,
// T1/T2, client id; RFC 3046 relay info; RFC 3011 subnet selection).
var serverOwned = map[uint8]string{
	0: "pad", 50: "requested address", 51: "lease time", 52: "overload", 53: "message type",
	54: "server identifier", 55: "parameter request list", 56: "message", 57: "max message size",
	58: "renewal time", 59: "rebinding time", 61: "client identifier", 82: "relay agent information",
	118: "subnet selection", 255: "end",
}
