/*
 * fuzz_config_args.c - command-line flags (config_parse_args).  The input
 * is the argument vector, one argument per line (or NUL-separated).
 * Arguments naming --write-config-to are dropped: the harness must not
 * write files wherever the input says.  An accepted configuration must
 * survive a write/read round trip unchanged.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_config_roundtrip.h"

#define MAX_ARGS	64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *argv[MAX_ARGS + 1], *p, *end;
	char err[512] = "";
	struct config c;
	int argc = 0, rc;

	for (p = text; p <= text + size && argc < MAX_ARGS; p = end + 1) {
		end = p + strcspn(p, "\n");	/* stops at a NUL too */
		*end = '\0';
		if (strstr(p, "write-config-to") == NULL)
			argv[argc++] = p;
		if (end == text + size)
			break;
	}
	argv[argc] = NULL;
	config_defaults(&c);
	rc = config_parse_args(&c, argc, argv, err, sizeof(err));
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == -1)
		FUZZ_CHECK(err[0] != '\0');
	else if (rc == 0)
		fuzz_config_roundtrip(&c);
	config_free(&c);
	free(text);
	return 0;
}
