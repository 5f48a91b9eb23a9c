/*
 * fuzz_port_range.c - port ranges (config_parse_port_range), as
 * --proxy-port-range and --service-node-port-range are read.  An accepted
 * range is ordered, "kernel-chosen" is 0-0, and "LO-HI" reads back alike.
 */
#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), buf[32];
	uint16_t lo, hi, lo2, hi2;

	if (config_parse_port_range(s, &lo, &hi) == 0) {
		FUZZ_CHECK(lo <= hi);
		FUZZ_CHECK(lo != 0 || hi == 0);
		snprintf(buf, sizeof(buf), "%u-%u", lo, hi);
		FUZZ_CHECK(config_parse_port_range(buf, &lo2, &hi2) == 0);
		FUZZ_CHECK(lo2 == lo && hi2 == hi);
	}
	free(s);
	return 0;
}
