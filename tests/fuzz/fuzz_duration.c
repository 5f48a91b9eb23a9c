/*
 * fuzz_duration.c - Go-style durations (config_parse_duration), as every
 * duration flag and file field is read.  An accepted value printed back
 * as milliseconds parses to the same value.
 */
#include <inttypes.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), buf[32];
	uint64_t ms, again;

	if (config_parse_duration(s, &ms) == 0) {
		snprintf(buf, sizeof(buf), "%" PRIu64 "ms", ms);
		FUZZ_CHECK(config_parse_duration(buf, &again) == 0);
		FUZZ_CHECK(again == ms);
	}
	free(s);
	return 0;
}
