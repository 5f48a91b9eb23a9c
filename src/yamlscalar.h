/*
 * yamlscalar.h - a YAML scalar's JSON type, as Kubernetes reads YAML 1.2's
 * core schema: plain true/false, null/~/empty, integers (decimal, 0x, 0o)
 * and floats become JSON values; quoted, block and !!str-tagged scalars
 * stay strings.
 */
#ifndef YAMLSCALAR_H
#define YAMLSCALAR_H

#include <cjson/cJSON.h>
#include <yaml.h>

/*
 * The cJSON value of one scalar event (NULL when cJSON cannot allocate).
 * Only plain scalars without an explicit tag other than the core ones are
 * resolved; .inf and .nan have no JSON form and stay strings.  A string
 * takes the event's own buffer (both come from malloc), which leaves
 * ev->data.scalar.value NULL: one copy fewer per scalar of a manifest.
 */
cJSON	*yamlscalar_resolve(yaml_event_t *ev);

#endif
