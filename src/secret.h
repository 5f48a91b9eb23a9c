/*
 * secret.h - credentials read from files and kubeconfig fields.
 *
 * Tokens and private keys pass through here: every buffer that held one is
 * wiped (explicit_bzero) before it is freed, and error messages name the
 * file and the reason, never its contents.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

/* The largest file read here: a kubeconfig, a PEM bundle, a token. */
#define SECRET_FILE_MAX		(1024 * 1024)

/* Wipe the len bytes at s, then free it.  NULL is fine. */
void	 secret_free(char *s, size_t len);

/*
 * A bearer token fit for an HTTP header: no control byte but tab (CR or
 * LF would end the header and inject others; Go's net/http refuses them
 * too).  Returns 1 when fit.
 */
int	 secret_token_ok(const char *tok);

/*
 * The whole of a small file (at most SECRET_FILE_MAX), NUL-terminated,
 * its length in *lenp; free with secret_free(buf, *lenp + 1).  NULL with
 * "PATH: reason" in err.
 */
char	*secret_read_file(const char *path, size_t *lenp, char *err,
	    size_t err_len);

/*
 * A token file's token: the whole file, whitespace-trimmed (as client-go
 * reads it); an empty file or a control byte is an error.  NULL with
 * "PATH: reason" in err.
 */
char	*secret_read_token_file(const char *path, char *err, size_t err_len);

/*
 * Standard base64 with padding, as Go decodes a kubeconfig's []byte
 * fields: CR and LF skipped, anything else outside the alphabet an
 * error.  *outp is NUL-terminated (PEM is used as a string), its length
 * in *lenp.  Returns 0, or -1 with nothing allocated.
 */
int	 secret_b64_decode(const char *in, char **outp, size_t *lenp);

#endif
