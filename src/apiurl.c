/*
 * apiurl.c - the API server's address as a kubeconfig or --master gives
 * it (see apiurl.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "apiurl.h"
#include "util.h"

static int
fail(char *why, size_t why_len, const char *msg)
{
	snprintf(why, why_len, "%s", msg);
	return -1;
}

/*
 * tls-server-name ends up as a URL host and in curl's CONNECT_TO entry
 * ("name:port:host:port"): only a DNS name (RFC 1123 labels) or an IP
 * address is taken.
 */
int
apiurl_name_ok(const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t label = 0, total = 0;
	const char *p;

	if (inet_pton(AF_INET, name, &a4) == 1 ||
	    inet_pton(AF_INET6, name, &a6) == 1)
		return 1;
	for (p = name; ; p++, total++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && (*p != '-' || label == 0))
			return 0;
		label++;
	}
	return total <= 253;
}

/*
 * Normalise a server URL to "scheme://host[:port][/path]": query and
 * fragment stripped, no trailing '/'.  Without a scheme, https when TLS
 * settings exist, else http (client-go's DefaultServerURL).  The URL is
 * not echoed in why: it could carry user info.
 */
int
apiurl_normalize(const char *in, int tls, char **out, char *why,
    size_t why_len)
{
	const char *scheme, *rest, *host, *p, *end;
	const char *sep = strstr(in, "://");
	size_t hostlen, pathlen;

	for (p = in; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return fail(why, why_len, "white space in URL");
	if (sep == NULL) {
		scheme = tls ? "https" : "http";
		rest = in;
	} else if ((size_t)(sep - in) == 5 && strncasecmp(in, "https", 5) == 0) {
		scheme = "https";
		rest = sep + 3;
	} else if ((size_t)(sep - in) == 4 && strncasecmp(in, "http", 4) == 0) {
		scheme = "http";
		rest = sep + 3;
	} else
		return fail(why, why_len, "scheme must be http or https");

	host = rest;
	hostlen = strcspn(host, "/?#");
	if (memchr(host, '@', hostlen) != NULL)
		return fail(why, why_len, "user info in URL is not supported");
	if (hostlen == 0)
		return fail(why, why_len, "no host");
	end = host + hostlen;
	if (host[0] == '[') {
		if ((p = memchr(host, ']', hostlen)) == NULL || p == host + 1)
			return fail(why, why_len, "bad IPv6 literal");
		p++;
	} else {
		p = memchr(host, ':', hostlen);
		if (p != NULL && memchr(p + 1, ':', (size_t)(end - p - 1)))
			return fail(why, why_len, "IPv6 address must be in brackets");
		if (p == host)
			return fail(why, why_len, "no host");
		if (p == NULL)
			p = end;
	}
	if (p < end) {
		/* ":port", 1..65535 */
		unsigned long port = 0;
		const char *d;

		if (*p != ':' || p + 1 == end || end - p > 6)
			return fail(why, why_len, "bad port");
		for (d = p + 1; d < end; d++) {
			if (!isdigit((unsigned char)*d))
				return fail(why, why_len, "bad port");
			port = port * 10 + (unsigned long)(*d - '0');
		}
		if (port == 0 || port > 65535)
			return fail(why, why_len, "bad port");
	}
	pathlen = strcspn(end, "?#");
	while (pathlen > 0 && end[pathlen - 1] == '/')
		pathlen--;
	*out = xasprintf("%s://%.*s%.*s", scheme, (int)hostlen, host,
	    (int)pathlen, end);
	return 0;
}
