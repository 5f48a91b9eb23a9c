/*
 * fuzz_config_file.c - the KubeProxyConfiguration file (--config), read
 * by config_load_file from a file as the daemon reads it, then validated
 * by config_finish.  An accepted configuration must survive a
 * write/read round trip unchanged.
 */
#include "fuzz.h"
#include "fuzz_config_roundtrip.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512] = "";
	const char *path;

	path = fuzz_write_file("config.yaml", data, size);
	config_defaults(&c);
	if (config_load_file(&c, path, err, sizeof(err)) == 0 &&
	    config_finish(&c, err, sizeof(err)) == 0)
		fuzz_config_roundtrip(&c);
	else
		FUZZ_CHECK(err[0] != '\0');
	config_free(&c);
	return 0;
}
