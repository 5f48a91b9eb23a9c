/*
 * fuzz_bytes.c - byte sizes as Kubernetes quantities (config_parse_bytes),
 * as --relay-memory is read.  An accepted size printed as a plain number
 * reads back alike.
 */
#include <inttypes.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), buf[32];
	uint64_t n, again;

	if (config_parse_bytes(s, &n) == 0) {
		snprintf(buf, sizeof(buf), "%" PRIu64, n);
		FUZZ_CHECK(config_parse_bytes(buf, &again) == 0);
		FUZZ_CHECK(again == n);
	}
	free(s);
	return 0;
}
