/*
 * secret.c - credentials read from files and kubeconfig fields (see
 * secret.h): the whole of a small file, a token file's token, base64 data.
 * What holds a secret is wiped before it is freed, and no message built
 * here contains a byte of it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

void
secret_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len);
	free(s);
}

/*
 * A bearer token goes into an HTTP header: a control byte (CR, LF...)
 * would end the header and inject others.  Go's net/http refuses such a
 * value as well (httpguts.ValidHeaderFieldValue), so client-go cannot
 * use it either.
 */
int
secret_token_ok(const char *tok)
{
	for (; *tok != '\0'; tok++)
		if (((unsigned char)*tok < 0x20 && *tok != '\t') || *tok == 0x7f)
			return 0;
	return 1;
}

/* Read a whole small file; err gets "PATH: reason" (never the contents). */
char *
secret_read_file(const char *path, size_t *lenp, char *err, size_t err_len)
{
	char why[128], *buf;

	if ((buf = file_read(path, SECRET_FILE_MAX, lenp, why,
	    sizeof(why))) == NULL)
		snprintf(err, err_len, "%s: %s", path, why);
	return buf;
}

/*
 * A token file's value: the whole file, whitespace-trimmed; an empty file
 * is an error (client-go's cached file token source does the same).
 */
char *
secret_read_token_file(const char *path, char *err, size_t err_len)
{
	char *buf, *start, *end, *tok;
	size_t len;

	if ((buf = secret_read_file(path, &len, err, err_len)) == NULL)
		return NULL;
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	for (end = buf + len; end > start &&
	    isspace((unsigned char)end[-1]); end--)
		;
	if (end == start) {
		snprintf(err, err_len, "%s: empty token file", path);
		secret_free(buf, len + 1);
		return NULL;
	}
	*end = '\0';
	if (!secret_token_ok(start)) {
		snprintf(err, err_len, "%s: control characters in the token",
		    path);
		secret_free(buf, len + 1);
		return NULL;
	}
	tok = xstrdup(start);
	secret_free(buf, len + 1);
	return tok;
}

/*
 * Standard base64 with padding, as Go's encoding/base64.StdEncoding reads
 * the []byte fields of a kubeconfig: CR and LF are skipped, anything else
 * outside the alphabet is an error.  The result is NUL-terminated so PEM
 * can be used as a string.
 */
int
secret_b64_decode(const char *in, char **outp, size_t *lenp)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p, *pos;
	char *out;
	uint32_t acc = 0;
	size_t o = 0, nchars = 0, pad = 0;
	int bits = 0;

	out = xcalloc(1, strlen(in) / 4 * 3 + 4);
	for (p = in; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		nchars++;
		if (*p == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (pos = strchr(alphabet, *p)) == NULL)
			goto bad;
		acc = (acc << 6) | (uint32_t)(pos - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
			acc &= (1u << bits) - 1;
		}
	}
	if (nchars % 4 != 0 || pad > 2)
		goto bad;
	out[o] = '\0';
	*outp = out;
	*lenp = o;
	return 0;
 bad:
	secret_free(out, strlen(in) / 4 * 3 + 4);
	return -1;
}
