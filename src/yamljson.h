/*
 * yamljson.h - YAML documents to cJSON trees (libyaml's event parser).
 *
 * Manifests may be YAML; everything downstream speaks cJSON, so YAML is
 * converted once here.  Scalars follow YAML 1.2's core schema as Kubernetes
 * reads it: plain true/false, null/~, integers and floats become typed JSON
 * values; quoted scalars and anything else stay strings.  Anchors/aliases
 * are copied.
 */
#ifndef YAMLJSON_H
#define YAMLJSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * Parse every document of a (possibly multi-document) YAML stream.
 *
 * Returns a cJSON array with one element per non-empty document (caller
 * owns it, cJSON_Delete), or NULL on a syntax error with "line N: reason"
 * in err.
 */
cJSON	*yaml_parse_stream(const char *text, size_t len, char *err, size_t err_len);

#endif
