/*
 * config.h - kube-uproxy's configuration: one table of typed options.
 *
 * The table in config.c drives command-line flags (--name=value and
 * --name value), the KubeProxyConfiguration file (--config), validation
 * and /configz, so a setting is described exactly once.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"

enum iptables_mode {
	IPTABLES_LEGACY,	/* portals installed (by the --portals backend) */
	IPTABLES_NONE,		/* no rules: clients use the proxy ports */
};

/* --portals; `none` also sets iptables to IPTABLES_NONE and back. */
enum portals_mode {
	PORTALS_IPTABLES,	/* libiptc on the legacy x_tables (iptc.c) */
	PORTALS_NFTABLES,	/* our own nftables tables (nft.c) */
	PORTALS_NONE,
};

struct config {
	char		*kubeconfig;		/* --kubeconfig */
	char		*master;		/* --master */
	char		*manifests;		/* --manifests */
	char		*hostname_override;	/* --hostname-override, as given */
	char		*hostname;		/* the node name: the override,
						   else uname, lower case */
	char		*config_file;		/* --config */
	char		*write_config_to;	/* --write-config-to */
	char		*bind_address_str;	/* --bind-address, as given */
	union addr	 bind_address;		/* parsed, port 0 */
	char		*port_range_str;	/* --proxy-port-range, as given */
	uint16_t	 port_lo, port_hi;	/* 0, 0: kernel-chosen */
	uint64_t	 udp_timeout_ms;	/* --udp-timeout */
	uint64_t	 sync_period_ms;	/* --iptables-sync-period */
	uint64_t	 min_sync_period_ms;	/* --iptables-min-sync-period */
	enum iptables_mode iptables;		/* --iptables (alias) */
	enum portals_mode portals;		/* --portals */
	char		*relay_str;		/* --relay copy|splice */
	int		 relay_splice;
	char		*node_port_range_str;	/* --service-node-port-range */
	uint16_t	 node_port_lo, node_port_hi;
	uint64_t	 tcp_keepalive_ms;	/* --tcp-keepalive, 0 = off */
	uint64_t	 tcp_fin_timeout_ms;	/* --tcp-fin-timeout */
	uint64_t	 relay_memory;		/* --relay-memory, bytes */
	char		*healthz_str;		/* --healthz-bind-address ("" = off) */
	union addr	 healthz_address;
	char		*metrics_str;		/* --metrics-bind-address ("" = off) */
	union addr	 metrics_address;
	/*
	 * --nodeport-addresses, as given ("" = every local address), and
	 * parsed: "primary" (the node's primary IPs, nodeaddr.h), or ranges.
	 */
	char		*nodeport_addresses_str;
	int		 nodeport_primary;
	struct addr_prefix *nodeport_addrs;	/* owned */
	size_t		 n_nodeport_addrs;
	int		 cleanup;		/* --cleanup */
	int		 verbosity;		/* --v, -v */
};

/* Fill *c with the defaults of DESIGN.md section 2. */
void	config_defaults(struct config *c);

/*
 * Parse argv (after the program name) into *c, on top of what is there.
 * Returns 0, 1 when --help, --version or --write-config-to was handled
 * (message printed or file written; exit 0), or -1 with one line naming
 * the flag (or the file) in err (exit 1).  When --config is given, the
 * file is applied first and flags override it.
 */
int	config_parse_args(struct config *c, int argc, char **argv,
	    char *err, size_t err_len);

/*
 * Apply a KubeProxyConfiguration file (YAML or JSON).  Unknown fields are
 * logged as warnings; returns -1 with "FILE: field: reason" in err.
 */
int	config_load_file(struct config *c, const char *path, char *err,
	    size_t err_len);

/*
 * Write *c as a KubeProxyConfiguration YAML file that config_load_file
 * reads back to the same configuration (the same config_to_json): every
 * field a file may hold, each with a comment naming its flag.  "-" is
 * stdout.  Returns 0, or -1 with "--write-config-to FILE: reason" in err.
 */
int	config_write_file(const struct config *c, const char *path,
	    char *err, size_t err_len);

/* Derive the parsed fields (addresses, ranges) from the *_str fields. */
int	config_finish(struct config *c, char *err, size_t err_len);

/* Effective configuration as a JSON object (caller frees): /configz. */
char	*config_to_json(const struct config *c);

void	config_free(struct config *c);
void	config_usage(FILE *);

/*
 * Go-style durations: "250ms", "2s", "1m30s", "1h", "1.5s", "0".  Units ns,
 * us (µs), ms, s, m, h.  Returns 0 and the value rounded down to ms, or -1.
 */
int	config_parse_duration(const char *s, uint64_t *ms);

/*
 * Port ranges as kube-proxy reads them: "A-B", "A", "A+N"; "", "0" and
 * "0-0" mean kernel-chosen (lo = hi = 0).  Returns 0 or -1.
 */
int	config_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);

/* Most ranges --nodeport-addresses takes. */
#define CONFIG_NODEPORT_ADDRESSES_MAX	64

/*
 * --nodeport-addresses as kube-proxy reads it: "" (every local address),
 * "primary" alone, or CIDR[,CIDR...] (each with its /LEN; a bare IP is
 * refused, as kube-proxy does), at most CONFIG_NODEPORT_ADDRESSES_MAX.
 * On success returns 0 with *primary set or the ranges in *out (caller
 * frees; NULL when none); on error -1 with the reason in why.
 */
int	config_parse_nodeport_addresses(const char *s, int *primary,
	    struct addr_prefix **out, size_t *n, char *why, size_t why_len);

/* Go's time.Duration.String() for whole milliseconds: "1m30s", "250ms". */
int	config_format_duration(uint64_t ms, char *buf, size_t len);
/* Bytes with the largest binary suffix that writes them exactly: "64Mi". */
void	config_format_bytes(uint64_t n, char *buf, size_t len);

/*
 * Sizes as Kubernetes quantities: "65536", "512Ki", "64Mi", "1Gi" (binary)
 * or "1k", "1M", "1G" (decimal).  Returns 0, or -1 on anything else or on
 * overflow.
 */
int	config_parse_bytes(const char *s, uint64_t *bytes);

#endif
