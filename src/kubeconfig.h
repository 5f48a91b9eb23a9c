/*
 * kubeconfig.h - where the API server is and how to authenticate to it.
 *
 * Turns --kubeconfig, $KUBECONFIG, --master or the in-cluster environment
 * into one flat struct kube_client_config that the API source hands to
 * libcurl: a server URL, TLS material (files or decoded PEM bytes) and a
 * bearer token that may come from a file the kubelet rotates.
 * Facts: ../shared/K8S-API.md section 3.
 *
 * Credentials never appear in error messages or logs: messages name the
 * file, context, cluster, user and field, never a value.
 */
#ifndef KUBECONFIG_H
#define KUBECONFIG_H

#include <stddef.h>

/* Where a pod's service-account token and CA are mounted. */
#define KUBECONFIG_SA_DIR	"/var/run/secrets/kubernetes.io/serviceaccount"
/*
 * Environment variable that replaces KUBECONFIG_SA_DIR (tests, and
 * running outside a pod against a copied service-account directory).
 */
#define KUBECONFIG_SA_DIR_ENV	"KUBE_UPROXY_SERVICEACCOUNT_DIR"

/*
 * Every pointer is owned by the struct (kubeconfig_free) and is NULL when
 * not configured.  File paths are absolute when they came from a
 * kubeconfig with relative entries.  When both a file and inline data were
 * given, only the data is kept (data overrides file, as in client-go).
 */
struct kube_client_config {
	char	*server;	/* "https://host:port[/path]", no trailing '/' */
	char	*tls_server_name; /* name to verify instead of the URL host */
	char	*ca_file;	/* PEM CA bundle; NULL: system roots */
	char	*ca_data;	/* PEM bytes, base64-decoded, NUL-terminated */
	size_t	 ca_data_len;
	char	*cert_file;	/* client certificate (PEM) */
	char	*key_file;	/* its private key (PEM) */
	char	*cert_data;	/* decoded PEM, NUL-terminated */
	size_t	 cert_data_len;
	char	*key_data;	/* decoded PEM, NUL-terminated */
	size_t	 key_data_len;
	char	*token;		/* bearer token (last good value) */
	char	*token_file;	/* re-read by kubeconfig_read_token */
	int	 insecure_skip_tls_verify;
	/* For messages: "kubeconfig PATH context NAME", "in-cluster", ... */
	char	*origin;
};

/*
 * Resolve the API client configuration into *out (zeroed first; the caller
 * frees it with kubeconfig_free, also after a failure).  Precedence:
 *
 *  1. flag_kubeconfig (--kubeconfig): that file alone; it must exist.
 *  2. $KUBECONFIG: the first existing file of its ':'-separated list
 *     (files are not merged).
 *  3. flag_master alone: only a server URL, no credentials (kube-proxy's
 *     behaviour; plain http when the URL says so).
 *  4. In-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT give
 *     https://host:port (IPv6 bracketed); token and ca.crt come from
 *     KUBECONFIG_SA_DIR (or $KUBECONFIG_SA_DIR_ENV).  The token file is
 *     remembered for rotation; an unreadable CA is only a warning (system
 *     roots are used then).
 *
 * With a kubeconfig, current-context picks the context, which names the
 * cluster and the user; flag_master (when non-NULL and non-empty) replaces
 * the cluster's server.  Relative paths resolve against the kubeconfig's
 * directory, *-data fields are base64-decoded, a tokenFile is read once
 * now (an unreadable or empty one is an error), referenced CA/cert/key
 * files must be readable.  Credentials are dropped (with a warning) when
 * the final server URL is plain http, as client-go does.  A server without
 * a scheme gets https:// when TLS settings exist, else http://.
 *
 * Returns 0, or -1 with one line in err naming the file and the missing or
 * invalid piece; users with exec or auth-provider plugins are refused
 * ("exec credential plugins are not supported (user X)").
 */
int	kubeconfig_resolve(const char *flag_kubeconfig, const char *flag_master,
	    struct kube_client_config *out, char *err, size_t err_len);

/*
 * The bearer token to send now.  With a token_file, the file is re-read,
 * whitespace-trimmed, and on success becomes cfg->token; if re-reading
 * fails and an earlier token exists, that one is returned (and a warning
 * logged, as client-go does).  The caller calls this at least every
 * minute and after any 401 response.
 *
 * Returns 0 with *token_out a new string the caller frees (NULL when no
 * bearer authentication is configured), or -1 with err set (no earlier
 * token to fall back to).
 */
int	kubeconfig_read_token(struct kube_client_config *cfg, char **token_out,
	    char *err, size_t err_len);

/* Free every field (secrets are wiped first) and zero the struct. */
void	kubeconfig_free(struct kube_client_config *cfg);

#endif
