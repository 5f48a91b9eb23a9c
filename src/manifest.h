/*
 * manifest.h - one manifest file's text into raw objects.
 *
 * A manifest file (--manifests) holds JSON or YAML: single objects,
 * `kind: List` with items, or several YAML documents.  This turns its text
 * into cJSON trees, still undecoded; source_file.c decodes them with k8s.c
 * and keeps track of what each file contributes.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "k8s.h"

/* Whether a directory entry is a manifest: *.yaml, *.yml, *.json, not hidden. */
int	 manifest_name_ok(const char *name);

/*
 * Parse text (NUL-terminated, len bytes) into a cJSON array of documents
 * (caller owns it).  JSON when path ends in .json or the text starts with
 * '{' or '[', YAML otherwise (with yamljson.c's bounds).  NULL with
 * "line N: reason" in err.
 */
cJSON	*manifest_parse(const char *path, const char *text, size_t len,
	    char *err, size_t err_len);

/* The items of a `kind: List` (or ServiceList, ...), else NULL. */
cJSON	*manifest_list_items(const cJSON *doc);

/*
 * The key a raw object claims, read as it is, whatever its length: *ns
 * ("default" when absent) and *name (NULL when absent) always set,
 * pointing into raw.  Returns 0 when the kind is one the proxy uses and a
 * name is there, else -1.
 */
int	 manifest_claimed_key(const cJSON *raw, enum k8s_kind *kind,
	    const char **ns, const char **name);

#endif
