/*
 * config_finish.c - the settings that need each other (see config.h):
 * the node name (kube-proxy's hostname rules), the parsed addresses and
 * port ranges derived from their *_str fields, --iptables and --portals
 * kept in step, and the cross-field checks (the two sync periods).
 * Single values were already checked by config_opt_set (config.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "config.h"
#include "util.h"

static char *
default_hostname(void)
{
	struct utsname u;

	if (uname(&u) == -1)
		return xstrdup("localhost");
	return xstrdup(u.nodename);
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
