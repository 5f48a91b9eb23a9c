/*
 * config_int.h - the configuration's internals, shared by its files.
 *
 * Private to src/config*.c: nothing else includes it (callers use
 * config.h).  config.c holds the options table and config_opt_set, the
 * one place a value is checked and stored; config_args.c reads the
 * command line and prints the usage; config_file.c reads
 * KubeProxyConfiguration files; config_write.c writes them
 * (--write-config-to) and /configz; config_finish.c derives and
 * cross-checks the parsed fields; config_values.c parses the value
 * syntaxes.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include <stddef.h>

#include "config.h"

#define KPC_API_VERSION		"kubeproxy.config.k8s.io/v1alpha1"
#define KPC_KIND		"KubeProxyConfiguration"

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

#define OFF(f)	offsetof(struct config, f)

/* The options table (config.c), in --help and file order. */
extern const struct option	config_options[];
extern const size_t		config_noptions;

/*
 * The option whose flag is the len bytes at name, or NULL.  Commands
 * (--write-config-to) are found too; --help and --version are not rows.
 */
const struct option *config_opt_by_flag(const char *name, size_t len);

/* The option a KubeProxyConfiguration file sets at path, or NULL. */
const struct option *config_opt_by_field(const char *path);

/*
 * Check `val` for option `o` and store it in *c.  Returns 0, or -1 with
 * the reason in why (the caller prefixes the flag or file field).
 */
int	config_opt_set(struct config *c, const struct option *o,
	    const char *val, char *why, size_t why_len);

#endif
