/*
 * manifest.c - one manifest file's text into raw objects (see manifest.h).
 */
#include <stdio.h>
#include <string.h>

#include "manifest.h"
#include "yamljson.h"

int
manifest_name_ok(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (name[0] == '.' || dot == NULL)	/* hidden, editor swap files */
		return 0;
	return strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
	    strcmp(dot, ".json") == 0;
}

/* Line number of a position in text, for JSON syntax errors. */
static int
line_of(const char *text, const char *pos)
{
	int line = 1;

	for (; text < pos && *text; text++)
		if (*text == '\n')
			line++;
	return line;
}

cJSON *
manifest_parse(const char *path, const char *text, size_t len, char *err,
    size_t err_len)
{
	const char *dot = strrchr(path, '.'), *t = text, *end = NULL;
	cJSON *doc, *docs;

	while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
		t++;
	if ((dot == NULL || strcmp(dot, ".json") != 0) && *t != '{' && *t != '[')
		return yaml_parse_stream(text, len, err, err_len);
	/* text is NUL-terminated: let cJSON see the NUL, so trailing junk fails. */
	doc = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (doc == NULL) {
		snprintf(err, err_len, "line %d: invalid JSON",
		    line_of(text, end != NULL ? end : text + len));
		return NULL;
	}
	docs = cJSON_CreateArray();
	cJSON_AddItemToArray(docs, doc);
	return docs;
}

/*
 * The key a broken object claims, to find its last good version: read
 * from the raw object as it is, whatever its length (never cut to fit a
 * buffer: a cut name is another object's name).
 */
int
manifest_claimed_key(const cJSON *raw, enum k8s_kind *kind, const char **ns,
    const char **name)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(raw, "metadata");
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(raw, "kind"));

	*name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "name"));
	*ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "namespace"));
	if (*ns == NULL || **ns == '\0')
		*ns = "default";
	if (k == NULL || *name == NULL)
		return -1;
	if (strcmp(k, "Service") == 0)
		*kind = K8S_SERVICE;
	else if (strcmp(k, "EndpointSlice") == 0)
		*kind = K8S_ENDPOINTSLICE;
	else if (strcmp(k, "Endpoints") == 0)
		*kind = K8S_ENDPOINTS;
	else if (strcmp(k, "Node") == 0) {
		*kind = K8S_NODE;
		*ns = "";		/* cluster-scoped, as k8s_decode keys it */
	} else
		return -1;
	return 0;
}

cJSON *
manifest_list_items(const cJSON *doc)
{
	const char *kind = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(doc, "kind"));
	cJSON *items;
	size_t len;

	/* The kind first: most documents are not lists, and say so early. */
	if (kind == NULL || (len = strlen(kind)) < 4 ||
	    strcmp(kind + len - 4, "List") != 0)
		return NULL;
	items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	return cJSON_IsArray(items) ? items : NULL;
}

