/*
 * kubeconfig.c - API client configuration (see kubeconfig.h).
 *
 * kube-proxy builds its client with client-go's BuildConfigFromFlags: an
 * explicit kubeconfig with --master as a server override, --master alone,
 * or the in-cluster service-account mount.  This file does the same for
 * the subset of the kubeconfig format a node agent needs (K8S-API.md 3.4):
 * current-context -> context -> cluster + user, with certificate files or
 * inline base64 data, a token or a token file.  Credential plugins are
 * refused rather than half-supported.
 *
 * Secrets (tokens, private keys) are wiped from memory we own before it is
 * freed, and no message built here ever contains a field's value.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kubeconfig.h"
#include "apiurl.h"
#include "log.h"
#include "secret.h"
#include "util.h"
#include "yamljson.h"

#define NAME_SHOWN_MAX		64	/* bytes of a name shown in a message */

static int
fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A name from the file (context, cluster, user) as messages show it: at
 * most NAME_SHOWN_MAX bytes, control bytes as '?', so that a hostile file
 * cannot forge log lines or make one of megabytes.  Returns buf.
 */
static const char *
shown(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < NAME_SHOWN_MAX && i + 4 < len; i++)
		buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ?
		    '?' : name[i];
	if (name[i] != '\0' && i + 4 <= len)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

/*
 * Optional string member: 0 with *out NULL when absent, null or "", -1
 * when it has another type.
 */
static int
get_str(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	if (v->valuestring[0] != '\0')
		*out = v->valuestring;
	return 0;
}

/* The inner object of the entry of list "key" with this name, or NULL. */
static const cJSON *
find_named(const cJSON *root, const char *key, const char *member,
    const char *name)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key), *e, *n;

	cJSON_ArrayForEach(e, list) {
		n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			e = cJSON_GetObjectItemCaseSensitive(e, member);
			return cJSON_IsObject(e) ? e : NULL;
		}
	}
	return NULL;
}

/* client-go's ResolvePath: relative entries are relative to the file. */
static char *
resolve_path(const char *dir, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", dir, path);
}

/* The absolute directory of a kubeconfig path. */
static char *
base_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX];

	if (slash == path)
		return xstrdup("/");
	if (slash != NULL && path[0] == '/')
		return xasprintf("%.*s", (int)(slash - path), path);
	/* Relative: anchor it now, a daemon may chdir("/") later. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), ".");
	if (slash == NULL)
		return xstrdup(cwd);
	return xasprintf("%s/%.*s", cwd, (int)(slash - path), path);
}

static int
has_tls(const struct kube_client_config *c)
{
	return c->ca_file || c->ca_data || c->cert_file || c->cert_data ||
	    c->insecure_skip_tls_verify;
}

/*
 * Set *file / *data from a "NAME" / "NAME-data" pair of obj.  Data
 * overrides the file; a file must be readable now so that a typo is
 * reported at start-up, not at the first request.
 */
static int
load_pem(const cJSON *obj, const char *dir, const char *name,
    char **file, char **data, size_t *data_len, const char *where,
    char *err, size_t err_len)
{
	char key[64];
	const char *f, *d;

	snprintf(key, sizeof(key), "%s-data", name);
	if (get_str(obj, key, &d) == -1)
		return fail(err, err_len, "%s: %s: not a string", where, key);
	if (get_str(obj, name, &f) == -1)
		return fail(err, err_len, "%s: %s: not a string", where, name);
	if (d != NULL) {
		if (secret_b64_decode(d, data, data_len) == -1)
			return fail(err, err_len, "%s: %s: invalid base64",
			    where, key);
		return 0;
	}
	if (f == NULL)
		return 0;
	*file = resolve_path(dir, f);
	if (access(*file, R_OK) == -1)
		return fail(err, err_len, "%s: %s %s: %s", where, name, *file,
		    strerror(errno));
	return 0;
}

static int
load_cluster(const cJSON *cl, const char *dir, const char *where,
    const char **server, struct kube_client_config *out, char *err,
    size_t err_len)
{
	const cJSON *v;
	const char *s;

	if (get_str(cl, "server", server) == -1)
		return fail(err, err_len, "%s: server: not a string", where);
	if (get_str(cl, "tls-server-name", &s) == -1)
		return fail(err, err_len, "%s: tls-server-name: not a string",
		    where);
	if (s != NULL && !apiurl_name_ok(s))
		return fail(err, err_len, "%s: tls-server-name: not a DNS name "
		    "or IP address", where);
	if (s != NULL)
		out->tls_server_name = xstrdup(s);
	v = cJSON_GetObjectItemCaseSensitive(cl, "insecure-skip-tls-verify");
	if (v != NULL && !cJSON_IsBool(v) && !cJSON_IsNull(v))
		return fail(err, err_len,
		    "%s: insecure-skip-tls-verify: not a boolean", where);
	out->insecure_skip_tls_verify = cJSON_IsTrue(v);
	if (cJSON_GetObjectItemCaseSensitive(cl, "proxy-url") != NULL)
		log_warnx("%s: proxy-url is not supported, ignored", where);
	return load_pem(cl, dir, "certificate-authority", &out->ca_file,
	    &out->ca_data, &out->ca_data_len, where, err, err_len);
}

static int
load_user(const cJSON *u, const char *dir, const char *name,
    struct kube_client_config *out, char *err, size_t err_len)
{
	static const char *const ignored[] = { "username", "password", "as",
	    "as-uid", "as-groups", "as-user-extra" };
	char where[256], terr[512];
	const char *tok, *tokfile;
	size_t i;

	if (cJSON_GetObjectItemCaseSensitive(u, "exec") != NULL)
		return fail(err, err_len,
		    "exec credential plugins are not supported (user %s)", name);
	if (cJSON_GetObjectItemCaseSensitive(u, "auth-provider") != NULL)
		return fail(err, err_len,
		    "auth-provider plugins are not supported (user %s)", name);
	snprintf(where, sizeof(where), "user %s", name);
	for (i = 0; i < nitems(ignored); i++)
		if (cJSON_GetObjectItemCaseSensitive(u, ignored[i]) != NULL)
			log_warnx("%s: %s is not supported, ignored", where,
			    ignored[i]);
	if (get_str(u, "token", &tok) == -1)
		return fail(err, err_len, "%s: token: not a string", where);
	if (get_str(u, "tokenFile", &tokfile) == -1)
		return fail(err, err_len, "%s: tokenFile: not a string", where);
	if (load_pem(u, dir, "client-certificate", &out->cert_file,
	    &out->cert_data, &out->cert_data_len, where, err, err_len) == -1 ||
	    load_pem(u, dir, "client-key", &out->key_file, &out->key_data,
	    &out->key_data_len, where, err, err_len) == -1)
		return -1;
	if ((out->cert_file || out->cert_data) !=
	    (out->key_file || out->key_data))
		return fail(err, err_len, "%s: client-certificate and "
		    "client-key must be given together", where);
	if (tok != NULL && !secret_token_ok(tok))
		return fail(err, err_len, "%s: token: control characters (not "
		    "a valid HTTP header value)", where);
	if (tok != NULL)
		out->token = xstrdup(tok);
	if (tokfile != NULL) {
		out->token_file = resolve_path(dir, tokfile);
		/* A literal token is used first; the file only on refresh. */
		if (out->token == NULL && (out->token =
		    secret_read_token_file(out->token_file, terr, sizeof(terr))) == NULL)
			return fail(err, err_len, "%s: tokenFile %s", where,
			    terr);
	}
	return 0;
}

/* Parse a kubeconfig's text (YAML, or JSON when it starts with '{'). */
static cJSON *
parse_text(const char *text, size_t len, char *why, size_t why_len)
{
	const char *p = text + strspn(text, " \t\r\n"), *end = NULL, *q;
	cJSON *docs, *doc;
	int line = 1;

	if (*p == '{') {
		if ((doc = cJSON_ParseWithLengthOpts(text, len, &end, 0)) ==
		    NULL) {
			for (q = text; end != NULL && q < end; q++)
				line += *q == '\n';
			fail(why, why_len, "line %d: invalid JSON", line);
		}
		return doc;
	}
	if ((docs = yaml_parse_stream(text, len, why, why_len)) == NULL)
		return NULL;
	doc = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	if (doc == NULL)
		fail(why, why_len, "empty file");
	return doc;
}

/* Zero every string of a tree: it held the secrets. */
static void
json_wipe(cJSON *j)
{
	cJSON *c;

	if (cJSON_IsString(j) && j->valuestring != NULL)
		explicit_bzero(j->valuestring, strlen(j->valuestring));
	for (c = j->child; c != NULL; c = c->next)
		json_wipe(c);
}

static int
load_kubeconfig(const char *path, const char *master,
    struct kube_client_config *out, char *err, size_t err_len)
{
	const cJSON *ctx, *cl, *u;
	const char *cur, *cluster, *user, *server = NULL;
	char *text = NULL, *dir = NULL, why[512], where[256];
	char cur_s[NAME_SHOWN_MAX + 4], cl_s[NAME_SHOWN_MAX + 4];
	char user_s[NAME_SHOWN_MAX + 4];
	cJSON *root = NULL;
	size_t len;
	int rv = -1;

	if ((text = secret_read_file(path, &len, why, sizeof(why))) == NULL)
		return fail(err, err_len, "kubeconfig %s", why);
	if ((root = parse_text(text, len, why, sizeof(why))) == NULL) {
		fail(err, err_len, "kubeconfig %s: %s", path, why);
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		fail(err, err_len, "kubeconfig %s: not a mapping", path);
		goto done;
	}
	if (get_str(root, "current-context", &cur) == -1 || cur == NULL) {
		fail(err, err_len, "kubeconfig %s: current-context is not set",
		    path);
		goto done;
	}
	shown(cur, cur_s, sizeof(cur_s));
	if ((ctx = find_named(root, "contexts", "context", cur)) == NULL) {
		fail(err, err_len, "kubeconfig %s: context %s not found",
		    path, cur_s);
		goto done;
	}
	if (get_str(ctx, "cluster", &cluster) == -1 || cluster == NULL) {
		fail(err, err_len, "kubeconfig %s: context %s names no cluster",
		    path, cur_s);
		goto done;
	}
	if (get_str(ctx, "user", &user) == -1) {
		fail(err, err_len, "kubeconfig %s: context %s: user: not a "
		    "string", path, cur_s);
		goto done;
	}
	shown(cluster, cl_s, sizeof(cl_s));
	shown(user != NULL ? user : "", user_s, sizeof(user_s));
	if ((cl = find_named(root, "clusters", "cluster", cluster)) == NULL) {
		fail(err, err_len, "kubeconfig %s: cluster %s (context %s) not "
		    "found", path, cl_s, cur_s);
		goto done;
	}
	/* A context without a user is anonymous, as in client-go. */
	u = NULL;
	if (user != NULL &&
	    (u = find_named(root, "users", "user", user)) == NULL) {
		fail(err, err_len, "kubeconfig %s: user %s (context %s) not "
		    "found", path, user_s, cur_s);
		goto done;
	}

	dir = base_dir(path);
	out->origin = master ?
	    xasprintf("kubeconfig %s context %s, server from --master", path,
	    cur_s) : xasprintf("kubeconfig %s context %s", path, cur_s);
	snprintf(where, sizeof(where), "kubeconfig %s: cluster %s", path,
	    cl_s);
	if (load_cluster(cl, dir, where, &server, out, err, err_len) == -1)
		goto done;
	if (master != NULL)
		server = master;
	if (server == NULL) {
		fail(err, err_len, "%s: no server", where);
		goto done;
	}
	if (u != NULL && load_user(u, dir, user_s, out, why, sizeof(why)) == -1) {
		fail(err, err_len, "kubeconfig %s: %s", path, why);
		goto done;
	}
	/* Last: a scheme-less server depends on every TLS setting. */
	if (apiurl_normalize(server, has_tls(out), &out->server, why,
	    sizeof(why)) == -1) {
		if (master != NULL)
			fail(err, err_len, "--master: invalid URL: %s", why);
		else
			fail(err, err_len, "%s: server: invalid URL: %s", where,
			    why);
		goto done;
	}
	rv = 0;
 done:
	if (root != NULL)
		json_wipe(root);
	cJSON_Delete(root);
	secret_free(text, len + 1);
	free(dir);
	return rv;
}

static int
load_in_cluster(struct kube_client_config *out, char *err, size_t err_len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv(KUBECONFIG_SA_DIR_ENV);
	char *url, why[512];
	int rv;

	if (dir == NULL || *dir == '\0')
		dir = KUBECONFIG_SA_DIR;
	out->origin = xstrdup("in-cluster");
	url = xasprintf(strchr(host, ':') ? "https://[%s]:%s" :
	    "https://%s:%s", host, port);
	rv = apiurl_normalize(url, 1, &out->server, why, sizeof(why));
	free(url);
	if (rv == -1)
		return fail(err, err_len, "in-cluster: KUBERNETES_SERVICE_HOST/"
		    "PORT: invalid URL: %s", why);
	out->token_file = xasprintf("%s/token", dir);
	if ((out->token = secret_read_token_file(out->token_file, why,
	    sizeof(why))) == NULL)
		return fail(err, err_len, "in-cluster: token %s", why);
	out->ca_file = xasprintf("%s/ca.crt", dir);
	if (access(out->ca_file, R_OK) == -1) {
		/* client-go only logs this and falls back to system roots. */
		log_warnx("in-cluster: CA %s: %s; using system roots",
		    out->ca_file, strerror(errno));
		free(out->ca_file);
		out->ca_file = NULL;
	}
	return 0;
}

/* The first existing file in $KUBECONFIG, or NULL (caller frees). */
static char *
kubeconfig_from_env(void)
{
	const char *env = getenv("KUBECONFIG"), *p, *colon;
	char *path;

	if (env == NULL)
		return NULL;
	for (p = env; *p != '\0'; p = *colon ? colon + 1 : colon) {
		colon = p + strcspn(p, ":");
		if (colon == p)
			continue;
		path = xasprintf("%.*s", (int)(colon - p), p);
		if (access(path, F_OK) == 0)
			return path;
		log_debug(2, "KUBECONFIG: %s: %s", path, strerror(errno));
		free(path);
	}
	return NULL;
}

/* client-go sends credentials only over TLS. */
static void
drop_plain_http_credentials(struct kube_client_config *c)
{
	if (strncmp(c->server, "http://", 7) != 0)
		return;
	if (c->token == NULL && c->token_file == NULL &&
	    c->cert_file == NULL && c->cert_data == NULL)
		return;
	log_warnx("%s: server %s is plain http; credentials are not sent",
	    c->origin, c->server);
	secret_free(c->token, c->token ? strlen(c->token) : 0);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	secret_free(c->key_data, c->key_data_len);
	c->token = c->token_file = c->cert_file = c->key_file = NULL;
	c->cert_data = c->key_data = NULL;
	c->cert_data_len = c->key_data_len = 0;
}

int
kubeconfig_resolve(const char *flag_kubeconfig, const char *flag_master,
    struct kube_client_config *out, char *err, size_t err_len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *path, why[256];
	int rv;

	memset(out, 0, sizeof(*out));
	if (flag_master != NULL && *flag_master == '\0')
		flag_master = NULL;
	if (flag_kubeconfig != NULL && *flag_kubeconfig != '\0')
		rv = load_kubeconfig(flag_kubeconfig, flag_master, out, err,
		    err_len);
	else if ((path = kubeconfig_from_env()) != NULL) {
		rv = load_kubeconfig(path, flag_master, out, err, err_len);
		free(path);
	} else if (flag_master != NULL) {
		out->origin = xstrdup("--master");
		if ((rv = apiurl_normalize(flag_master, 0, &out->server, why,
		    sizeof(why))) == -1)
			fail(err, err_len, "--master: invalid URL: %s", why);
	} else if (host != NULL && *host != '\0' && port != NULL &&
	    *port != '\0')
		rv = load_in_cluster(out, err, err_len);
	else
		return fail(err, err_len, "no API server configured: give "
		    "--kubeconfig or --master, set KUBECONFIG, or run in a pod "
		    "(KUBERNETES_SERVICE_HOST/PORT are not set)");
	if (rv == 0)
		drop_plain_http_credentials(out);
	return rv;
}

int
kubeconfig_read_token(struct kube_client_config *cfg, char **token_out,
    char *err, size_t err_len)
{
	char *tok;

	*token_out = NULL;
	if (cfg->token_file == NULL) {
		if (cfg->token != NULL)
			*token_out = xstrdup(cfg->token);
		return 0;
	}
	if ((tok = secret_read_token_file(cfg->token_file, err, err_len)) == NULL) {
		if (cfg->token == NULL)
			return -1;
		/* Keep going with the last good token until it is rejected. */
		log_warnx("%s: token file %s; using the previous token",
		    cfg->origin, err);
		*token_out = xstrdup(cfg->token);
		return 0;
	}
	secret_free(cfg->token, cfg->token ? strlen(cfg->token) : 0);
	cfg->token = tok;
	*token_out = xstrdup(tok);
	return 0;
}

void
kubeconfig_free(struct kube_client_config *cfg)
{
	free(cfg->server);
	free(cfg->tls_server_name);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->cert_data);
	secret_free(cfg->key_data, cfg->key_data_len);
	secret_free(cfg->token, cfg->token ? strlen(cfg->token) : 0);
	free(cfg->token_file);
	free(cfg->origin);
	memset(cfg, 0, sizeof(*cfg));
}
