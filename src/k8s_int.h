/*
 * k8s_int.h - internals shared by the k8s decoder files (k8s.c,
 * k8s_field.c, k8s_service.c, k8s_endpoints.c, k8s_node.c,
 * k8s_fingerprint.c).  Private to them: every other module uses k8s.h.
 *
 * Convention of the decode functions: 0 on success (or, where said, a
 * count or 1), -1 with a message "path: what is wrong" written into the
 * caller's buffer (struct k8s_err).  What they allocate hangs off the
 * object being decoded and is freed with it by k8s_object_free(), also
 * after a failure halfway.
 */
#ifndef K8S_INT_H
#define K8S_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "addr.h"
#include "k8s.h"

#define K8S_PATH_LEN	128

/* Where a decode stands: the caller's error buffer. */
struct k8s_err {
	char	*buf;
	size_t	 len;
};

/* k8s_field.c: the JSON field helpers. */

/* Writes the message into e; always returns -1. */
int	 k8s_fail(struct k8s_err *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A short description of v for messages, written into buf. */
const char *k8s_describe(const cJSON *v, char *buf, size_t len);
/* "path: <v> is not <want>" into e; returns -1. */
int	 k8s_type_error(struct k8s_err *e, const char *path, const cJSON *v,
	    const char *want);
/* obj.key, or NULL when absent or JSON null. */
const cJSON *k8s_get(const cJSON *obj, const char *key);
/*
 * Typed getters of obj.key: 0 with *out set (NULL or def when absent), or
 * -1 with "path.key: ..." in e when the member has the wrong type.
 * k8s_get_int also wants an integer in [min, max] ("is not <what>").
 */
int	 k8s_get_obj(const cJSON *obj, const char *path, const char *key,
	    const cJSON **out, struct k8s_err *e);
int	 k8s_get_arr(const cJSON *obj, const char *path, const char *key,
	    const cJSON **out, struct k8s_err *e);
int	 k8s_get_str(const cJSON *obj, const char *path, const char *key,
	    const char *def, const char **out, struct k8s_err *e);
int	 k8s_get_bool(const cJSON *obj, const char *path, const char *key,
	    int def, int *out, struct k8s_err *e);
int	 k8s_get_int(const cJSON *obj, const char *path, const char *key,
	    long min, long max, const char *what, long *out, int *present,
	    struct k8s_err *e);
/*
 * One IP literal v into *out, checked as an endpoint address (endpoint
 * 1) or as a Service address (0).
 */
int	 k8s_ip(const cJSON *v, const char *path, union addr *out,
	    int endpoint, struct k8s_err *e);
/* The IP strings of obj.key into a new array *out of *n (caller frees). */
int	 k8s_ip_list(const cJSON *obj, const char *path, const char *key,
	    union addr **out, size_t *n, struct k8s_err *e);
/* Name and protocol of one port entry v at path p; *name borrowed from v. */
int	 k8s_port_common(const cJSON *v, const char *p, const char **name,
	    enum k8s_proto *proto, struct k8s_err *e);

/* k8s_service.c */
int	 k8s_service(const cJSON *json, struct k8s_service *svc,
	    struct k8s_err *e);

/* k8s_endpoints.c */
/*
 * Whether an EndpointSlice is proxied: 1 with *service (borrowed from
 * json), 0 with the reason in e, -1 when broken.
 */
int	 k8s_slice_usable(const cJSON *json, const char **service,
	    struct k8s_err *e);
/* An EndpointSlice owned by service into obj->slices[0]. */
int	 k8s_endpointslice(const cJSON *json, struct k8s_object *obj,
	    const char *service, struct k8s_err *e);
/* A v1 Endpoints object into one obj->slices entry per subset. */
int	 k8s_endpoints(const cJSON *json, struct k8s_object *obj,
	    struct k8s_err *e);
/* Frees what a slice owns, not the slice itself. */
void	 k8s_slice_free(struct k8s_slice *sl);

/* k8s_node.c */
int	 k8s_node(const cJSON *json, struct k8s_node *node, struct k8s_err *e);

/* k8s_fingerprint.c: sets obj->fingerprint (owned by obj). */
int	 k8s_fingerprint(struct k8s_object *obj, struct k8s_err *e);

#endif /* K8S_INT_H */
