/*
 * test_config.c - durations, port ranges, defaults, every flag in both
 * forms, error messages, --config files (YAML and JSON) and /configz.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bounds.h"
#include "config.h"
#include "util.h"

#define CONFDIR	TESTDATA_DIR "/config"

static char err[512];

/* Parse a NULL-terminated list of arguments on top of the defaults. */
static int
parse(struct config *c, ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0;

	config_defaults(c);
	va_start(ap, c);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	return config_parse_args(c, argc, argv, err, sizeof(err));
}

/* Run config_parse_args with stderr captured into buf. */
static int
parse_capture(struct config *c, char *buf, size_t len, char *a0, char *a1)
{
	char *argv[] = { a0, a1, NULL };
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), rv;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	config_defaults(c);
	assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	rv = config_parse_args(c, a1 ? 2 : 1, argv, err, sizeof(err));
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return rv;
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*s;
		uint64_t	 ms;
	} good[] = {
		{ "0", 0 }, { "0s", 0 }, { "250ms", 250 }, { "1s", 1000 },
		{ "2s", 2000 }, { "1m30s", 90000 }, { "1.5s", 1500 },
		{ "2h", 7200000 }, { "1h2m3s", 3723000 }, { ".5s", 500 },
		{ "1.s", 1000 }, { "0.5m", 30000 }, { "1500000ns", 1 },
		{ "999us", 0 }, { "1000\xc2\xb5s", 1 }, { "2000\xce\xbcs", 2 },
		{ "+5s", 5000 }, { "15m0s", 900000 }, { "1.2345s", 1234 },
		{ "10ms5ms", 15 }, { "2562047h", 2562047ULL * 3600000 },
	};
	static const char *const bad[] = {
		"", "abc", "5", "-1s", "-0", "1x", "s", "1.5", ".s", ".",
		"1s ", " 1s", "1e3s", "1S", "2562048h", "1h-1m", "1sec",
		"99999999999999999999s",
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		if (config_parse_duration(good[i].s, &ms) != 0)
			fail_msg("\"%s\" rejected", good[i].s);
		if (ms != good[i].ms)
			fail_msg("\"%s\": %llu, want %llu", good[i].s,
			    (unsigned long long)ms,
			    (unsigned long long)good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_duration(bad[i], &ms) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void
test_bytes(void **state)
{
	static const struct {
		const char	*s;
		uint64_t	 n;
	} good[] = {
		{ "0", 0 }, { "65536", 65536 }, { "512Ki", 512 << 10 },
		{ "64Mi", 64 << 20 }, { "1Gi", 1ULL << 30 }, { "1k", 1000 },
		{ "3M", 3000000 }, { "2Ti", 2ULL << 40 },
	};
	static const char *const bad[] = {
		"", "Mi", "-1", "1.5Mi", "1mi", "1KB", "1 Mi", " 1", "1Mi ",
		"0x10", "99999999999999999999", "17179869184Gi",
	};
	uint64_t n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = 12345;
		if (config_parse_bytes(good[i].s, &n) != 0)
			fail_msg("\"%s\" rejected", good[i].s);
		if (n != good[i].n)
			fail_msg("\"%s\": %llu", good[i].s,
			    (unsigned long long)n);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_bytes(bad[i], &n) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void
test_port_ranges(void **state)
{
	static const struct {
		const char	*s;
		uint16_t	 lo, hi;
	} good[] = {
		{ "", 0, 0 }, { "0", 0, 0 }, { "0-0", 0, 0 }, { "0+0", 0, 0 },
		{ "30000-30010", 30000, 30010 }, { "30000", 30000, 30000 },
		{ "30000+10", 30000, 30010 }, { " 100-200 ", 100, 200 },
		{ "65535", 65535, 65535 }, { "1-65535", 1, 65535 },
		{ "65530+5", 65530, 65535 }, { "7-7", 7, 7 },
	};
	static const char *const bad[] = {
		"200-100", "70000", "1-70000", "65530+10", "abc", "10-", "-10",
		"0-10", "1-2-3", "1.5", "+5", "10+", "10 - 20", "0x10",
		"99999999999999999999",
	};
	uint16_t lo, hi;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		lo = hi = 1;
		if (config_parse_port_range(good[i].s, &lo, &hi) != 0)
			fail_msg("\"%s\" rejected", good[i].s);
		assert_int_equal(lo, good[i].lo);
		assert_int_equal(hi, good[i].hi);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_port_range(bad[i], &lo, &hi) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void
test_defaults(void **state)
{
	struct config c;
	struct utsname u;
	char host[sizeof(u.nodename)];
	size_t i;

	(void)state;
	config_defaults(&c);
	assert_null(c.kubeconfig);
	assert_null(c.master);
	assert_null(c.manifests);
	assert_null(c.config_file);
	assert_string_equal(c.bind_address_str, "0.0.0.0");
	assert_int_equal(c.bind_address.sa.sa_family, AF_INET);
	assert_int_equal(c.bind_address.in4.sin_addr.s_addr, 0);
	assert_string_equal(c.port_range_str, "");
	assert_int_equal(c.port_lo, 0);
	assert_int_equal(c.port_hi, 0);
	assert_int_equal(c.udp_timeout_ms, 250);
	assert_int_equal(c.sync_period_ms, 30000);
	assert_int_equal(c.min_sync_period_ms, 1000);
	assert_int_equal(c.iptables, IPTABLES_LEGACY);
	assert_string_equal(c.relay_str, "copy");
	assert_int_equal(c.relay_splice, 0);
	assert_string_equal(c.healthz_str, "0.0.0.0:10256");
	assert_int_equal(addr_port(&c.healthz_address), 10256);
	assert_string_equal(c.metrics_str, "127.0.0.1:10249");
	assert_int_equal(addr_port(&c.metrics_address), 10249);
	assert_int_equal(c.node_port_lo, 30000);
	assert_int_equal(c.node_port_hi, 32767);
	assert_int_equal(c.tcp_keepalive_ms, 15000);
	assert_int_equal(c.tcp_fin_timeout_ms, 3600000);
	assert_int_equal(c.relay_memory, 64 << 20);
	assert_int_equal(c.cleanup, 0);
	assert_int_equal(c.verbosity, 0);
	/* kube-proxy's node name: uname, lowercased. */
	assert_int_equal(uname(&u), 0);
	for (i = 0; u.nodename[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)u.nodename[i]);
	host[i] = '\0';
	assert_string_equal(c.hostname, host);
	config_free(&c);
	assert_null(c.relay_str);

	/* No arguments at all: still the defaults. */
	assert_int_equal(parse(&c, NULL), 0);
	assert_int_equal(c.udp_timeout_ms, 250);
	config_free(&c);
}

/* Every flag, as --flag=value and as --flag value. */
static void
test_flags_both_forms(void **state)
{
	static const struct {
		const char	*flag, *val;
	} flags[] = {
		{ "kubeconfig", "/k.conf" }, { "master", "https://127.0.0.1:6443" },
		{ "manifests", "/m" }, { "hostname-override", "Node-1" },
		{ "bind-address", "127.0.0.2" },
		{ "proxy-port-range", "30000-30100" }, { "udp-timeout", "1s" },
		{ "iptables-sync-period", "1m" },
		{ "iptables-min-sync-period", "5s" }, { "iptables", "none" },
		{ "relay", "splice" }, { "healthz-bind-address", "[::1]:1234" },
		{ "metrics-bind-address", "" }, { "v", "4" },
		{ "config", CONFDIR "/full.yaml" },
	};
	struct config c;
	char arg[256];
	size_t i;
	int form;

	(void)state;
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		for (form = 0; form < 2; form++) {
			int rv;

			if (form == 0) {
				snprintf(arg, sizeof(arg), "--%s=%s",
				    flags[i].flag, flags[i].val);
				rv = parse(&c, arg, NULL);
			} else {
				snprintf(arg, sizeof(arg), "--%s", flags[i].flag);
				rv = parse(&c, arg, flags[i].val, NULL);
			}
			if (rv != 0)
				fail_msg("%s: %s", arg, err);
			switch (i) {
			case 0: assert_string_equal(c.kubeconfig, "/k.conf"); break;
			case 1: assert_string_equal(c.master, flags[i].val); break;
			case 2: assert_string_equal(c.manifests, "/m"); break;
			case 3: assert_string_equal(c.hostname, "node-1"); break;
			case 4:
				assert_string_equal(c.bind_address_str, "127.0.0.2");
				assert_int_equal(c.bind_address.in4.sin_addr.s_addr,
				    htonl(0x7f000002));
				break;
			case 5:
				assert_int_equal(c.port_lo, 30000);
				assert_int_equal(c.port_hi, 30100);
				break;
			case 6: assert_int_equal(c.udp_timeout_ms, 1000); break;
			case 7: assert_int_equal(c.sync_period_ms, 60000); break;
			case 8: assert_int_equal(c.min_sync_period_ms, 5000); break;
			case 9: assert_int_equal(c.iptables, IPTABLES_NONE); break;
			case 10: assert_int_equal(c.relay_splice, 1); break;
			case 11:
				assert_int_equal(c.healthz_address.sa.sa_family,
				    AF_INET6);
				assert_int_equal(addr_port(&c.healthz_address), 1234);
				break;
			case 12:
				assert_string_equal(c.metrics_str, "");
				assert_int_equal(c.metrics_address.sa.sa_family,
				    AF_UNSPEC);
				break;
			case 13: assert_int_equal(c.verbosity, 4); break;
			case 14:
				assert_string_equal(c.config_file, flags[i].val);
				assert_int_equal(c.udp_timeout_ms, 2000);
				break;
			}
			config_free(&c);
		}
	}
}

/* --portals picks the backend; --iptables none stays an alias of none. */
static void
test_portals(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(parse(&c, NULL), 0);
	assert_int_equal(c.portals, PORTALS_IPTABLES);
	assert_int_equal(c.iptables, IPTABLES_LEGACY);
	config_free(&c);
	assert_int_equal(parse(&c, "--portals", "nftables", NULL), 0);
	assert_int_equal(c.portals, PORTALS_NFTABLES);
	assert_int_equal(c.iptables, IPTABLES_LEGACY);	/* rules on */
	config_free(&c);
	assert_int_equal(parse(&c, "--portals=none", NULL), 0);
	assert_int_equal(c.iptables, IPTABLES_NONE);
	config_free(&c);
	assert_int_equal(parse(&c, "--iptables", "none", NULL), 0);
	assert_int_equal(c.portals, PORTALS_NONE);
	config_free(&c);
	assert_int_equal(parse(&c, "--iptables=legacy", "--portals=nftables",
	    NULL), 0);
	assert_int_equal(c.portals, PORTALS_NFTABLES);
	config_free(&c);
	assert_int_equal(parse(&c, "--portals=ipvs", NULL), -1);
	assert_non_null(strstr(err, "--portals"));
	config_free(&c);
}

static void
test_bool_and_verbosity_forms(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(parse(&c, "--cleanup", NULL), 0);
	assert_int_equal(c.cleanup, 1);
	config_free(&c);
	assert_int_equal(parse(&c, "--cleanup=true", NULL), 0);
	assert_int_equal(c.cleanup, 1);
	config_free(&c);
	assert_int_equal(parse(&c, "--cleanup", "--cleanup=false", NULL), 0);
	assert_int_equal(c.cleanup, 0);
	config_free(&c);
	/* A bool never takes the next argument. */
	assert_int_equal(parse(&c, "--cleanup", "false", NULL), -1);
	assert_string_equal(err, "unexpected argument \"false\"");
	config_free(&c);
	assert_int_equal(parse(&c, "--cleanup=maybe", NULL), -1);
	assert_string_equal(err, "--cleanup: \"maybe\" is not a boolean");
	config_free(&c);

	/* Node names are trimmed and lowercased; empty means uname. */
	assert_int_equal(parse(&c, "--hostname-override", " MiXed.Host ",
	    NULL), 0);
	assert_string_equal(c.hostname, "mixed.host");
	config_free(&c);
	assert_int_equal(parse(&c, "--hostname-override=", NULL), 0);
	assert_true(strlen(c.hostname) > 0);
	config_free(&c);

	/* An empty path or URL is not set (kube-proxy's `kubeconfig: ""`). */
	assert_int_equal(parse(&c, "--kubeconfig=", "--master", "",
	    "--manifests=", NULL), 0);
	assert_null(c.kubeconfig);
	assert_null(c.master);
	assert_null(c.manifests);
	config_free(&c);

	assert_int_equal(parse(&c, "-v", "3", NULL), 0);
	assert_int_equal(c.verbosity, 3);
	config_free(&c);
	assert_int_equal(parse(&c, "-v5", NULL), 0);
	assert_int_equal(c.verbosity, 5);
	config_free(&c);
	assert_int_equal(parse(&c, "-v=6", NULL), 0);
	assert_int_equal(c.verbosity, 6);
	config_free(&c);
	assert_int_equal(parse(&c, "--v=10", NULL), 0);
	assert_int_equal(c.verbosity, 10);
	config_free(&c);
	assert_int_equal(parse(&c, "--v=11", NULL), -1);
	assert_string_equal(err, "--v: 11 is not in 0..10");
	config_free(&c);
	assert_int_equal(parse(&c, "-v", "x", NULL), -1);
	assert_string_equal(err, "--v: \"x\" is not an integer");
	config_free(&c);
}

static void
test_flag_errors(void **state)
{
	static const struct {
		const char	*arg, *want;
	} cases[] = {
		{ "--udp-timeout=abc", "--udp-timeout: \"abc\" is not a duration" },
		{ "--udp-timeout=0", "--udp-timeout: \"0\" must be greater than 0" },
		{ "--iptables-sync-period=0s",
		  "--iptables-sync-period: \"0s\" must be greater than 0" },
		{ "--iptables-min-sync-period=1m", "--iptables-min-sync-period "
		  "(iptables.minSyncPeriod): 1m0s is longer than "
		  "--iptables-sync-period (iptables.syncPeriod, 30s)" },
		{ "--iptables-min-sync-period=-1s",
		  "--iptables-min-sync-period: \"-1s\" is not a duration" },
		{ "--bind-address=localhost",
		  "--bind-address: \"localhost\" is not an IP address" },
		{ "--healthz-bind-address=127.0.0.1",
		  "--healthz-bind-address: \"127.0.0.1\" is not IP:PORT" },
		{ "--metrics-bind-address=::1:80",
		  "--metrics-bind-address: \"::1:80\" is not IP:PORT" },
		{ "--proxy-port-range=5-1", "--proxy-port-range: \"5-1\" is not "
		  "a port range (A-B, A or A+N, at most 65535)" },
		{ "--iptables=nft", "--iptables: \"nft\" is not one of legacy, none" },
		{ "--relay=zerocopy",
		  "--relay: \"zerocopy\" is not one of copy, splice" },
		{ "--foo=1", "unknown flag: --foo" },
		{ "--proxy-mode=userspace", "unknown flag: --proxy-mode" },
		{ "-cleanup", "unknown flag: -cleanup" },
		{ "stray", "unexpected argument \"stray\"" },
		{ "-", "unexpected argument \"-\"" },
		{ "--master", "--master: missing value" },
		{ "--config=" CONFDIR "/missing.yaml",
		  CONFDIR "/missing.yaml: No such file or directory" },
	};
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(&c, cases[i].arg, NULL) != -1)
			fail_msg("%s accepted", cases[i].arg);
		assert_string_equal(err, cases[i].want);
		assert_null(strchr(err, '\n'));
		config_free(&c);
	}
	/* Arguments after "--" are positional too. */
	assert_int_equal(parse(&c, "--cleanup", "--", "x", NULL), -1);
	assert_string_equal(err, "unexpected argument \"x\"");
	config_free(&c);
	/* The first error wins; later good flags do not hide it. */
	assert_int_equal(parse(&c, "--udp-timeout", "1x", "--v=2", NULL), -1);
	assert_string_equal(err, "--udp-timeout: \"1x\" is not a duration");
	config_free(&c);
}

static void
test_help_version(void **state)
{
	struct config c;
	FILE *f;
	char buf[4096];
	size_t n;

	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);

	(void)state;
	/* Keep the TAP stream clean: the messages go to /dev/null. */
	assert_true(saved >= 0 && null >= 0);
	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	/* Handled even when other flags follow, before --config is read. */
	assert_int_equal(parse(&c, "--version", "--config=/nonexistent",
	    NULL), 1);
	config_free(&c);
	assert_int_equal(parse(&c, "--v=1", "--help", NULL), 1);
	config_free(&c);
	assert_int_equal(parse(&c, "-h", NULL), 1);
	config_free(&c);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
	f = tmpfile();
	assert_non_null(f);
	config_usage(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	/* The table drives usage: every flag and its default. */
	assert_non_null(strstr(buf, "--udp-timeout DUR"));
	assert_non_null(strstr(buf, "(default \"250ms\")"));
	assert_non_null(strstr(buf, "--iptables-min-sync-period"));
	assert_non_null(strstr(buf, "-v, --v N"));
	assert_non_null(strstr(buf, "--relay MODE"));
	assert_non_null(strstr(buf, "--cleanup "));
	assert_non_null(strstr(buf, "--version"));
}

static void
test_config_yaml(void **state)
{
	struct config c;

	(void)state;
	if (parse(&c, "--config", CONFDIR "/full.yaml", NULL) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.bind_address_str, "127.0.0.1");
	assert_int_equal(c.port_lo, 40000);
	assert_int_equal(c.port_hi, 40100);
	assert_int_equal(c.udp_timeout_ms, 2000);
	assert_int_equal(c.sync_period_ms, 60000);
	assert_int_equal(c.min_sync_period_ms, 500);
	assert_string_equal(c.kubeconfig, "/etc/kube-uproxy/kubeconfig");
	assert_string_equal(c.hostname, "node-a.example");
	assert_int_equal(addr_port(&c.healthz_address), 20256);
	assert_int_equal(c.metrics_address.sa.sa_family, AF_INET6);
	assert_int_equal(addr_port(&c.metrics_address), 20249);
	assert_int_equal(c.verbosity, 2);
	/* Flags the file has no field for keep their defaults. */
	assert_int_equal(c.iptables, IPTABLES_LEGACY);
	config_free(&c);
}

static void
test_config_json(void **state)
{
	struct config c;

	(void)state;
	if (parse(&c, "--config=" CONFDIR "/full.json", NULL) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.bind_address.sa.sa_family, AF_INET6);
	assert_int_equal(c.port_lo, 50000);
	assert_int_equal(c.port_hi, 50009);
	assert_int_equal(c.udp_timeout_ms, 1500);
	assert_int_equal(c.sync_period_ms, 45000);
	assert_int_equal(c.min_sync_period_ms, 0);
	assert_string_equal(c.kubeconfig, "/tmp/kc.json");
	assert_string_equal(c.hostname, "node-j");
	assert_string_equal(c.healthz_str, "");
	assert_int_equal(c.healthz_address.sa.sa_family, AF_UNSPEC);
	assert_int_equal(addr_port(&c.metrics_address), 30249);
	config_free(&c);
}

static void
test_config_api_sample(void **state)
{
	struct config c, d;

	(void)state;
	if (parse(&c, "--config", SAMPLES_DIR "/kube-proxy-config.yaml",
	    NULL) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
	/* hostnameOverride: "" keeps the host name. */
	config_defaults(&d);
	assert_string_equal(c.hostname, d.hostname);
	assert_int_equal(c.udp_timeout_ms, 250);
	config_free(&d);
	config_free(&c);
}

static void
test_flags_override_file(void **state)
{
	struct config c;

	(void)state;
	/* Whatever the order on the command line, flags win. */
	if (parse(&c, "--udp-timeout=5s", "--config", CONFDIR "/full.yaml",
	    "--bind-address", "127.0.0.9", NULL) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.udp_timeout_ms, 5000);
	assert_string_equal(c.bind_address_str, "127.0.0.9");
	/* Untouched by flags: from the file. */
	assert_int_equal(c.sync_period_ms, 60000);
	assert_int_equal(c.port_lo, 40000);
	config_free(&c);
}

static void
test_config_unknown_fields(void **state)
{
	struct config c;
	char out[4096], arg[] = "--config=" CONFDIR "/unknown.yaml";

	(void)state;
	if (parse_capture(&c, out, sizeof(out), arg, NULL) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.udp_timeout_ms, 3000);
	assert_int_equal(c.sync_period_ms, 20000);
	assert_non_null(strstr(out, "unknown field fooBar"));
	assert_non_null(strstr(out, "unknown field iptables.bogusField"));
	assert_non_null(strstr(out, "always runs in userspace mode"));
	/* Known kube-proxy fields that do not apply are not warnings. */
	assert_null(strstr(out, "ipvs"));
	config_free(&c);
}

static void
test_config_errors(void **state)
{
	static const struct {
		const char	*file, *want;
	} cases[] = {
		{ "bad-duration.yaml",
		  "bad-duration.yaml: iptables.syncPeriod: \"abc\" is not a duration" },
		{ "bad-address.json", "bad-address.json: healthzBindAddress: "
		  "\"localhost:10256\" is not IP:PORT" },
		{ "bad-apiversion.yaml", "bad-apiversion.yaml: apiVersion: want "
		  "kubeproxy.config.k8s.io/v1alpha1" },
		{ "bad-syntax.json", "bad-syntax.json: line 5: invalid JSON" },
	};
	struct config c;
	char path[512];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "--config=%s/%s", CONFDIR,
		    cases[i].file);
		assert_int_equal(parse(&c, path, NULL), -1);
		/* err is "<full path>: ..."; compare from the file name. */
		n = strlen(CONFDIR) + 1;
		assert_true(strncmp(err, CONFDIR "/", n) == 0);
		assert_string_equal(err + n, cases[i].want);
		config_free(&c);
	}
	/* config_load_file alone names the file too. */
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, CONFDIR "/bad-duration.yaml",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad-duration.yaml: iptables.syncPeriod"));
	config_free(&c);
}

static const cJSON *
jget(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	if (v == NULL)
		fail_msg("no %s%s%s in /configz", a, b ? "." : "", b ? b : "");
	return v;
}

static void
test_to_json(void **state)
{
	struct config c;
	uint64_t ms;
	cJSON *j;
	char *s;

	(void)state;
	if (parse(&c, "--udp-timeout=1m30s", "--iptables-sync-period=1h2m3.5s",
	    "--iptables-min-sync-period=250ms", "--iptables=none",
	    "--proxy-port-range=30000+5", "--bind-address=::1", "--cleanup",
	    "--v=3", "--kubeconfig=/kc", "--manifests=/srv/m",
	    "--metrics-bind-address=", NULL) != 0)
		fail_msg("%s", err);
	s = config_to_json(&c);
	assert_non_null(s);
	j = cJSON_Parse(s);
	assert_non_null(j);
	assert_string_equal(jget(j, "udpIdleTimeout", NULL)->valuestring,
	    "1m30s");
	assert_string_equal(jget(j, "iptables", "syncPeriod")->valuestring,
	    "1h2m3.5s");
	assert_string_equal(jget(j, "iptables", "minSyncPeriod")->valuestring,
	    "250ms");
	/* Durations read back to the same values. */
	assert_int_equal(config_parse_duration(jget(j, "iptables",
	    "syncPeriod")->valuestring, &ms), 0);
	assert_int_equal(ms, c.sync_period_ms);
	assert_string_equal(jget(j, "iptablesMode", NULL)->valuestring, "none");
	assert_string_equal(jget(j, "portRange", NULL)->valuestring, "30000+5");
	assert_string_equal(jget(j, "bindAddress", NULL)->valuestring, "::1");
	assert_true(cJSON_IsTrue(jget(j, "cleanup", NULL)));
	assert_int_equal(jget(j, "logging", "verbosity")->valueint, 3);
	assert_string_equal(jget(j, "clientConnection",
	    "kubeconfig")->valuestring, "/kc");
	assert_string_equal(jget(j, "manifests", NULL)->valuestring, "/srv/m");
	assert_string_equal(jget(j, "master", NULL)->valuestring, "");
	assert_string_equal(jget(j, "metricsBindAddress", NULL)->valuestring,
	    "");
	assert_string_equal(jget(j, "healthzBindAddress", NULL)->valuestring,
	    "0.0.0.0:10256");
	assert_string_equal(jget(j, "relay", NULL)->valuestring, "copy");
	/* The override as given, like kube-proxy's /configz. */
	assert_string_equal(jget(j, "hostnameOverride", NULL)->valuestring,
	    "");
	/* Commands are not settings. */
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "writeConfigTo"));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "write-config-to"));
	assert_string_equal(jget(j, "mode", NULL)->valuestring, "userspace");
	cJSON_Delete(j);
	free(s);
	config_free(&c);
}

/* A private directory for files the tests write; removed by rmdir_all. */
static char tmpdir[64];

static const char *
tmp_path(const char *name)
{
	static char path[128];

	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* config_load_file + config_finish on top of the defaults, stderr captured. */
static int
load_capture(struct config *c, const char *path, char *buf, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), rv;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	config_defaults(c);
	assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	err[0] = '\0';
	rv = config_load_file(c, path, err, sizeof(err));
	if (rv == 0)
		rv = config_finish(c, err, sizeof(err));
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return rv;
}

/*
 * A value up to BOUND_CONFIG_VALUE_BYTES - 1 bytes goes through a write
 * and a read unchanged (the file reader cut values at 1,023 bytes: found
 * by the config_args fuzz target); a longer one is refused, from a flag
 * and from the file alike, never shortened.
 */
static void
test_long_values(void **state)
{
	const char *path = tmp_path("long.yaml");
	struct config c, d;
	char *arg, *text, out[512];
	char *want, *got;
	size_t n;

	(void)state;
	for (n = 2000; n <= BOUND_CONFIG_VALUE_BYTES;
	    n += BOUND_CONFIG_VALUE_BYTES - 2000) {
		arg = xcalloc(1, n + 32);
		memcpy(arg, "--master=https://", 17);
		memset(arg + 17, 'a', n - 8);
		memcpy(arg + 17 + n - 8, ".example", 9);	/* n + 9 bytes of value */
		if (n == 2000) {
			assert_int_equal(parse(&c, arg, NULL), 0);
			assert_int_equal(config_write_file(&c, path, err,
			    sizeof(err)), 0);
			assert_int_equal(load_capture(&d, path, out, sizeof(out)), 0);
			want = config_to_json(&c);
			got = config_to_json(&d);
			assert_string_equal(got, want);
			free(want);
			free(got);
			config_free(&d);
		} else {
			assert_int_equal(parse(&c, arg, NULL), -1);
			assert_non_null(strstr(err, "BOUND_CONFIG_VALUE_BYTES"));
			text = xasprintf("apiVersion: kubeproxy.config.k8s.io/"
			    "v1alpha1\nkind: KubeProxyConfiguration\n"
			    "master: \"%s\"\n", arg + 9);
			write_text(path, text);
			free(text);
			assert_int_equal(load_capture(&d, path, out, sizeof(out)), -1);
			if (strstr(err, "BOUND_CONFIG_VALUE_BYTES") == NULL)
				fail_msg("file: %s", err);
			config_free(&d);
		}
		config_free(&c);
		free(arg);
	}
	unlink(path);
}

/*
 * --write-config-to, then --config: the same configuration (compared as
 * /configz shows it), with no warning, whatever the values hold.
 */
static void
test_write_round_trip(void **state)
{
	static const char *const cases[][20] = {
		{ NULL },	/* the defaults */
		{ "--kubeconfig=/k", "--master=https://10.0.0.1:6443",
		  "--manifests=/srv/m", "--hostname-override=Node-X",
		  "--bind-address=::1", "--proxy-port-range=30000+5",
		  "--udp-timeout=1m30s", "--iptables-sync-period=1h2m3.5s",
		  "--iptables-min-sync-period=250ms", "--iptables=none",
		  "--relay=splice", "--healthz-bind-address=",
		  "--metrics-bind-address=[::1]:9999", "--v=7",
		  "--nodeport-addresses=198.18.0.0/24,2001:2::/48", NULL },
		{ "--nodeport-addresses=primary", NULL },
		/* Text YAML would misread unquoted. */
		{ "--kubeconfig=/a b/\"q\": #c\\d", "--manifests=-/x: y",
		  "--hostname-override= Spaced\tNode ", "--master=null",
		  "--proxy-port-range=1+0", "--iptables-sync-period=1.5s",
		  "--iptables-min-sync-period=0", NULL },
		{ "--manifests=\xc3\xa9t\xc3\xa9/'single'", "--master=~",
		  "--kubeconfig=[x]", "--v=10", "--bind-address=0.0.0.0",
		  "--proxy-port-range=40000", NULL },
		{ "--master=true", "--manifests=0x10", "--kubeconfig=1e3",
		  "--hostname-override=yes", NULL },
	};
	struct config c, d;
	char *argv[24], *want, *got, out[4096], text[8192];
	const char *path = tmp_path("written.yaml");
	size_t i, argc;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (argc = 0; cases[i][argc] != NULL; argc++)
			argv[argc] = xstrdup(cases[i][argc]);
		config_defaults(&c);
		if (config_parse_args(&c, argc, argv, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		if (config_write_file(&c, path, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		if (load_capture(&d, path, out, sizeof(out)) != 0)
			fail_msg("case %zu: reading back: %s", i, err);
		assert_string_equal(out, "");
		want = config_to_json(&c);
		got = config_to_json(&d);
		assert_string_equal(got, want);
		assert_string_equal(d.hostname, c.hostname);
		free(want);
		free(got);
		config_free(&d);

		/* The flag does the same and says "done, exit 0". */
		unlink(path);
		argv[argc] = xasprintf("--write-config-to=%s", path);
		config_free(&c);
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, argc + 1, argv, err,
		    sizeof(err)), 1);
		free(argv[argc]);
		if (load_capture(&d, path, out, sizeof(out)) != 0)
			fail_msg("case %zu: reading back: %s", i, err);
		want = config_to_json(&c);
		got = config_to_json(&d);
		assert_string_equal(got, want);
		free(want);
		free(got);
		config_free(&d);
		config_free(&c);
		while (argc > 0)
			free(argv[--argc]);
	}

	/* The file says where each field comes from, and what it is. */
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\n"));
	assert_non_null(strstr(text, "# --udp-timeout: "));
	assert_non_null(strstr(text, "\niptables:\n  # --iptables-sync-period: "));
	/* Text YAML would read as a number or a boolean stays a string. */
	assert_non_null(strstr(text, "\n  kubeconfig: \"1e3\"\n"));
	assert_non_null(strstr(text, "\nmaster: \"true\"\n"));
	assert_non_null(strstr(text, "\nlogging:\n  # --v: log verbosity\n"
	    "  verbosity: 0\n"));
	/* Not settings: --cleanup, --config, --write-config-to. */
	assert_null(strstr(text, "cleanup"));
	assert_null(strstr(text, "\nconfig"));
	assert_null(strstr(text, "write"));
	unlink(path);
}

/*
 * --nodeport-addresses: CIDRs, or primary alone; one clear error for
 * anything else; the file's nodePortAddresses is a list.
 */
static void
test_nodeport_addresses(void **state)
{
	static const char *const bad[][2] = {
		{ "198.18.0.1", "\"198.18.0.1\" is not a CIDR" },
		{ "198.18.0.0/33", "\"198.18.0.0/33\" is not a CIDR" },
		{ "198.18.0.0/24,", "\"\" is not a CIDR" },
		{ "primary,198.18.0.0/24", "\"primary\" must be alone" },
		{ "198.18.0.0/24,primary", "\"primary\" must be alone" },
		{ "eth0", "\"eth0\" is not a CIDR" },
	};
	struct config c;
	char arg[128], buf[64], out[1024];
	const char *path = tmp_path("np.yaml");
	size_t i;

	(void)state;
	assert_int_equal(parse(&c, NULL), 0);
	assert_int_equal(c.n_nodeport_addrs, 0);
	assert_int_equal(c.nodeport_primary, 0);
	config_free(&c);

	assert_int_equal(parse(&c, "--nodeport-addresses",
	    "198.18.0.0/24,2001:2::/48", NULL), 0);
	assert_int_equal(c.n_nodeport_addrs, 2);
	assert_string_equal(addr_prefix_str(&c.nodeport_addrs[1], buf,
	    sizeof(buf)), "2001:2::/48");
	config_free(&c);

	assert_int_equal(parse(&c, "--nodeport-addresses=primary", NULL), 0);
	assert_int_equal(c.nodeport_primary, 1);
	assert_int_equal(c.n_nodeport_addrs, 0);
	config_free(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(arg, sizeof(arg), "--nodeport-addresses=%s", bad[i][0]);
		assert_int_equal(parse(&c, arg, NULL), -1);
		assert_non_null(strstr(err, "--nodeport-addresses: "));
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("%s: %s", bad[i][0], err);
		config_free(&c);
	}

	/* The file: a list, or one string; a list of non-strings is refused. */
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\n"
	    "nodePortAddresses: [\"198.18.0.0/24\", \"198.19.0.0/16\"]\n");
	if (load_capture(&c, path, out, sizeof(out)) != 0)
		fail_msg("%s", err);
	assert_string_equal(out, "");
	assert_int_equal(c.n_nodeport_addrs, 2);
	assert_string_equal(c.nodeport_addresses_str,
	    "198.18.0.0/24,198.19.0.0/16");
	config_free(&c);
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\n"
	    "nodePortAddresses: [1, 2]\n");
	assert_int_equal(load_capture(&c, path, out, sizeof(out)), -1);
	assert_non_null(strstr(err, "nodePortAddresses: not a list of strings"));
	config_free(&c);
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\n"
	    "nodePortAddresses: [\"10.0.0.1\"]\n");
	assert_int_equal(load_capture(&c, path, out, sizeof(out)), -1);
	assert_non_null(strstr(err, "nodePortAddresses: \"10.0.0.1\" is not a CIDR"));
	config_free(&c);
	unlink(path);
}

static void
test_write_errors(void **state)
{
	struct config c;
	char arg[] = "--write-config-to=/nonexistent/dir/kp.yaml";
	char *argv[] = { arg };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_write_file(&c, "/nonexistent/dir/kp.yaml", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--write-config-to /nonexistent/dir/kp.yaml: "
	    "No such file or directory");
	config_free(&c);
	config_defaults(&c);
	assert_int_equal(config_parse_args(&c, 1, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--write-config-to /nonexistent/dir"));
	config_free(&c);
	/* A bad flag is reported before anything is written. */
	assert_int_equal(parse(&c, "--write-config-to", tmp_path("never.yaml"),
	    "--udp-timeout=x", NULL), -1);
	assert_string_equal(err, "--udp-timeout: \"x\" is not a duration");
	assert_int_equal(access(tmp_path("never.yaml"), F_OK), -1);
	config_free(&c);
}

/* Every kind of invalid value in a file names its field. */
static void
test_file_field_errors(void **state)
{
	static const struct {
		const char	*body, *want;
	} cases[] = {
		{ "portRange: 9-x", "portRange: \"9-x\" is not a port range "
		  "(A-B, A or A+N, at most 65535)" },
		{ "bindAddress: localhost",
		  "bindAddress: \"localhost\" is not an IP address" },
		{ "metricsBindAddress: 127.0.0.1",
		  "metricsBindAddress: \"127.0.0.1\" is not IP:PORT" },
		{ "iptablesMode: nft",
		  "iptablesMode: \"nft\" is not one of legacy, none" },
		{ "relay: zerocopy", "relay: \"zerocopy\" is not one of copy, splice" },
		{ "logging: {verbosity: 11}", "logging.verbosity: 11 is not in 0..10" },
		{ "logging:\n  verbosity: lots",
		  "logging.verbosity: \"lots\" is not an integer" },
		{ "udpIdleTimeout: 0s", "udpIdleTimeout: \"0s\" must be greater than 0" },
		{ "udpIdleTimeout: 5", "udpIdleTimeout: \"5\" is not a duration" },
		{ "iptables: 5", "iptables: not an object" },
		{ "clientConnection: [a]", "clientConnection: not an object" },
		{ "bindAddress: [a, b]", "bindAddress: not a scalar value" },
		{ "clientConnection: {kubeconfig: {a: 1}}",
		  "clientConnection.kubeconfig: not a scalar value" },
		{ "iptables:\n  minSyncPeriod: 1h\n  syncPeriod: x",
		  "iptables.syncPeriod: \"x\" is not a duration" },
	};
	struct config c;
	char body[512], out[1024];
	const char *path = tmp_path("bad.yaml");
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "apiVersion: "
		    "kubeproxy.config.k8s.io/v1alpha1\nkind: "
		    "KubeProxyConfiguration\n%s\n", cases[i].body);
		write_text(path, body);
		if (load_capture(&c, path, out, sizeof(out)) != -1)
			fail_msg("accepted: %s", cases[i].body);
		n = strlen(path);
		if (strncmp(err, path, n) != 0 || strncmp(err + n, ": ", 2) != 0)
			fail_msg("error does not name the file: %s", err);
		assert_string_equal(err + n + 2, cases[i].want);
		config_free(&c);
	}

	/* Checks across fields name both fields. */
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\n"
	    "iptables: {syncPeriod: 1s, minSyncPeriod: 2s}\n");
	snprintf(body, sizeof(body), "--config=%s", path);
	assert_int_equal(parse(&c, body, NULL), -1);
	assert_non_null(strstr(err, "(iptables.minSyncPeriod): 2s is longer"));
	assert_non_null(strstr(err, "(iptables.syncPeriod, 1s)"));
	config_free(&c);

	/* `kind` is checked as well as apiVersion. */
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeletConfiguration\n");
	assert_int_equal(load_capture(&c, path, out, sizeof(out)), -1);
	assert_non_null(strstr(err, "bad.yaml: kind: want KubeProxyConfiguration"));
	config_free(&c);

	/* Empty paths in a file are unset, as in kube-proxy. */
	write_text(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
	    "kind: KubeProxyConfiguration\nclientConnection:\n"
	    "  kubeconfig: \"\"\nmanifests: ''\nmaster: null\n");
	if (load_capture(&c, path, out, sizeof(out)) != 0)
		fail_msg("%s", err);
	assert_null(c.kubeconfig);
	assert_null(c.manifests);
	assert_null(c.master);
	config_free(&c);
	unlink(path);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags_both_forms),
		cmocka_unit_test(test_portals),
		cmocka_unit_test(test_bool_and_verbosity_forms),
		cmocka_unit_test(test_flag_errors),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_config_yaml),
		cmocka_unit_test(test_config_json),
		cmocka_unit_test(test_config_api_sample),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_config_unknown_fields),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_nodeport_addresses),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_file_field_errors),
	};
	int rv;

	rv = cmocka_run_group_tests(tests, NULL, NULL);
	if (tmpdir[0] != '\0')
		rmdir(tmpdir);
	return rv;
}
