/*
 * config.c - kube-uproxy's options table (see config.h, config_int.h).
 *
 * Every setting is one row of the options table below: its flag, its
 * KubeProxyConfiguration field, its type, where it lives in struct config,
 * its default and its help text.  Flag parsing (config_args.c), --config
 * files (config_file.c), the usage text and /configz (config_write.c)
 * are all loops over that table, and every value, from whichever source,
 * goes through the same config_opt_set() here, so a setting is parsed and
 * validated in exactly one place (redis' config.c does the same).
 * Settings that need each other (addresses, the two sync periods) are
 * checked and derived afterwards by config_finish() (config_finish.c).
 * This file also holds the defaults and config_free, loops over the table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"

static const char *const iptables_modes[] = { "legacy", "none", NULL };
static const char *const portals_modes[] = { "iptables", "nftables", "none",
	NULL };
static const char *const relay_modes[] = { "copy", "splice", NULL };

/*
 * Flag names and defaults are kube-proxy's wherever it had the flag
 * (DESIGN.md section 2).  opt_field names the KubeProxyConfiguration
 * field.  kube-proxy's file has no field for --master, --manifests,
 * --iptables and --relay: they are our extensions, like udpIdleTimeout
 * (which kube-proxy's file had while it still had a userspace mode), so
 * that --write-config-to can write every setting.  --cleanup and --config
 * are not settings of a running proxy (opt_in_file 0) but /configz shows
 * them; --write-config-to is a command and has no field at all.
 */
const struct option config_options[] = {
	{ .opt_flag = "kubeconfig", .opt_field = "clientConnection.kubeconfig",
	  .opt_in_file = 1, .opt_type = OPT_STRING, .opt_off = OFF(kubeconfig),
	  .opt_metavar = "PATH",
	  .opt_help = "kubeconfig file (default: $KUBECONFIG, else in-cluster)" },
	{ .opt_flag = "master", .opt_field = "master",
	  .opt_in_file = 1, .opt_type = OPT_STRING, .opt_off = OFF(master),
	  .opt_metavar = "URL",
	  .opt_help = "API server URL, overrides the kubeconfig's server" },
	{ .opt_flag = "manifests", .opt_field = "manifests",
	  .opt_in_file = 1, .opt_type = OPT_STRING, .opt_off = OFF(manifests),
	  .opt_metavar = "PATH",
	  .opt_help = "file or directory of manifests to serve from" },
	{ .opt_flag = "hostname-override", .opt_field = "hostnameOverride",
	  .opt_in_file = 1, .opt_type = OPT_STRING,
	  .opt_off = OFF(hostname_override),
	  .opt_metavar = "NAME",
	  .opt_help = "node name (default: the host name)" },
	{ .opt_flag = "bind-address", .opt_field = "bindAddress",
	  .opt_in_file = 1, .opt_type = OPT_IP,
	  .opt_off = OFF(bind_address_str), .opt_default = "0.0.0.0",
	  .opt_metavar = "IP",
	  .opt_help = "address the proxy sockets listen on" },
	{ .opt_flag = "nodeport-addresses", .opt_field = "nodePortAddresses",
	  .opt_in_file = 1, .opt_type = OPT_ADDRLIST,
	  .opt_off = OFF(nodeport_addresses_str), .opt_default = "",
	  .opt_metavar = "CIDRS",
	  .opt_help = "NodePorts only on local addresses in these ranges, "
	  "or primary; empty: all" },
	{ .opt_flag = "proxy-port-range", .opt_field = "portRange",
	  .opt_in_file = 1, .opt_type = OPT_PORTRANGE,
	  .opt_off = OFF(port_range_str), .opt_default = "",
	  .opt_metavar = "A-B",
	  .opt_help = "proxy ports (A-B, A or A+N); empty: kernel-chosen" },
	{ .opt_flag = "udp-timeout", .opt_field = "udpIdleTimeout",
	  .opt_in_file = 1, .opt_type = OPT_DURATION,
	  .opt_off = OFF(udp_timeout_ms), .opt_default = "250ms",
	  .opt_metavar = "DUR", .opt_min = 1,
	  .opt_help = "idle timeout of one UDP client flow" },
	{ .opt_flag = "iptables-sync-period", .opt_field = "iptables.syncPeriod",
	  .opt_in_file = 1, .opt_type = OPT_DURATION,
	  .opt_off = OFF(sync_period_ms), .opt_default = "30s",
	  .opt_metavar = "DUR", .opt_min = 1,
	  .opt_help = "full resync and repair of the rules" },
	{ .opt_flag = "iptables-min-sync-period",
	  .opt_field = "iptables.minSyncPeriod",
	  .opt_in_file = 1, .opt_type = OPT_DURATION,
	  .opt_off = OFF(min_sync_period_ms), .opt_default = "1s",
	  .opt_metavar = "DUR",
	  .opt_help = "minimum interval between two rule commits" },
	{ .opt_flag = "iptables", .opt_field = "iptablesMode",
	  .opt_in_file = 1, .opt_type = OPT_ENUM, .opt_off = OFF(iptables),
	  .opt_default = "legacy", .opt_metavar = "MODE",
	  .opt_choices = iptables_modes,
	  .opt_help = "legacy (libiptc) or none (no rules)" },
	{ .opt_flag = "portals", .opt_field = "portalsMode",
	  .opt_in_file = 1, .opt_type = OPT_ENUM, .opt_off = OFF(portals),
	  .opt_default = "iptables", .opt_metavar = "MODE",
	  .opt_choices = portals_modes,
	  .opt_help = "iptables (libiptc), nftables (libnftnl) or none" },
	{ .opt_flag = "relay", .opt_field = "relay",
	  .opt_in_file = 1, .opt_type = OPT_CHOICE, .opt_off = OFF(relay_str),
	  .opt_default = "copy", .opt_metavar = "MODE",
	  .opt_choices = relay_modes,
	  .opt_help = "TCP relay: copy (buffers) or splice (pipes)" },
	{ .opt_flag = "service-node-port-range",
	  .opt_field = "serviceNodePortRange",
	  .opt_in_file = 1, .opt_type = OPT_PORTRANGE,
	  .opt_off = OFF(node_port_range_str), .opt_default = "30000-32767",
	  .opt_metavar = "A-B",
	  .opt_help = "nodePorts accepted from manifests (kube-apiserver's)" },
	{ .opt_flag = "tcp-keepalive", .opt_field = "tcpKeepalive",
	  .opt_in_file = 1, .opt_type = OPT_DURATION,
	  .opt_off = OFF(tcp_keepalive_ms), .opt_default = "15s",
	  .opt_metavar = "DUR",
	  .opt_help = "keepalive idle and interval on both legs; 0: off" },
	{ .opt_flag = "tcp-fin-timeout", .opt_field = "tcpFinTimeout",
	  .opt_in_file = 1, .opt_type = OPT_DURATION,
	  .opt_off = OFF(tcp_fin_timeout_ms), .opt_default = "1h",
	  .opt_metavar = "DUR", .opt_min = 1,
	  .opt_help = "close a half-closed relay silent this long" },
	{ .opt_flag = "relay-memory", .opt_field = "relayMemory",
	  .opt_in_file = 1, .opt_type = OPT_BYTES,
	  .opt_off = OFF(relay_memory), .opt_default = "64Mi",
	  .opt_metavar = "BYTES", .opt_min = 1024 * 1024,
	  .opt_help = "bound of the relay buffer and pipe pool" },
	{ .opt_flag = "healthz-bind-address", .opt_field = "healthzBindAddress",
	  .opt_in_file = 1, .opt_type = OPT_HOSTPORT,
	  .opt_off = OFF(healthz_str), .opt_default = "0.0.0.0:10256",
	  .opt_metavar = "IP:PORT",
	  .opt_help = "/healthz and /livez; empty: off" },
	{ .opt_flag = "metrics-bind-address", .opt_field = "metricsBindAddress",
	  .opt_in_file = 1, .opt_type = OPT_HOSTPORT,
	  .opt_off = OFF(metrics_str), .opt_default = "127.0.0.1:10249",
	  .opt_metavar = "IP:PORT",
	  .opt_help = "/metrics, /debug/services, /configz; empty: off" },
	{ .opt_flag = "cleanup", .opt_field = "cleanup",
	  .opt_type = OPT_BOOL, .opt_off = OFF(cleanup),
	  .opt_default = "false",
	  .opt_help = "remove every rule and chain we install, then exit" },
	{ .opt_flag = "config", .opt_field = "config",
	  .opt_type = OPT_STRING, .opt_off = OFF(config_file),
	  .opt_metavar = "FILE",
	  .opt_help = "KubeProxyConfiguration (YAML or JSON); flags win" },
	{ .opt_flag = "write-config-to", .opt_type = OPT_STRING,
	  .opt_off = OFF(write_config_to), .opt_metavar = "FILE",
	  .opt_help = "write the configuration as a KubeProxyConfiguration "
	  "file, then exit" },
	{ .opt_flag = "v", .opt_field = "logging.verbosity",
	  .opt_in_file = 1, .opt_type = OPT_INT, .opt_off = OFF(verbosity),
	  .opt_default = "0", .opt_metavar = "N", .opt_min = 0, .opt_max = 10,
	  .opt_help = "log verbosity" },
};
const size_t config_noptions = nitems(config_options);

static void *
opt_ptr(struct config *c, const struct option *o)
{
	return (char *)c + o->opt_off;
}

static int
opt_is_string(const struct option *o)
{
	return o->opt_type == OPT_STRING || o->opt_type == OPT_IP ||
	    o->opt_type == OPT_HOSTPORT || o->opt_type == OPT_PORTRANGE ||
	    o->opt_type == OPT_CHOICE || o->opt_type == OPT_ADDRLIST;
}

const struct option *
config_opt_by_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strlen(config_options[i].opt_flag) == len &&
		    strncmp(config_options[i].opt_flag, name, len) == 0)
			return &config_options[i];
	return NULL;
}

const struct option *
config_opt_by_field(const char *path)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (config_options[i].opt_in_file && config_options[i].opt_field != NULL &&
		    strcmp(config_options[i].opt_field, path) == 0)
			return &config_options[i];
	return NULL;
}

static int
choice_index(const char *const *choices, const char *val)
{
	int i;

	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], val) == 0)
			return i;
	return -1;
}

/* "a, b, c" for error messages. */
static void
choices_str(const char *const *choices, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; choices[i] != NULL && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
		    choices[i]);
}

/* strconv.ParseBool's spellings, as pflag accepts them. */
static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/*
 * 1 if s is UTF-8 text that a YAML file holds as a double-quoted scalar
 * once JSON-escaped: no invalid or overlong sequence, no surrogate, no
 * control character (tab aside), no DEL, C1 control, BOM, U+FFFE or
 * U+FFFF (outside libyaml's printable set, YAML 1.1 section 5.1).  Every
 * value is checked, so whatever was accepted --write-config-to writes
 * back readable (fuzz target config_file found a JSON file whose
 * kubeconfig path held byte 0xEB: accepted, written raw, unreadable).
 */
static int
printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	int n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff ||
		    cp == 0xfffe || cp == 0xffff)
			return 0;
		p += n + 1;
	}
	return 1;
}

/*
 * Check `val` for option `o` and store it.  Returns 0, or -1 with the
 * reason in why (the caller prefixes the flag or file field).
 */
int
config_opt_set(struct config *c, const struct option *o, const char *val,
    char *why, size_t why_len)
{
	union addr a;
	uint64_t ms, bytes;
	uint16_t lo, hi;
	char list[64];
	char **sp;
	char *end;
	long l;
	int i;

	if (!printable_utf8(val)) {
		snprintf(why, why_len, "not printable UTF-8 text");
		return -1;
	}
	if (strlen(val) >= BOUND_CONFIG_VALUE_BYTES) {
		snprintf(why, why_len, "longer than %d bytes "
		    "(BOUND_CONFIG_VALUE_BYTES)", BOUND_CONFIG_VALUE_BYTES - 1);
		return -1;
	}
	switch (o->opt_type) {
	case OPT_STRING:
		break;
	case OPT_IP:
		if (*val != '\0' && addr_parse(val, 0, &a) == -1) {
			snprintf(why, why_len, "\"%s\" is not an IP address", val);
			return -1;
		}
		break;
	case OPT_HOSTPORT:
		if (*val != '\0' && addr_parse_hostport(val, &a) == -1) {
			snprintf(why, why_len, "\"%s\" is not IP:PORT", val);
			return -1;
		}
		break;
	case OPT_PORTRANGE:
		if (config_parse_port_range(val, &lo, &hi) == -1) {
			snprintf(why, why_len, "\"%s\" is not a port range "
			    "(A-B, A or A+N, at most 65535)", val);
			return -1;
		}
		break;
	case OPT_ADDRLIST: {
		struct addr_prefix *p;
		size_t n;

		if (config_parse_nodeport_addresses(val, &i, &p, &n, why,
		    why_len) == -1)
			return -1;
		free(p);
		break;
	}
	case OPT_CHOICE:
	case OPT_ENUM:
		if ((i = choice_index(o->opt_choices, val)) == -1) {
			choices_str(o->opt_choices, list, sizeof(list));
			snprintf(why, why_len, "\"%s\" is not one of %s", val,
			    list);
			return -1;
		}
		if (o->opt_type == OPT_ENUM) {
			*(int *)opt_ptr(c, o) = i;
			return 0;
		}
		break;
	case OPT_DURATION:
		if (config_parse_duration(val, &ms) == -1) {
			snprintf(why, why_len, "\"%s\" is not a duration", val);
			return -1;
		}
		if (ms < (uint64_t)o->opt_min) {
			snprintf(why, why_len, "\"%s\" must be greater than 0",
			    val);
			return -1;
		}
		*(uint64_t *)opt_ptr(c, o) = ms;
		return 0;
	case OPT_BYTES:
		if (config_parse_bytes(val, &bytes) == -1) {
			snprintf(why, why_len, "\"%s\" is not a size in bytes "
			    "(65536, 512Ki, 64Mi, 1Gi)", val);
			return -1;
		}
		if (bytes < (uint64_t)o->opt_min) {
			snprintf(why, why_len, "\"%s\" is less than %d bytes",
			    val, o->opt_min);
			return -1;
		}
		*(uint64_t *)opt_ptr(c, o) = bytes;
		return 0;
	case OPT_BOOL:
		if (parse_bool(val, &i) == -1) {
			snprintf(why, why_len, "\"%s\" is not a boolean", val);
			return -1;
		}
		*(int *)opt_ptr(c, o) = i;
		return 0;
	case OPT_INT:
		errno = 0;
		l = strtol(val, &end, 10);
		if (*val == '\0' || *end != '\0' || errno != 0) {
			snprintf(why, why_len, "\"%s\" is not an integer", val);
			return -1;
		}
		if (l < o->opt_min || l > o->opt_max) {
			snprintf(why, why_len, "%ld is not in %d..%d", l,
			    o->opt_min, o->opt_max);
			return -1;
		}
		*(int *)opt_ptr(c, o) = (int)l;
		return 0;
	}

	/*
	 * A path or URL with no default that is empty is not set, as in
	 * kube-proxy's file: `kubeconfig: ""` does not name a file.
	 */
	sp = opt_ptr(c, o);
	free(*sp);
	*sp = o->opt_type == OPT_STRING && o->opt_default == NULL &&
	    *val == '\0' ? NULL : xstrdup(val);
	return 0;
}

void
config_defaults(struct config *c)
{
	char why[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < config_noptions; i++)
		if (config_options[i].opt_default != NULL &&
		    config_opt_set(c, &config_options[i], config_options[i].opt_default, why,
		    sizeof(why)) == -1)
			fatalx("default of --%s: %s", config_options[i].opt_flag, why);
	if (config_finish(c, why, sizeof(why)) == -1)
		fatalx("defaults: %s", why);
}

void
config_free(struct config *c)
{
	char **sp;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		if (!opt_is_string(&config_options[i]))
			continue;
		sp = opt_ptr(c, &config_options[i]);
		free(*sp);
		*sp = NULL;
	}
	free(c->hostname);
	c->hostname = NULL;
	free(c->nodeport_addrs);
	c->nodeport_addrs = NULL;
	c->n_nodeport_addrs = 0;
}
