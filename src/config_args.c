/*
 * config_args.c - kube-uproxy's command line (see config.h): pflag-style
 * flags (--name=value, --name value, -v N) read in two passes so that a
 * --config file is applied before the flags that override it, --help
 * and --version, and the usage text, one line per row of the options
 * table (config.c).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

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
		if ((o = config_opt_by_flag(name, len)) == NULL) {
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
		if (config_opt_set(c, o, val, why, sizeof(why)) == -1) {
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

void
config_usage(FILE *f)
{
	const struct option *o;
	char left[64];
	size_t i;

	fprintf(f, "Usage: kube-uproxy [flags]\n\n"
	    "A Kubernetes service proxy: kube-proxy's userspace mode in C.\n\n"
	    "Flags:\n");
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
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
