/*
 * apiurl.h - the API server's address as a kubeconfig or --master gives
 * it: a URL normalised the way client-go reads it, and the name TLS is to
 * check (tls-server-name).
 */
#ifndef APIURL_H
#define APIURL_H

#include <stddef.h>

/*
 * Normalise a server URL to "scheme://host[:port][/path]": query and
 * fragment stripped, no trailing '/'.  Without a scheme, https when tls
 * (TLS settings exist), else http (client-go's DefaultServerURL).  0 with
 * *out allocated, or -1 with the reason in why (never the URL itself: it
 * could carry user info).
 */
int	apiurl_normalize(const char *in, int tls, char **out, char *why,
	    size_t why_len);

/*
 * Is name fit for tls-server-name: a DNS name (RFC 1123 labels, at most
 * 253 bytes) or an IP address?  It ends up as a URL host and in curl's
 * CONNECT_TO entry ("name:port:host:port"), so nothing else is taken.
 */
int	apiurl_name_ok(const char *name);

#endif
