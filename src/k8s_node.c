/*
 * k8s_node.c - decode a v1 Node (k8s_int.h): the two things the proxy
 * reads of its own Node, its zone and whether it is going away.
 */
#include <stdio.h>
#include <string.h>

#include "k8s.h"
#include "k8s_int.h"
#include "util.h"
#include "validate.h"

/*
 * A Node: its zone label, and whether it is going away (kube-proxy's
 * healthz: deletionTimestamp, or the cluster autoscaler's taint).
 */
int
k8s_node(const cJSON *json, struct k8s_node *node, struct k8s_err *e)
{
	const cJSON *meta, *labels, *spec, *taints, *t;
	const char *zone, *ts, *key, *why;
	char p[K8S_PATH_LEN];
	size_t i = 0;

	meta = k8s_get(json, "metadata");
	if (k8s_get_obj(meta, "metadata", "labels", &labels, e) == -1 ||
	    k8s_get_str(labels, "metadata.labels",
	    "topology.kubernetes.io/zone", "", &zone, e) == -1 ||
	    k8s_get_str(meta, "metadata", "deletionTimestamp", "", &ts,
	    e) == -1)
		return -1;
	if (*zone != '\0' && (why = validate_label_value(zone)) != NULL)
		return k8s_fail(e, "metadata.labels.topology.kubernetes.io/zone: "
		    "\"%.40s%s\" %s", zone, strlen(zone) > 40 ? "..." : "", why);
	node->zone = xstrdup(zone);
	node->deleting = *ts != '\0';
	if (k8s_get_obj(json, "", "spec", &spec, e) == -1 ||
	    k8s_get_arr(spec, "spec", "taints", &taints, e) == -1)
		return -1;
	cJSON_ArrayForEach(t, taints) {
		snprintf(p, sizeof(p), "spec.taints[%zu]", i++);
		if (!cJSON_IsObject(t))
			return k8s_type_error(e, p, t, "an object");
		if (k8s_get_str(t, p, "key", "", &key, e) == -1)
			return -1;
		if (strcmp(key, "ToBeDeletedByClusterAutoscaler") == 0)
			node->deleting = 1;
	}
	return 0;
}
