/*
 * k8s_field.c - the JSON field helpers every k8s decoder file shares
 * (k8s_int.h): error messages, typed getters, IP literals and port names.
 *
 * Each getter folds JSON null into "absent", as Go's decoder does for
 * optional fields, and reports a member of the wrong type as
 * "path.key: ... is not ...".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "k8s_int.h"
#include "util.h"
#include "validate.h"

int __attribute__((format(printf, 2, 3)))
k8s_fail(struct k8s_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A short description of a JSON value for error messages. */
const char *
k8s_describe(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "\"%.40s%s\"", v->valuestring,
		    strlen(v->valuestring) > 40 ? "..." : "");
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsArray(v))
		snprintf(buf, len, "an array");
	else if (cJSON_IsObject(v))
		snprintf(buf, len, "an object");
	else
		snprintf(buf, len, "null");
	return buf;
}

int
k8s_type_error(struct k8s_err *e, const char *path, const cJSON *v,
    const char *want)
{
	char d[64];

	return k8s_fail(e, "%s: %s is not %s", path, k8s_describe(v, d,
	    sizeof(d)), want);
}

/* A member, with JSON null folded into "absent". */
const cJSON *
k8s_get(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(v) ? NULL : v;
}

/*
 * Typed getters: 0 with *out set (NULL/default when absent), or -1 with
 * "path.key: ..." in err when the member has the wrong type.
 */
int
k8s_get_obj(const cJSON *obj, const char *path, const char *key,
    const cJSON **out, struct k8s_err *e)
{
	char p[K8S_PATH_LEN];

	*out = k8s_get(obj, key);
	if (*out == NULL || cJSON_IsObject(*out))
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, *out, "an object");
}

int
k8s_get_arr(const cJSON *obj, const char *path, const char *key,
    const cJSON **out, struct k8s_err *e)
{
	char p[K8S_PATH_LEN];

	*out = k8s_get(obj, key);
	if (*out == NULL || cJSON_IsArray(*out))
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, *out, "an array");
}

int
k8s_get_str(const cJSON *obj, const char *path, const char *key,
    const char *def, const char **out, struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN];

	*out = def;
	if (v == NULL)
		return 0;
	if (cJSON_IsString(v)) {
		*out = v->valuestring;
		return 0;
	}
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, v, "a string");
}

int
k8s_get_bool(const cJSON *obj, const char *path, const char *key, int def,
    int *out, struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN];

	*out = def;
	if (v == NULL)
		return 0;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return 0;
	}
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, v, "a boolean");
}

/*
 * An integer member in [min, max].  *present says whether it was there;
 * 80.5, "80" or true are errors, not numbers rounded or parsed.
 */
int
k8s_get_int(const cJSON *obj, const char *path, const char *key,
    long min, long max, const char *what, long *out, int *present,
    struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN], d[64];
	double x;

	*out = 0;
	*present = v != NULL;
	if (v == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	if (!cJSON_IsNumber(v))
		return k8s_type_error(e, p, v, "a number");
	x = v->valuedouble;
	if (!isfinite(x) || x < min || x > max || x != (double)(long)x)
		return k8s_fail(e, "%s: %s is not %s", p,
		    k8s_describe(v, d, sizeof(d)), what);
	*out = (long)x;
	return 0;
}

/*
 * The API accepts exactly TCP, UDP and SCTP (core/v1 Protocol).  SCTP is
 * valid but not proxied (the store skips the port with a reason); any
 * other value means a broken object, as the API server would have
 * refused it.  Returns -1 for that.
 */
static int
k8s_proto(const char *s, enum k8s_proto *proto)
{
	if (strcmp(s, "TCP") == 0)
		*proto = K8S_PROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*proto = K8S_PROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*proto = K8S_PROTO_OTHER;
	else
		return -1;
	return 0;
}

/*
 * One IP literal (a JSON string) into *out.  Service addresses that would
 * capture the node's own traffic are refused as the API server refuses
 * them; endpoint addresses are checked with validate_endpoint_ip().
 */
int
k8s_ip(const cJSON *v, const char *path, union addr *out, int endpoint,
    struct k8s_err *e)
{
	const char *why;
	char d[64];

	if (!cJSON_IsString(v))
		return k8s_type_error(e, path, v, "a string");
	if (addr_parse(v->valuestring, 0, out) == -1)
		return k8s_fail(e, "%s: %s is not an IP address", path,
		    k8s_describe(v, d, sizeof(d)));
	why = endpoint ? validate_endpoint_ip(out) : validate_special_ip(out);
	if (why != NULL)
		return k8s_fail(e, "%s: %s is %s", path,
		    k8s_describe(v, d, sizeof(d)), why);
	return 0;
}

/* A JSON array of IP strings at obj.key into a new addr array. */
int
k8s_ip_list(const cJSON *obj, const char *path, const char *key,
    union addr **out, size_t *n, struct k8s_err *e)
{
	const cJSON *arr, *v;
	char p[K8S_PATH_LEN];

	if (k8s_get_arr(obj, path, key, &arr, e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	*out = xcalloc(cJSON_GetArraySize(arr), sizeof(**out));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, *n);
		if (k8s_ip(v, p, &(*out)[*n], 0, e) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

/* Port lists of Services, EndpointSlices and Endpoints share this core. */
int
k8s_port_common(const cJSON *v, const char *p, const char **name,
    enum k8s_proto *proto, struct k8s_err *e)
{
	const char *s, *why;

	if (!cJSON_IsObject(v))
		return k8s_type_error(e, p, v, "an object");
	if (k8s_get_str(v, p, "name", "", name, e) == -1)
		return -1;
	/* Service and endpoint port names are DNS labels (ServicePort.name). */
	if (**name != '\0' && (why = validate_dns1123_label(*name)) != NULL)
		return k8s_fail(e, "%s.name: \"%.40s%s\" %s", p, *name,
		    strlen(*name) > 40 ? "..." : "", why);
	if (k8s_get_str(v, p, "protocol", "TCP", &s, e) == -1)
		return -1;
	if (k8s_proto(s, proto) == -1)
		return k8s_fail(e, "%s.protocol: \"%.20s\" is not TCP, UDP or SCTP",
		    p, s);
	return 0;
}
