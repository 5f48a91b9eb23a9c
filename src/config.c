/*
 * config.c - kube-uproxy's configuration (see config.h).
 *
 * Every setting is one row of the options table below: its flag, its
 * KubeProxyConfiguration field, its type, where it lives in struct config,
 * its default and its help text.  Flag parsing, --config files, the usage
 * text and /configz are all loops over that table, and every value, from
 * whichever source, goes through the same opt_set(), so a setting is
 * parsed and validated in exactly one place (redis' config.c does the
 * same).  Settings that need each other (addresses, the two sync periods)
 * are checked and derived afterwards by config_finish().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "yamljson.h"

#define KPC_API_VERSION		"kubeproxy.config.k8s.io/v1alpha1"
#define KPC_KIND		"KubeProxyConfiguration"
#define CONFIG_FILE_MAX		(1024 * 1024)

enum opt_type {
	OPT_STRING,	/* char *, any text */
	OPT_IP,		/* char *, an IP literal ("" = the default) */
	OPT_HOSTPORT,	/* char *, "IP:PORT", "[IPv6]:PORT", or "" (off) */
	OPT_PORTRANGE,	/* char *, as config_parse_port_range reads it */
	OPT_CHOICE,	/* char *, one of opt_choices */
	OPT_DURATION,	/* uint64_t milliseconds */
	OPT_BOOL,	/* int */
	OPT_INT,	/* int, opt_min..opt_max */
	OPT_ENUM,	/* int: the index of one of opt_choices */
	OPT_BYTES,	/* uint64_t bytes, as config_parse_bytes reads them */
	OPT_ADDRLIST,	/* char *, as config_parse_nodeport_addresses reads
			   it; a list in the file */
};

struct option {
	const char		*opt_flag;
	const char		*opt_field;	/* file / configz path; NULL for
						   commands, not settings */
	int			 opt_in_file;	/* accepted in --config files */
	enum opt_type		 opt_type;
	size_t			 opt_off;
	const char		*opt_default;	/* as typed on the command line */
	const char		*opt_metavar;
	const char		*opt_help;
	const char *const	*opt_choices;	/* OPT_CHOICE, OPT_ENUM */
	int			 opt_min, opt_max; /* OPT_INT; OPT_DURATION and
						   OPT_BYTES min */
};

static const char *const iptables_modes[] = { "legacy", "none", NULL };
static const char *const portals_modes[] = { "iptables", "nftables", "none",
	NULL };
static const char *const relay_modes[] = { "copy", "splice", NULL };

#define OFF(f)	offsetof(struct config, f)

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
static const struct option options[] = {
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

/*
 * KubeProxyConfiguration fields that kube-uproxy knows but has no use
 * for (they drive other proxy modes or things it does not do).
 */
static const char *const ignored_fields[] = {
	"featureGates", "bindAddressHardFail", "enableProfiling",
	"showHiddenMetricsForVersion", "serviceProxyName", "clusterCIDR",
	"configSyncPeriod", "conntrack", "detectLocalMode", "detectLocal",
	"ipvs", "nftables", "winkernel", "windowsRunAsService",
	"oomScoreAdj", "syncPeriod", "minSyncPeriod",
	"clientConnection.acceptContentTypes", "clientConnection.contentType",
	"clientConnection.qps", "clientConnection.burst",
	"iptables.masqueradeAll", "iptables.masqueradeBit",
	"iptables.localhostNodePorts",
	"logging.format", "logging.flushFrequency", "logging.options",
	"logging.vmodule", "linux", "windows",
};
static const char *const container_fields[] = {
	"clientConnection", "iptables", "logging",
};


static void *
opt_ptr(struct config *c, const struct option *o)
{
	return (char *)c + o->opt_off;
}

static const void *
opt_cptr(const struct config *c, const struct option *o)
{
	return (const char *)c + o->opt_off;
}

static int
opt_is_string(const struct option *o)
{
	return o->opt_type == OPT_STRING || o->opt_type == OPT_IP ||
	    o->opt_type == OPT_HOSTPORT || o->opt_type == OPT_PORTRANGE ||
	    o->opt_type == OPT_CHOICE || o->opt_type == OPT_ADDRLIST;
}

static const struct option *
opt_by_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nitems(options); i++)
		if (strlen(options[i].opt_flag) == len &&
		    strncmp(options[i].opt_flag, name, len) == 0)
			return &options[i];
	return NULL;
}

static const struct option *
opt_by_field(const char *path)
{
	size_t i;

	for (i = 0; i < nitems(options); i++)
		if (options[i].opt_in_file && options[i].opt_field != NULL &&
		    strcmp(options[i].opt_field, path) == 0)
			return &options[i];
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
static int
opt_set(struct config *c, const struct option *o, const char *val,
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

static char *
default_hostname(void)
{
	struct utsname u;

	if (uname(&u) == -1)
		return xstrdup("localhost");
	return xstrdup(u.nodename);
}

void
config_defaults(struct config *c)
{
	char why[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < nitems(options); i++)
		if (options[i].opt_default != NULL &&
		    opt_set(c, &options[i], options[i].opt_default, why,
		    sizeof(why)) == -1)
			fatalx("default of --%s: %s", options[i].opt_flag, why);
	if (config_finish(c, why, sizeof(why)) == -1)
		fatalx("defaults: %s", why);
}

void
config_free(struct config *c)
{
	char **sp;
	size_t i;

	for (i = 0; i < nitems(options); i++) {
		if (!opt_is_string(&options[i]))
			continue;
		sp = opt_ptr(c, &options[i]);
		free(*sp);
		*sp = NULL;
	}
	free(c->hostname);
	c->hostname = NULL;
	free(c->nodeport_addrs);
	c->nodeport_addrs = NULL;
	c->n_nodeport_addrs = 0;
}

int
config_finish(struct config *c, char *err, size_t err_len)
{
	const char *name;
	char a[32], b[32], why[192];
	char *h, *end;

	/*
	 * kube-proxy's node name (nodeutil.GetHostname): the override, else
	 * uname, with spaces trimmed and in lower case.
	 */
	name = c->hostname_override ? c->hostname_override +
	    strspn(c->hostname_override, " \t") : "";
	h = *name != '\0' ? xstrdup(name) : default_hostname();
	free(c->hostname);
	c->hostname = h;
	for (end = h + strlen(h); end > h && isspace((unsigned char)end[-1]);)
		*--end = '\0';
	for (; *h != '\0'; h++)
		*h = tolower((unsigned char)*h);

	/* An empty bind address is kube-proxy's default, like in its file. */
	if (addr_parse(c->bind_address_str == NULL ||
	    *c->bind_address_str == '\0' ? "0.0.0.0" : c->bind_address_str,
	    0, &c->bind_address) == -1) {
		snprintf(err, err_len, "--bind-address: \"%s\" is not an IP "
		    "address", c->bind_address_str);
		return -1;
	}
	if (config_parse_port_range(c->port_range_str ? c->port_range_str : "",
	    &c->port_lo, &c->port_hi) == -1) {
		snprintf(err, err_len, "--proxy-port-range: \"%s\" is not a "
		    "port range", c->port_range_str);
		return -1;
	}
	/* A node-port range is a range: kernel-chosen (0) means nothing here. */
	if (config_parse_port_range(c->node_port_range_str ?
	    c->node_port_range_str : "", &c->node_port_lo,
	    &c->node_port_hi) == -1 || c->node_port_lo == 0) {
		snprintf(err, err_len, "--service-node-port-range: \"%s\" is "
		    "not a port range", c->node_port_range_str);
		return -1;
	}
	memset(&c->healthz_address, 0, sizeof(c->healthz_address));
	if (c->healthz_str != NULL && *c->healthz_str != '\0' &&
	    addr_parse_hostport(c->healthz_str, &c->healthz_address) == -1) {
		snprintf(err, err_len, "--healthz-bind-address: \"%s\" is not "
		    "IP:PORT", c->healthz_str);
		return -1;
	}
	memset(&c->metrics_address, 0, sizeof(c->metrics_address));
	if (c->metrics_str != NULL && *c->metrics_str != '\0' &&
	    addr_parse_hostport(c->metrics_str, &c->metrics_address) == -1) {
		snprintf(err, err_len, "--metrics-bind-address: \"%s\" is not "
		    "IP:PORT", c->metrics_str);
		return -1;
	}
	free(c->nodeport_addrs);
	if (config_parse_nodeport_addresses(c->nodeport_addresses_str ?
	    c->nodeport_addresses_str : "", &c->nodeport_primary,
	    &c->nodeport_addrs, &c->n_nodeport_addrs, why, sizeof(why)) == -1) {
		snprintf(err, err_len, "--nodeport-addresses: %s", why);
		return -1;
	}
	c->relay_splice = c->relay_str != NULL &&
	    strcmp(c->relay_str, "splice") == 0;
	/* --iptables none is --portals none; --iptables legacy is a no-op. */
	if (c->portals == PORTALS_NONE)
		c->iptables = IPTABLES_NONE;
	else if (c->iptables == IPTABLES_NONE)
		c->portals = PORTALS_NONE;

	if (c->udp_timeout_ms == 0) {
		snprintf(err, err_len, "--udp-timeout: must be greater than 0");
		return -1;
	}
	if (c->sync_period_ms == 0) {
		snprintf(err, err_len, "--iptables-sync-period: must be "
		    "greater than 0");
		return -1;
	}
	if (c->min_sync_period_ms > c->sync_period_ms) {
		config_format_duration(c->min_sync_period_ms, a, sizeof(a));
		config_format_duration(c->sync_period_ms, b, sizeof(b));
		/* Either may come from the file: name flags and fields. */
		snprintf(err, err_len, "--iptables-min-sync-period "
		    "(iptables.minSyncPeriod): %s is longer than "
		    "--iptables-sync-period (iptables.syncPeriod, %s)", a, b);
		return -1;
	}
	return 0;
}

/*
 * One pass over argv.  The early pass only handles --help, --version and
 * --config (so the file can be applied before the flags that override
 * it); the late pass applies every other flag.  Both passes reject the
 * same malformed command lines.
 */
enum pass { PASS_EARLY, PASS_LATE };

static int
parse_pass(struct config *c, int argc, char **argv, enum pass pass,
    const char **config_file, char *err, size_t err_len)
{
	const struct option *o;
	const char *arg, *name, *val, *eq;
	char why[256];
	size_t len;
	int i;

	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc) {
				snprintf(err, err_len, "unexpected argument "
				    "\"%s\"", argv[i + 1]);
				return -1;
			}
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			snprintf(err, err_len, "unexpected argument \"%s\"", arg);
			return -1;
		}
		val = NULL;
		if (arg[1] == '-') {
			name = arg + 2;
			eq = strchr(name, '=');
			len = eq ? (size_t)(eq - name) : strlen(name);
			if (eq != NULL)
				val = eq + 1;
		} else if (arg[1] == 'v' || arg[1] == 'h') {
			/* pflag shorthands: -v N, -vN, -v=N, -h */
			name = arg + 1;
			len = 1;
			if (arg[2] != '\0')
				val = arg[2] == '=' ? arg + 3 : arg + 2;
		} else {
			snprintf(err, err_len, "unknown flag: %s", arg);
			return -1;
		}

		if ((len == 4 && strncmp(name, "help", 4) == 0) ||
		    (len == 1 && *name == 'h')) {
			if (pass == PASS_EARLY) {
				config_usage(stdout);
				return 1;
			}
			continue;
		}
		if (len == 7 && strncmp(name, "version", 7) == 0) {
			if (pass == PASS_EARLY) {
				printf("kube-uproxy %s\n", PACKAGE_VERSION);
				return 1;
			}
			continue;
		}
		if ((o = opt_by_flag(name, len)) == NULL) {
			snprintf(err, err_len, "unknown flag: --%.*s", (int)len,
			    name);
			return -1;
		}
		if (val == NULL && o->opt_type == OPT_BOOL)
			val = "true";
		if (val == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, err_len, "--%s: missing value",
				    o->opt_flag);
				return -1;
			}
			val = argv[++i];
		}
		if (pass == PASS_EARLY) {
			if (o->opt_off == OFF(config_file))
				*config_file = val;
			continue;
		}
		if (opt_set(c, o, val, why, sizeof(why)) == -1) {
			snprintf(err, err_len, "--%s: %s", o->opt_flag, why);
			return -1;
		}
	}
	return 0;
}

int
config_parse_args(struct config *c, int argc, char **argv,
    char *err, size_t err_len)
{
	const char *config_file = NULL;
	int r;

	if ((r = parse_pass(c, argc, argv, PASS_EARLY, &config_file, err,
	    err_len)) != 0)
		return r;
	if (config_file != NULL &&
	    config_load_file(c, config_file, err, err_len) == -1)
		return -1;
	if ((r = parse_pass(c, argc, argv, PASS_LATE, NULL, err, err_len)) != 0)
		return r;
	if (config_finish(c, err, err_len) == -1)
		return -1;
	if (c->write_config_to != NULL) {
		if (config_write_file(c, c->write_config_to, err, err_len) == -1)
			return -1;
		return 1;
	}
	return 0;
}

/* ---- KubeProxyConfiguration files ---- */

static int
field_listed(const char *const *list, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], path) == 0)
			return 1;
	return 0;
}

/*
 * A whole number that a long long holds.  The range is checked first:
 * converting an out-of-range double (1e999 reads as infinity) to an
 * integer is undefined behaviour (found by the config_file fuzz target).
 */
static int
is_integer(double d)
{
	return d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d;
}

/* A JSON scalar as the string a flag would have given. */
static int
json_scalar(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsTrue(v))
		snprintf(buf, len, "true");
	else if (cJSON_IsFalse(v))
		snprintf(buf, len, "false");
	else if (cJSON_IsNumber(v) && is_integer(v->valuedouble))
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%g", v->valuedouble);
	else
		return -1;
	return 0;
}

/*
 * A list of strings joined with commas, as the flag gives it; an item
 * with a comma, or a list too long for buf, is refused.
 */
static int
json_list(const cJSON *v, char *buf, size_t len)
{
	const cJSON *item;
	size_t n = 0, l;

	buf[0] = '\0';
	cJSON_ArrayForEach(item, v) {
		if (!cJSON_IsString(item) ||
		    strchr(item->valuestring, ',') != NULL)
			return -1;
		l = strlen(item->valuestring);
		if (n + l + 2 > len)
			return -1;
		if (n > 0)
			buf[n++] = ',';
		memcpy(buf + n, item->valuestring, l + 1);
		n += l;
	}
	return 0;
}

static int
load_object(struct config *c, const char *file, const cJSON *obj,
    const char *prefix, char *err, size_t err_len)
{
	const struct option *o;
	const cJSON *v;
	char path[256], val[1024], why[256];

	cJSON_ArrayForEach(v, obj) {
		if (prefix == NULL)
			snprintf(path, sizeof(path), "%s", v->string);
		else
			snprintf(path, sizeof(path), "%s.%s", prefix, v->string);

		if (prefix == NULL && (strcmp(path, "apiVersion") == 0 ||
		    strcmp(path, "kind") == 0))
			continue;
		if (prefix == NULL && strcmp(path, "mode") == 0) {
			if (!cJSON_IsString(v) || (*v->valuestring != '\0' &&
			    strcmp(v->valuestring, "userspace") != 0))
				log_warnx("%s: mode: ignored, kube-uproxy "
				    "always runs in userspace mode", file);
			continue;
		}
		if ((o = opt_by_field(path)) != NULL) {
			/* null means "not set", as in Go's JSON decoding. */
			if (cJSON_IsNull(v))
				continue;
			if (o->opt_type == OPT_ADDRLIST && cJSON_IsArray(v)) {
				if (json_list(v, val, sizeof(val)) == -1) {
					snprintf(err, err_len, "%s: %s: not a "
					    "list of strings", file, path);
					return -1;
				}
			} else if (json_scalar(v, val, sizeof(val)) == -1) {
				snprintf(err, err_len, "%s: %s: not a scalar "
				    "value", file, path);
				return -1;
			}
			if (opt_set(c, o, val, why, sizeof(why)) == -1) {
				snprintf(err, err_len, "%s: %s: %s", file, path,
				    why);
				return -1;
			}
		} else if (field_listed(ignored_fields, nitems(ignored_fields),
		    path)) {
			log_debug(1, "%s: %s does not apply to kube-uproxy, "
			    "ignored", file, path);
		} else if (field_listed(container_fields,
		    nitems(container_fields), path)) {
			if (cJSON_IsNull(v))
				continue;
			if (!cJSON_IsObject(v)) {
				snprintf(err, err_len, "%s: %s: not an object",
				    file, path);
				return -1;
			}
			if (load_object(c, file, v, path, err, err_len) == -1)
				return -1;
		} else
			log_warnx("%s: unknown field %s, ignored", file, path);
	}
	return 0;
}

static cJSON *
parse_document(const char *path, const char *text, size_t len,
    char *err, size_t err_len)
{
	const char *p = text + strspn(text, " \t\r\n"), *end = NULL, *q;
	char why[256];
	cJSON *docs, *doc;
	int line = 1;

	if (*p == '{') {
		doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
		if (doc == NULL) {
			for (q = text; end != NULL && q < end; q++)
				line += *q == '\n';
			snprintf(err, err_len, "%s: line %d: invalid JSON",
			    path, line);
		}
		return doc;
	}
	if ((docs = yaml_parse_stream(text, len, why, sizeof(why))) == NULL) {
		snprintf(err, err_len, "%s: %s", path, why);
		return NULL;
	}
	if (cJSON_GetArraySize(docs) != 1) {
		snprintf(err, err_len, "%s: want one YAML document, found %d",
		    path, cJSON_GetArraySize(docs));
		cJSON_Delete(docs);
		return NULL;
	}
	doc = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return doc;
}

int
config_load_file(struct config *c, const char *path, char *err,
    size_t err_len)
{
	const cJSON *v;
	cJSON *doc;
	char *text, why[256];
	size_t len;
	int rv = -1;

	if ((text = file_read(path, CONFIG_FILE_MAX, &len, why,
	    sizeof(why))) == NULL) {
		snprintf(err, err_len, "%s: %s", path, why);
		return -1;
	}
	if ((doc = parse_document(path, text, len, err, err_len)) == NULL)
		goto done;
	if (!cJSON_IsObject(doc)) {
		snprintf(err, err_len, "%s: not a %s object", path, KPC_KIND);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "apiVersion");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, KPC_API_VERSION)) {
		snprintf(err, err_len, "%s: apiVersion: want %s", path,
		    KPC_API_VERSION);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, KPC_KIND)) {
		snprintf(err, err_len, "%s: kind: want %s", path, KPC_KIND);
		goto done;
	}
	rv = load_object(c, path, doc, NULL, err, err_len);
 done:
	cJSON_Delete(doc);
	free(text);
	return rv;
}

/* ---- /configz and usage ---- */

/* The object that holds `path`'s last component, created as needed. */
static cJSON *
json_parent(cJSON *root, const char *path, const char **leaf)
{
	const char *dot;
	char part[64];
	cJSON *obj = root, *sub;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(part, sizeof(part), "%.*s", (int)(dot - path), path);
		if ((sub = cJSON_GetObjectItemCaseSensitive(obj, part)) == NULL)
			sub = cJSON_AddObjectToObject(obj, part);
		obj = sub;
		path = dot + 1;
	}
	*leaf = path;
	return obj;
}

/* Add option o's value in *c to the tree under root, at its field path. */
static void
opt_to_json(cJSON *root, const struct config *c, const struct option *o)
{
	const char *leaf, *s;
	cJSON *obj;
	char buf[64];

	obj = json_parent(root, o->opt_field, &leaf);
	switch (o->opt_type) {
	case OPT_DURATION:
		config_format_duration(*(const uint64_t *)opt_cptr(c, o), buf, sizeof(buf));
		cJSON_AddStringToObject(obj, leaf, buf);
		break;
	case OPT_BYTES:
		config_format_bytes(*(const uint64_t *)opt_cptr(c, o), buf, sizeof(buf));
		cJSON_AddStringToObject(obj, leaf, buf);
		break;
	case OPT_BOOL:
		cJSON_AddBoolToObject(obj, leaf, *(const int *)opt_cptr(c, o));
		break;
	case OPT_INT:
		cJSON_AddNumberToObject(obj, leaf, *(const int *)opt_cptr(c, o));
		break;
	case OPT_ENUM:
		cJSON_AddStringToObject(obj, leaf,
		    o->opt_choices[*(const int *)opt_cptr(c, o)]);
		break;
	case OPT_ADDRLIST: {
		/* kube-proxy's field is a list: "a,b" is ["a", "b"]. */
		cJSON *list = cJSON_AddArrayToObject(obj, leaf);
		const char *q;
		size_t n;

		s = *(char *const *)opt_cptr(c, o);
		for (q = s != NULL ? s : ""; *q != '\0'; q += n + (q[n] == ',')) {
			n = strcspn(q, ",");
			snprintf(buf, sizeof(buf), "%.*s", (int)n, q);
			cJSON_AddItemToArray(list, cJSON_CreateString(buf));
		}
		break;
	}
	default:
		s = *(char *const *)opt_cptr(c, o);
		cJSON_AddStringToObject(obj, leaf, s ? s : "");
		break;
	}
}

char *
config_to_json(const struct config *c)
{
	cJSON *root = cJSON_CreateObject();
	char *out;
	size_t i;

	cJSON_AddStringToObject(root, "mode", "userspace");
	for (i = 0; i < nitems(options); i++)
		if (options[i].opt_field != NULL)
			opt_to_json(root, c, &options[i]);
	if ((out = cJSON_Print(root)) == NULL)
		fatalx("config_to_json: out of memory");
	cJSON_Delete(root);
	return out;
}

/*
 * One level of the tree as YAML block mappings.  Scalars are written the
 * way JSON writes them: a JSON string is a valid YAML double-quoted
 * scalar, so no value (an empty one, "[::1]:10249") needs special care.
 */
static int
yaml_write_object(FILE *f, const cJSON *obj, const char *prefix, int depth)
{
	const struct option *o;
	const cJSON *v;
	char path[256], *s;

	cJSON_ArrayForEach(v, obj) {
		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix ? "." : "", v->string);
		if (cJSON_IsObject(v)) {
			fprintf(f, "%*s%s:\n", depth * 2, "", v->string);
			if (yaml_write_object(f, v, path, depth + 1) == -1)
				return -1;
			continue;
		}
		if ((o = opt_by_field(path)) != NULL)
			fprintf(f, "%*s# --%s: %s\n", depth * 2, "", o->opt_flag,
			    o->opt_help);
		if ((s = cJSON_PrintUnformatted(v)) == NULL)
			return -1;
		fprintf(f, "%*s%s: %s\n", depth * 2, "", v->string, s);
		free(s);
	}
	return 0;
}

int
config_write_file(const struct config *c, const char *path, char *err,
    size_t err_len)
{
	cJSON *root = cJSON_CreateObject();
	FILE *f;
	size_t i;
	int rv;

	/* What the file holds, in table order (groups are contiguous). */
	for (i = 0; i < nitems(options); i++)
		if (options[i].opt_in_file)
			opt_to_json(root, c, &options[i]);

	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL) {
		snprintf(err, err_len, "--write-config-to %s: %s", path,
		    strerror(errno));
		cJSON_Delete(root);
		return -1;
	}
	errno = 0;
	fprintf(f, "# kube-uproxy configuration, read with --config FILE "
	    "(flags given with it win).\n"
	    "apiVersion: %s\nkind: %s\n"
	    "# kube-uproxy always runs in userspace mode.\n"
	    "mode: userspace\n", KPC_API_VERSION, KPC_KIND);
	rv = yaml_write_object(f, root, "", 0);
	cJSON_Delete(root);
	if (rv == 0 && ferror(f))
		rv = -1;
	if (f == stdout ? fflush(f) != 0 : fclose(f) != 0)
		rv = -1;
	if (rv == -1)
		snprintf(err, err_len, "--write-config-to %s: %s", path,
		    errno ? strerror(errno) : "write error");
	return rv;
}

void
config_usage(FILE *f)
{
	const struct option *o;
	char left[64];
	size_t i;

	fprintf(f, "Usage: kube-uproxy [flags]\n\n"
	    "A Kubernetes service proxy: kube-proxy's userspace mode in C.\n\n"
	    "Flags:\n");
	for (i = 0; i < nitems(options); i++) {
		o = &options[i];
		snprintf(left, sizeof(left), "%s--%s%s%s",
		    strcmp(o->opt_flag, "v") == 0 ? "-v, " : "    ",
		    o->opt_flag, o->opt_metavar ? " " : "",
		    o->opt_metavar ? o->opt_metavar : "");
		fprintf(f, "  %-36s %s", left, o->opt_help);
		if (o->opt_default != NULL && *o->opt_default != '\0' &&
		    o->opt_type != OPT_BOOL)
			fprintf(f, " (default \"%s\")", o->opt_default);
		fputc('\n', f);
	}
	fprintf(f, "  %-36s %s\n", "-h, --help", "print this help and exit");
	fprintf(f, "  %-36s %s\n", "    --version", "print the version and exit");
	fprintf(f, "\nDurations are Go style: 250ms, 2s, 1m30s, 1h.\n");
}
