/*
 * test_kubeconfig.c - API client configuration: the kubeconfig samples,
 * current-context selection, $KUBECONFIG, in-cluster config, --master,
 * token rotation, refused plugins, error messages (which must never show
 * a credential) and base64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeconfig.h"

#define KCDIR	TESTDATA_DIR "/kubeconfig"
#define SECRET	"s3cr3t-T0KEN-value"

static char err[1024];
static char tmpdir[64];
static char logbuf[4096];

/* Write text to tmpdir/name; returns the path (static buffer, one). */
static const char *
write_tmp(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A minimal kubeconfig: one cluster, one user, one context. */
static const char *
write_kc(const char *name, const char *cluster_body, const char *user_body)
{
	char text[4096];

	snprintf(text, sizeof(text),
	    "apiVersion: v1\nkind: Config\n"
	    "clusters:\n- name: c\n  cluster:\n%s"
	    "users:\n- name: u\n  user:\n%s"
	    "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
	    "current-context: x\n", cluster_body, user_body);
	return write_tmp(name, text);
}

static int
resolve(const char *kc, const char *master, struct kube_client_config *c)
{
	err[0] = '\0';
	return kubeconfig_resolve(kc, master, c, err, sizeof(err));
}

/* Resolve, expect failure with want in the message; never the secret. */
static void
expect_error(const char *kc, const char *master, const char *want)
{
	struct kube_client_config c;

	assert_int_equal(resolve(kc, master, &c), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_null(strstr(err, SECRET));
	kubeconfig_free(&c);
}

/* Run kubeconfig_read_token with stderr captured into logbuf. */
static int
read_token_captured(struct kube_client_config *c, char **tok)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), rv;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	rv = kubeconfig_read_token(c, tok, err, sizeof(err));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return rv;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv(KUBECONFIG_SA_DIR_ENV);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_kubeconfig.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
test_static_token(void **state)
{
	struct kube_client_config c;
	char *tok;

	(void)state;
	assert_int_equal(resolve(KCDIR "/token.yaml", NULL, &c), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.ca_file, KCDIR "/pki/ca.crt");
	assert_string_equal(c.token, "test-static-token-0123456789");
	assert_null(c.token_file);
	assert_null(c.cert_file);
	assert_null(c.ca_data);
	assert_int_equal(c.insecure_skip_tls_verify, 0);
	assert_string_equal(c.origin,
	    "kubeconfig " KCDIR "/token.yaml context static@local");
	assert_int_equal(kubeconfig_read_token(&c, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "test-static-token-0123456789");
	free(tok);
	kubeconfig_free(&c);
	assert_null(c.server);
}

static void
test_token_file_relative(void **state)
{
	struct kube_client_config c;

	(void)state;
	/* Also picks the current context, not the first one. */
	assert_int_equal(resolve(KCDIR "/tokenfile.yaml", NULL, &c), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.token_file, KCDIR "/token");
	assert_string_equal(c.token, "tok-from-file");
	assert_int_equal(c.insecure_skip_tls_verify, 1);
	assert_null(c.ca_file);
	kubeconfig_free(&c);
}

static void
test_relative_kubeconfig_path(void **state)
{
	struct kube_client_config c;
	char cwd[1024];

	(void)state;
	/* Paths inside a kubeconfig named relatively become absolute. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(TESTDATA_DIR), 0);
	assert_int_equal(resolve("kubeconfig/token.yaml", NULL, &c), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_true(c.ca_file[0] == '/');
	assert_non_null(strstr(c.ca_file, "/kubeconfig/pki/ca.crt"));
	assert_int_equal(access(c.ca_file, R_OK), 0);
	kubeconfig_free(&c);
}

static void
test_cert_files(void **state)
{
	struct kube_client_config c;
	char *tok = (char *)1;

	(void)state;
	assert_int_equal(resolve(KCDIR "/cert-files.yaml", NULL, &c), 0);
	assert_string_equal(c.server, "https://192.168.56.10:6443");
	assert_int_equal(c.insecure_skip_tls_verify, 1);
	assert_string_equal(c.cert_file, KCDIR "/pki/lab-admin.crt");
	assert_string_equal(c.key_file, KCDIR "/pki/lab-admin.key");
	assert_null(c.cert_data);
	assert_null(c.token);
	assert_null(c.ca_file);
	assert_null(c.tls_server_name);
	assert_int_equal(kubeconfig_read_token(&c, &tok, err, sizeof(err)), 0);
	assert_null(tok);
	kubeconfig_free(&c);
}

static void
test_embedded_data(void **state)
{
	static const char ca[] = "-----BEGIN CERTIFICATE-----\n...\n"
	    "-----END CERTIFICATE-----\n";
	static const char key[] = "-----BEGIN EC PRIVATE KEY-----\n...\n"
	    "-----END EC PRIVATE KEY-----\n";
	struct kube_client_config c;

	(void)state;
	assert_int_equal(resolve(SAMPLES_DIR
	    "/kubeconfig-client-cert-embedded.yaml", NULL, &c), 0);
	assert_string_equal(c.server, "https://api.prod.example.com:6443");
	assert_string_equal(c.tls_server_name, "kubernetes.default.svc");
	assert_int_equal(c.ca_data_len, strlen(ca));
	assert_string_equal(c.ca_data, ca);
	assert_string_equal(c.cert_data, ca);
	assert_int_equal(c.key_data_len, strlen(key));
	assert_string_equal(c.key_data, key);
	assert_null(c.ca_file);
	assert_null(c.cert_file);
	assert_null(c.key_file);
	assert_null(c.token);
	assert_int_equal(c.insecure_skip_tls_verify, 0);
	kubeconfig_free(&c);
}

static void
test_json(void **state)
{
	struct kube_client_config c;

	(void)state;
	assert_int_equal(resolve(KCDIR "/json-local.json", NULL, &c), 0);
	assert_string_equal(c.server, "https://[::1]:6443");
	assert_string_equal(c.ca_file, KCDIR "/pki/ca.crt");
	assert_string_equal(c.token_file, KCDIR "/token");
	assert_string_equal(c.token, "tok-from-file");
	kubeconfig_free(&c);

	/* The verbatim sample points into a pod's mount, absent here. */
	expect_error(SAMPLES_DIR "/kubeconfig-json.json", NULL,
	    "cluster default: certificate-authority "
	    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt: ");
}

/* Replace every occurrence of from in text by to (caller frees). */
static char *
replace_all(const char *text, const char *from, const char *to)
{
	char *out = calloc(1, strlen(text) * 4 + 1), *o = out;
	const char *p;

	assert_non_null(out);
	while ((p = strstr(text, from)) != NULL) {
		memcpy(o, text, (size_t)(p - text));
		o += p - text;
		o = stpcpy(o, to);
		text = p + strlen(from);
	}
	strcpy(o, text);
	return out;
}

static void
test_kubeadm_and_rotation(void **state)
{
	struct kube_client_config c;
	char sa[128], path[256], *text, *mod, *tok;

	(void)state;
	expect_error(SAMPLES_DIR "/kubeconfig-kubeadm-kube-proxy.yaml", NULL,
	    "certificate-authority /var/run/secrets/kubernetes.io/"
	    "serviceaccount/ca.crt");

	/* The same file with the service-account mount moved to tmpdir. */
	snprintf(sa, sizeof(sa), "%s", tmpdir);
	write_tmp("ca.crt", "-----BEGIN CERTIFICATE-----\n");
	write_tmp("token", SECRET "-1\n");
	text = slurp(SAMPLES_DIR "/kubeconfig-kubeadm-kube-proxy.yaml");
	mod = replace_all(text, KUBECONFIG_SA_DIR, sa);
	snprintf(path, sizeof(path), "%s", write_tmp("kubeconfig.conf", mod));
	free(text);
	free(mod);
	assert_int_equal(resolve(path, NULL, &c), 0);
	assert_string_equal(c.server, "https://10.0.0.10:6443");
	assert_string_equal(c.token, SECRET "-1");
	assert_non_null(strstr(c.ca_file, "/ca.crt"));

	/* The kubelet rotated the token: the new one is read. */
	write_tmp("token", "\t" SECRET "-2 \n");
	assert_int_equal(read_token_captured(&c, &tok), 0);
	assert_string_equal(tok, SECRET "-2");
	assert_string_equal(c.token, SECRET "-2");
	free(tok);

	/* Unreadable or empty now: keep the last good token, warn. */
	write_tmp("token", " \n");
	assert_int_equal(read_token_captured(&c, &tok), 0);
	assert_string_equal(tok, SECRET "-2");
	free(tok);
	assert_non_null(strstr(logbuf, "empty token file"));
	assert_null(strstr(logbuf, SECRET));
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(read_token_captured(&c, &tok), 0);
	assert_string_equal(tok, SECRET "-2");
	free(tok);
	assert_non_null(strstr(logbuf, "No such file"));
	assert_null(strstr(logbuf, SECRET));

	/* With no earlier token there is nothing to fall back to. */
	free(c.token);
	c.token = NULL;
	assert_int_equal(kubeconfig_read_token(&c, &tok, err, sizeof(err)),
	    -1);
	assert_null(tok);
	assert_non_null(strstr(err, "/token: No such file"));
	kubeconfig_free(&c);
}

static void
test_kubeconfig_env(void **state)
{
	struct kube_client_config c;
	char env[512];

	(void)state;
	snprintf(env, sizeof(env), "%s/missing.yaml::%s:%s", tmpdir,
	    KCDIR "/tokenfile.yaml", KCDIR "/token.yaml");
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(resolve(NULL, NULL, &c), 0);
	assert_string_equal(c.origin,
	    "kubeconfig " KCDIR "/tokenfile.yaml context file@local");
	kubeconfig_free(&c);

	/* --kubeconfig wins over $KUBECONFIG. */
	assert_int_equal(resolve(KCDIR "/token.yaml", NULL, &c), 0);
	assert_string_equal(c.token, "test-static-token-0123456789");
	kubeconfig_free(&c);

	/* An explicit file must exist. */
	expect_error(KCDIR "/nonexistent.yaml", NULL,
	    "kubeconfig " KCDIR "/nonexistent.yaml: No such file");

	/* No existing file in the list and nothing else: nothing to use. */
	snprintf(env, sizeof(env), "%s/a:%s/b", tmpdir, tmpdir);
	setenv("KUBECONFIG", env, 1);
	expect_error(NULL, NULL, "no API server configured");
	expect_error("", "", "no API server configured");
}

static void
test_in_cluster(void **state)
{
	struct kube_client_config c;
	char path[256];

	(void)state;
	setenv(KUBECONFIG_SA_DIR_ENV, tmpdir, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	expect_error(NULL, NULL, "no API server configured");
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);

	/* No token file yet. */
	expect_error(NULL, NULL, "in-cluster: token ");

	write_tmp("token", "\n" SECRET "\n");
	write_tmp("ca.crt", "-----BEGIN CERTIFICATE-----\n");
	assert_int_equal(resolve(NULL, NULL, &c), 0);
	assert_string_equal(c.origin, "in-cluster");
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.token, SECRET);
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	assert_string_equal(c.token_file, path);
	snprintf(path, sizeof(path), "%s/ca.crt", tmpdir);
	assert_string_equal(c.ca_file, path);
	kubeconfig_free(&c);

	/* IPv6 service host; an unreadable CA only means system roots. */
	assert_int_equal(unlink(path), 0);
	setenv("KUBERNETES_SERVICE_HOST", "::1", 1);
	assert_int_equal(resolve(NULL, NULL, &c), 0);
	assert_string_equal(c.server, "https://[::1]:6443");
	assert_null(c.ca_file);
	kubeconfig_free(&c);

	setenv("KUBERNETES_SERVICE_PORT", "http", 1);
	expect_error(NULL, NULL, "in-cluster: KUBERNETES_SERVICE_HOST/PORT: "
	    "invalid URL: bad port");

	/* $KUBECONFIG comes before in-cluster config. */
	setenv("KUBECONFIG", KCDIR "/token.yaml", 1);
	assert_int_equal(resolve(NULL, NULL, &c), 0);
	assert_string_equal(c.token, "test-static-token-0123456789");
	kubeconfig_free(&c);
}

static void
test_master(void **state)
{
	struct kube_client_config c;

	(void)state;
	/* --master alone: only the server, even inside a pod. */
	setenv(KUBECONFIG_SA_DIR_ENV, tmpdir, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	write_tmp("token", SECRET "\n");
	assert_int_equal(resolve(NULL, "https://127.0.0.1:6443/", &c), 0);
	assert_string_equal(c.origin, "--master");
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_null(c.token);
	assert_null(c.token_file);
	assert_null(c.ca_file);
	kubeconfig_free(&c);

	/* No scheme and no TLS settings: plain http, as client-go does. */
	assert_int_equal(resolve(NULL, "127.0.0.1:8080", &c), 0);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	kubeconfig_free(&c);

	/* --master overrides the kubeconfig's server; credentials stay. */
	assert_int_equal(resolve(KCDIR "/token.yaml", "https://[::1]:7443",
	    &c), 0);
	assert_string_equal(c.server, "https://[::1]:7443");
	assert_string_equal(c.token, "test-static-token-0123456789");
	assert_non_null(strstr(c.origin, "server from --master"));
	kubeconfig_free(&c);

	/* Scheme-less with a CA: https. */
	assert_int_equal(resolve(KCDIR "/token.yaml", "127.0.0.1:7443", &c), 0);
	assert_string_equal(c.server, "https://127.0.0.1:7443");
	kubeconfig_free(&c);

	/* A client certificate alone also means TLS. */
	assert_int_equal(resolve(write_kc("k", "    server: 127.0.0.1:6443\n",
	    "    client-certificate: " KCDIR "/pki/lab-admin.crt\n"
	    "    client-key: " KCDIR "/pki/lab-admin.key\n"), NULL, &c), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.key_file, KCDIR "/pki/lab-admin.key");
	kubeconfig_free(&c);

	/* Plain http: credentials are not sent. */
	assert_int_equal(resolve(KCDIR "/tokenfile.yaml",
	    "http://127.0.0.1:8080", &c), 0);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	assert_null(c.token);
	assert_null(c.token_file);
	kubeconfig_free(&c);

	expect_error(NULL, "ftp://127.0.0.1", "--master: invalid URL: scheme");
	expect_error(KCDIR "/token.yaml", "https://", "--master: invalid URL");
}

static void
test_server_urls(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{ "HTTPS://127.0.0.1:6443/prefix//?q=1#f",
		  "https://127.0.0.1:6443/prefix" },
		{ "http://localhost", "http://localhost" },
		{ "https://[::1]/", "https://[::1]" },
		{ "https://[::1]:65535", "https://[::1]:65535" },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "https://", "no host" },
		{ "https://:6443", "no host" },
		{ "https://::1:6443", "brackets" },
		{ "https://[]:6443", "bad IPv6" },
		{ "https://[::1", "bad IPv6" },
		{ "https://[::1]x", "bad port" },
		{ "https://h:0", "bad port" },
		{ "https://h:65536", "bad port" },
		{ "https://h:", "bad port" },
		{ "https://h:6a", "bad port" },
		{ "https://admin:" SECRET "@h:6443", "user info" },
		{ "https://h h", "white space" },
		{ "", "" },
	};
	struct kube_client_config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(resolve(NULL, good[i].in, &c), 0);
		assert_string_equal(c.server, good[i].want);
		kubeconfig_free(&c);
	}
	for (i = 0; bad[i].in[0] != '\0'; i++)
		expect_error(NULL, bad[i].in, bad[i].why);

	/* From a kubeconfig the message names the cluster. */
	expect_error(write_kc("k", "    server: tcp://127.0.0.1\n",
	    "    token: " SECRET "\n"), NULL,
	    "cluster c: server: invalid URL: scheme must be http or https");
}

static void
test_plugins_refused(void **state)
{
	(void)state;
	expect_error(SAMPLES_DIR "/kubeconfig-exec-plugin.yaml", NULL,
	    "kubeconfig " SAMPLES_DIR "/kubeconfig-exec-plugin.yaml: "
	    "exec credential plugins are not supported (user exec-user)");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n",
	    "    auth-provider:\n      name: oidc\n"), NULL,
	    "auth-provider plugins are not supported (user u)");
}

static void
test_missing_pieces(void **state)
{
	static const char head[] = "apiVersion: v1\nkind: Config\n";
	static const char cl[] = "clusters:\n- name: c\n  cluster:\n"
	    "    server: https://127.0.0.1:6443\n";
	static const char us[] = "users:\n- name: u\n  user:\n"
	    "    token: " SECRET "\n";
	static const char cx[] = "contexts:\n- name: x\n  context:\n"
	    "    cluster: c\n    user: u\n";
	char text[2048];
	struct kube_client_config c;

	(void)state;
	snprintf(text, sizeof(text), "%s%s%s%s", head, cl, us, cx);
	expect_error(write_tmp("k", text), NULL, "current-context is not set");
	snprintf(text, sizeof(text), "%s%s%s%scurrent-context: y\n", head, cl,
	    us, cx);
	expect_error(write_tmp("k", text), NULL, "context y not found");
	snprintf(text, sizeof(text), "%s%s%scurrent-context: x\n", head, us,
	    cx);
	expect_error(write_tmp("k", text), NULL,
	    "cluster c (context x) not found");
	snprintf(text, sizeof(text), "%s%s%scurrent-context: x\n", head, cl,
	    cx);
	expect_error(write_tmp("k", text), NULL, "user u (context x) not found");
	snprintf(text, sizeof(text), "%s%s%scontexts:\n- name: x\n  context:\n"
	    "    user: u\ncurrent-context: x\n", head, cl, us);
	expect_error(write_tmp("k", text), NULL, "context x names no cluster");

	/* A context without a user is anonymous. */
	snprintf(text, sizeof(text), "%s%scontexts:\n- name: x\n  context:\n"
	    "    cluster: c\ncurrent-context: x\n", head, cl);
	assert_int_equal(resolve(write_tmp("k", text), NULL, &c), 0);
	assert_null(c.token);
	kubeconfig_free(&c);

	expect_error(write_kc("k", "    insecure-skip-tls-verify: true\n",
	    "    token: " SECRET "\n"), NULL, "cluster c: no server");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n"
	    "    insecure-skip-tls-verify: yes please\n", "    token: x\n"),
	    NULL, "insecure-skip-tls-verify: not a boolean");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n",
	    "    token: [" SECRET "]\n"), NULL, "user u: token: not a string");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n"
	    "    certificate-authority: nope/ca.crt\n", "    token: x\n"),
	    NULL, "cluster c: certificate-authority ");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n",
	    "    client-certificate: " KCDIR "/pki/lab-admin.crt\n"
	    "    token: " SECRET "\n"), NULL,
	    "user u: client-certificate and client-key must be given together");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n",
	    "    client-key: missing.key\n"), NULL,
	    "user u: client-key ");
	expect_error(write_kc("k", "    server: https://127.0.0.1\n",
	    "    tokenFile: missing-token\n"), NULL,
	    "user u: tokenFile ");
	expect_error(write_tmp("k", "- just\n- a list\n"), NULL,
	    "not a mapping");
	expect_error(write_tmp("k", "clusters: [\n"), NULL, ": line ");
	expect_error(write_tmp("k", "{\"clusters\": [\n  nope ]}\n"), NULL,
	    ": line 2: invalid JSON");
	expect_error(write_tmp("k", "# nothing\n"), NULL, "empty file");
}

static void
test_base64(void **state)
{
	static const struct {
		const char *b64, *want;
	} good[] = {
		{ "YQ==", "a" },
		{ "YWI=", "ab" },
		{ "YWJj", "abc" },
		{ "YWJj\\r\\nZA==\\n", "abcd" },	/* YAML escapes */
	};
	static const char *const bad[] = { "YQ", "YQ=", "Y===", "YQ==YQ==",
	    "YW=j", "YW Jj", "YW*j", "====", NULL };
	struct kube_client_config c;
	char body[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "    server: https://127.0.0.1\n"
		    "    certificate-authority-data: \"%s\"\n"
		    "    certificate-authority: ignored/when/data\n",
		    good[i].b64);
		if (resolve(write_kc("k", body, "    {}\n"), NULL, &c) != 0)
			fail_msg("%s: %s", good[i].b64, err);
		assert_int_equal(c.ca_data_len, strlen(good[i].want));
		assert_string_equal(c.ca_data, good[i].want);
		assert_null(c.ca_file);
		kubeconfig_free(&c);
	}
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(body, sizeof(body), "    client-key-data: \"%s\"\n"
		    "    client-certificate-data: YQ==\n"
		    "    token: " SECRET "\n", bad[i]);
		expect_error(write_kc("k", "    server: https://127.0.0.1\n",
		    body), NULL, "user u: client-key-data: invalid base64");
	}
}

/* No byte below 0x20 (but tab) or 0x7f anywhere in s. */
static void
assert_no_controls(const char *what, const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			fail_msg("%s holds control byte 0x%02x", what,
			    (unsigned char)*s);
}

/*
 * A token goes into an HTTP header: CR, LF or another control byte would
 * inject headers (Go's net/http refuses such a value too).  Refused from
 * the kubeconfig, from a token file at start-up and when re-read (the
 * last good token is kept), never echoed.
 */
static void
test_hostile_token(void **state)
{
	struct kube_client_config c;
	const char *kc;
	char *tok, path[300];

	(void)state;
	expect_error(write_kc("k1", "    server: https://127.0.0.1\n",
	    "    token: \"" SECRET "\\r\\nX-Injected: 1\"\n"), NULL,
	    "user u: token: control characters");
	expect_error(write_kc("k2", "    server: https://127.0.0.1\n",
	    "    token: \"" SECRET "\\u007f\"\n"), NULL,
	    "user u: token: control characters");
	write_tmp("bad-token", SECRET "\nX-Injected: 1\n");
	expect_error(write_kc("k3", "    server: https://127.0.0.1\n",
	    "    tokenFile: bad-token\n"), NULL, "control characters");

	/* Rotated to a bad token: the previous one stays in use. */
	write_tmp("token", SECRET "\n");
	kc = write_kc("k4", "    server: https://127.0.0.1\n",
	    "    tokenFile: token\n");
	snprintf(path, sizeof(path), "%s", kc);
	assert_int_equal(resolve(path, NULL, &c), 0);
	write_tmp("token", "new\r\nX-Injected: 1\n");
	assert_int_equal(read_token_captured(&c, &tok), 0);
	assert_string_equal(tok, SECRET);
	assert_null(strstr(logbuf, "X-Injected"));
	free(tok);
	kubeconfig_free(&c);
}

/*
 * tls-server-name becomes a URL host and a curl CONNECT_TO entry
 * ("name:port:host:port"): only a DNS name or an IP address is taken.
 */
static void
test_hostile_tls_server_name(void **state)
{
	static const char *const bad[] = {
		"evil:1:198.18.0.1", "a b", "x/y", "a@b", "[::1]", "-", "",
	};
	struct kube_client_config c;
	char body[512];
	size_t i;

	(void)state;
	for (i = 0; bad[i][0] != '\0'; i++) {
		snprintf(body, sizeof(body), "    server: https://127.0.0.1\n"
		    "    tls-server-name: \"%s\"\n", bad[i]);
		expect_error(write_kc("k", body, "    token: t\n"), NULL,
		    "tls-server-name: not a DNS name or IP address");
	}
	snprintf(body, sizeof(body), "    server: https://127.0.0.1\n"
	    "    tls-server-name: \"%0300d\"\n", 7);
	expect_error(write_kc("k", body, "    token: t\n"), NULL,
	    "tls-server-name: not a DNS name or IP address");
	assert_int_equal(resolve(write_kc("k", "    server: https://127.0.0.1\n"
	    "    tls-server-name: kubernetes.default.svc\n",
	    "    token: t\n"), NULL, &c), 0);
	assert_string_equal(c.tls_server_name, "kubernetes.default.svc");
	kubeconfig_free(&c);
	assert_int_equal(resolve(write_kc("k", "    server: https://127.0.0.1\n"
	    "    tls-server-name: \"::1\"\n", "    token: t\n"), NULL, &c), 0);
	kubeconfig_free(&c);
}

/*
 * Names from the file end up in messages and in the origin that later
 * log lines carry: control bytes are shown as '?' and long names cut, so
 * a file cannot forge log lines or make one line of megabytes.
 */
static void
test_hostile_names(void **state)
{
	struct kube_client_config c;
	char *text, *p;
	size_t n = 100000;

	(void)state;
	expect_error(write_tmp("k", "current-context: \"x\\ny\\u001b[31m\"\n"
	    "contexts: []\n"), NULL, "context x?y?[31m not found");
	assert_no_controls("error", err);

	text = malloc(2 * n + 400);
	assert_non_null(text);
	p = text + sprintf(text, "clusters:\n- name: c\n  cluster:\n"
	    "    server: https://127.0.0.1\ncontexts:\n- name: \"");
	memset(p, 'n', n);
	p += n;
	p += sprintf(p, "\\n\"\n  context:\n    cluster: c\n"
	    "current-context: \"");
	memset(p, 'n', n);
	p += n;
	sprintf(p, "\\n\"\n");
	assert_int_equal(resolve(write_tmp("k", text), NULL, &c), 0);
	assert_no_controls("origin", c.origin);
	assert_true(strlen(c.origin) < 1024);
	kubeconfig_free(&c);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_static_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_token_file_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative_kubeconfig_path,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_embedded_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeadm_and_rotation,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_env, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_urls, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plugins_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_pieces, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_tls_server_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_names, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
