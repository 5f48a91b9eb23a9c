/*
 * config_values.c - the value syntaxes of kube-uproxy's options (see
 * config.h): Go durations, Kubernetes byte quantities and kube-proxy's
 * port ranges, parsed and printed back.  Pure functions on strings, kept
 * apart from the options table so that they can be read, tested and
 * fuzzed on their own.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* Go's time.Duration.String() for whole milliseconds: "1m30s", "250ms". */
int
config_format_duration(uint64_t ms, char *buf, size_t len)
{
	unsigned long long h = ms / 3600000, m = ms / 60000 % 60,
	    s = ms / 1000 % 60, frac = ms % 1000;
	int n = 0;

	if (ms == 0)
		return snprintf(buf, len, "0s");
	if (ms < 1000)
		return snprintf(buf, len, "%llums", frac);
	if (h > 0)
		n = snprintf(buf, len, "%lluh%llum", h, m);
	else if (m > 0)
		n = snprintf(buf, len, "%llum", m);
	if (frac == 0)
		return n + snprintf(buf + n, len - n, "%llus", s);
	if (frac % 100 == 0)
		return n + snprintf(buf + n, len - n, "%llu.%llus", s, frac / 100);
	if (frac % 10 == 0)
		return n + snprintf(buf + n, len - n, "%llu.%02llus", s, frac / 10);
	return n + snprintf(buf + n, len - n, "%llu.%03llus", s, frac);
}

/* Bytes with the largest binary suffix that writes them exactly: "64Mi". */
void
config_format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const suffix[] = { "", "Ki", "Mi", "Gi", "Ti" };
	size_t i = 0;

	while (i + 1 < nitems(suffix) && n != 0 && n % 1024 == 0) {
		n /= 1024;
		i++;
	}
	snprintf(buf, len, "%llu%s", (unsigned long long)n, suffix[i]);
}

int
config_parse_bytes(const char *s, uint64_t *bytes)
{
	static const struct { const char *sfx; uint64_t mult; } units[] = {
		{ "", 1 }, { "k", 1000 }, { "M", 1000000 },
		{ "G", 1000000000 }, { "T", 1000000000000ULL },
		{ "Ki", 1ULL << 10 }, { "Mi", 1ULL << 20 }, { "Gi", 1ULL << 30 },
		{ "Ti", 1ULL << 40 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < nitems(units); i++)
		if (strcmp(end, units[i].sfx) == 0) {
			if (n > UINT64_MAX / units[i].mult)
				return -1;
			*bytes = n * units[i].mult;
			return 0;
		}
	return -1;
}


int
config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		/* "ms" before "m": the first match wins. */
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
		{ "\xce\xbcs", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		{ "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};
	/* Go's time.Duration is an int64 of nanoseconds (about 292 years). */
	const uint64_t max_ns = INT64_MAX;
	uint64_t total = 0, whole, frac, scale, unit, v;
	const char *p = s;
	size_t i, ulen;
	int digits;

	if (s == NULL)
		return -1;
	if (*p == '+')
		p++;
	if (strcmp(p, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		whole = frac = 0;
		scale = 1;
		digits = 0;
		for (; isdigit((unsigned char)*p); p++, digits++) {
			if (whole > (max_ns - 9) / 10)
				return -1;
			whole = whole * 10 + (*p - '0');
		}
		if (*p == '.') {
			/* Digits beyond nanosecond-of-an-hour precision. */
			for (p++; isdigit((unsigned char)*p); p++, digits++)
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 + (*p - '0');
					scale *= 10;
				}
		}
		if (digits == 0)
			return -1;
		unit = 0;
		for (i = 0; i < nitems(units); i++) {
			ulen = strlen(units[i].name);
			if (strncmp(p, units[i].name, ulen) == 0) {
				unit = units[i].ns;
				p += ulen;
				break;
			}
		}
		if (unit == 0)
			return -1;
		if (whole > max_ns / unit)
			return -1;
		v = whole * unit;
		/* Go also computes the fraction in floating point. */
		v += (uint64_t)((double)frac * ((double)unit / (double)scale));
		if (v > max_ns - total)
			return -1;
		total += v;
	}
	*ms = total / 1000000;
	return 0;
}

static int
parse_port(const char **p, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	const char *q = *p;

	if (!isdigit((unsigned char)*q))
		return -1;
	for (; isdigit((unsigned char)*q); q++)
		if ((v = v * 10 + (*q - '0')) > max)
			return -1;
	*p = q;
	*out = v;
	return 0;
}

int
config_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	const char *p, *end;
	char op;

	/* apimachinery's ParsePortRange trims spaces first. */
	p = s + strspn(s, " \t");
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end) {
		*lo = *hi = 0;
		return 0;
	}
	if (parse_port(&p, 65535, &a) == -1)
		return -1;
	b = a;
	if (p != end) {
		op = *p++;
		if ((op != '-' && op != '+') || parse_port(&p, 65535, &b) == -1)
			return -1;
		if (op == '+')
			b += a;
	}
	if (p != end || b > 65535 || b < a)
		return -1;
	/* Port 0 means "kernel-chosen" and cannot start a real range. */
	if (a == 0 && b != 0)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

int
config_parse_nodeport_addresses(const char *s, int *primary,
    struct addr_prefix **out, size_t *n, char *why, size_t why_len)
{
	struct addr_prefix *p = NULL;
	char item[128];
	size_t len, k = 0;
	const char *q;

	*primary = 0;
	*out = NULL;
	*n = 0;
	if (*s == '\0')
		return 0;
	if (strcmp(s, "primary") == 0) {
		*primary = 1;
		return 0;
	}
	p = xcalloc(CONFIG_NODEPORT_ADDRESSES_MAX, sizeof(*p));
	for (q = s;; q += len + 1) {
		len = strcspn(q, ",");
		if (k == CONFIG_NODEPORT_ADDRESSES_MAX) {
			snprintf(why, why_len, "more than %d ranges",
			    CONFIG_NODEPORT_ADDRESSES_MAX);
			goto fail;
		}
		if (len == 0 || len >= sizeof(item)) {
			snprintf(why, why_len, "\"%.*s\" is not a CIDR "
			    "(IP/LEN)", (int)(len < 64 ? len : 64), q);
			goto fail;
		}
		memcpy(item, q, len);
		item[len] = '\0';
		if (strcmp(item, "primary") == 0) {
			snprintf(why, why_len, "\"primary\" must be alone");
			goto fail;
		}
		if (strchr(item, '/') == NULL ||
		    addr_parse_prefix(item, &p[k]) == -1) {
			snprintf(why, why_len, "\"%s\" is not a CIDR (IP/LEN)",
			    item);
			goto fail;
		}
		k++;
		if (q[len] == '\0')
			break;
	}
	*out = p;
	*n = k;
	return 0;
 fail:
	free(p);
	return -1;
}
