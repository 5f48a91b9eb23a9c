/*
 * fuzz_kubeconfig.c - a kubeconfig file (kubeconfig_resolve with
 * --kubeconfig), read from a file in a scratch directory, so that relative
 * certificate and token paths resolve there; then the token is read the
 * way each request does.  A resolved configuration has a server URL and a
 * description of where it came from.
 *
 * An input that starts with '@' gives --master on its first line (the
 * kubeconfig is the rest), to cover the server URL checks.
 */
#include <string.h>

#include "fuzz.h"
#include "kubeconfig.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_client_config kc;
	char err[512] = "", *token = NULL;
	const uint8_t *nl;
	char *master = NULL;
	const char *path;

	if (size > 0 && data[0] == '@') {
		nl = memchr(data, '\n', size);
		master = fuzz_strndup(data + 1, nl ? (size_t)(nl - data - 1) :
		    size - 1);
		size -= nl ? (size_t)(nl + 1 - data) : size;
		data = nl ? nl + 1 : data + size;
	}
	path = fuzz_write_file("kubeconfig", data, size);
	memset(&kc, 0, sizeof(kc));
	if (kubeconfig_resolve(path, master, &kc, err, sizeof(err)) == 0) {
		FUZZ_CHECK(kc.server != NULL && kc.origin != NULL);
		FUZZ_CHECK(strncmp(kc.server, "http", 4) == 0);
		if (kubeconfig_read_token(&kc, &token, err, sizeof(err)) == 0)
			free(token);
	} else
		FUZZ_CHECK(err[0] != '\0');
	kubeconfig_free(&kc);
	free(master);
	return 0;
}
