/*
 * fuzz_yaml.c - YAML to JSON (yamljson.c), as the manifest source and the
 * configuration file read it: parse a whole stream, then print every
 * document the way the manifest source keeps it (cJSON_PrintUnformatted).
 */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "yamljson.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "", *text = fuzz_strndup(data, size), *json;
	cJSON *docs, *doc;

	docs = yaml_parse_stream(text, size, err, sizeof(err));
	if (docs == NULL)
		FUZZ_CHECK(err[0] != '\0');	/* a failure says why */
	else {
		FUZZ_CHECK(cJSON_IsArray(docs));
		cJSON_ArrayForEach(doc, docs) {
			if ((json = cJSON_PrintUnformatted(doc)) != NULL)
				free(json);
		}
		cJSON_Delete(docs);
	}
	free(text);
	return 0;
}
