/*
 * fuzz_config_roundtrip.h - the check both configuration targets make on
 * a configuration they accepted: config_write_file writes a file that
 * config_load_file reads back to the same configuration (config.h says
 * so), compared through config_to_json.  --cleanup and --config are
 * not settings a file holds (config.c, opt_in_file 0): left out.
 */
#ifndef FUZZ_CONFIG_ROUNDTRIP_H
#define FUZZ_CONFIG_ROUNDTRIP_H

#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static void
fuzz_config_roundtrip(const struct config *c)
{
	char path[256], err[512];
	char *before, *after;
	struct config back, settings = *c;	/* shallow: only read */

	settings.cleanup = 0;
	settings.config_file = NULL;
	before = config_to_json(&settings);
	FUZZ_CHECK(before != NULL);
	snprintf(path, sizeof(path), "%s/written.yaml", fuzz_tmpdir());
	FUZZ_CHECK(config_write_file(c, path, err, sizeof(err)) == 0);
	config_defaults(&back);
	if (config_load_file(&back, path, err, sizeof(err)) != 0 ||
	    config_finish(&back, err, sizeof(err)) != 0) {
		fprintf(stderr, "written configuration refused: %s\n", err);
		FUZZ_CHECK(!"config_write_file output reads back");
	}
	after = config_to_json(&back);
	FUZZ_CHECK(after != NULL);
	if (strcmp(before, after) != 0) {
		fprintf(stderr, "before: %s\nafter:  %s\n", before, after);
		FUZZ_CHECK(!"configuration changed on a write/read round trip");
	}
	unlink(path);
	free(before);
	free(after);
	config_free(&back);
}

#endif
