/*
 * config_file.c - reading a KubeProxyConfiguration file (--config; see
 * config.h), YAML or JSON: each field the options table (config.c) names
 * goes through config_opt_set like its flag; fields kube-uproxy knows but
 * has no use for are ignored quietly, unknown ones with a warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bounds.h"
#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"
#include "yamljson.h"

#define CONFIG_FILE_MAX		(1024 * 1024)

/*
 * KubeProxyConfiguration fields that kube-uproxy knows but has no use
 * for (they drive other proxy modes or things it does not do).
 */
static const char *const ignored_fields[] = {
	"featureGates", "bindAddressHardFail", "enableProfiling",
	"showHiddenMetricsForVersion", "serviceProxyName", "clusterCIDR",
	"configSyncPeriod", "conntrack", "detectLocalMode", "detectLocal",
	"ipvs", "nftables", "winkernel", "windowsRunAsService",
	"oomScoreAdj", "syncPeriod", "minSyncPeriod",
	"clientConnection.acceptContentTypes", "clientConnection.contentType",
	"clientConnection.qps", "clientConnection.burst",
	"iptables.masqueradeAll", "iptables.masqueradeBit",
	"iptables.localhostNodePorts",
	"logging.format", "logging.flushFrequency", "logging.options",
	"logging.vmodule", "linux", "windows",
};
static const char *const container_fields[] = {
	"clientConnection", "iptables", "logging",
};

static int
field_listed(const char *const *list, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], path) == 0)
			return 1;
	return 0;
}

/*
 * A whole number that a long long holds.  The range is checked first:
 * converting an out-of-range double (1e999 reads as infinity) to an
 * integer is undefined behaviour (found by the config_file fuzz target).
 */
static int
is_integer(double d)
{
	return d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d;
}

/*
 * A JSON scalar as the string a flag would have given.  A string too long
 * for buf is cut to len - 1 bytes, which config_opt_set refuses (buf is
 * BOUND_CONFIG_VALUE_BYTES + 1), so nothing is silently shortened.
 */
static int
json_scalar(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsTrue(v))
		snprintf(buf, len, "true");
	else if (cJSON_IsFalse(v))
		snprintf(buf, len, "false");
	else if (cJSON_IsNumber(v) && is_integer(v->valuedouble))
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%g", v->valuedouble);
	else
		return -1;
	return 0;
}

/*
 * A list of strings joined with commas, as the flag gives it; an item
 * with a comma, or a list too long for buf, is refused.
 */
static int
json_list(const cJSON *v, char *buf, size_t len)
{
	const cJSON *item;
	size_t n = 0, l;

	buf[0] = '\0';
	cJSON_ArrayForEach(item, v) {
		if (!cJSON_IsString(item) ||
		    strchr(item->valuestring, ',') != NULL)
			return -1;
		l = strlen(item->valuestring);
		if (n + l + 2 > len)
			return -1;
		if (n > 0)
			buf[n++] = ',';
		memcpy(buf + n, item->valuestring, l + 1);
		n += l;
	}
	return 0;
}

static int
load_object(struct config *c, const char *file, const cJSON *obj,
    const char *prefix, char *err, size_t err_len)
{
	const struct option *o;
	const cJSON *v;
	char path[256], val[BOUND_CONFIG_VALUE_BYTES + 1], why[256];

	cJSON_ArrayForEach(v, obj) {
		if (prefix == NULL)
			snprintf(path, sizeof(path), "%s", v->string);
		else
			snprintf(path, sizeof(path), "%s.%s", prefix, v->string);

		if (prefix == NULL && (strcmp(path, "apiVersion") == 0 ||
		    strcmp(path, "kind") == 0))
			continue;
		if (prefix == NULL && strcmp(path, "mode") == 0) {
			if (!cJSON_IsString(v) || (*v->valuestring != '\0' &&
			    strcmp(v->valuestring, "userspace") != 0))
				log_warnx("%s: mode: ignored, kube-uproxy "
				    "always runs in userspace mode", file);
			continue;
		}
		if ((o = config_opt_by_field(path)) != NULL) {
			/* null means "not set", as in Go's JSON decoding. */
			if (cJSON_IsNull(v))
				continue;
			if (o->opt_type == OPT_ADDRLIST && cJSON_IsArray(v)) {
				if (json_list(v, val, sizeof(val)) == -1) {
					snprintf(err, err_len, "%s: %s: not a "
					    "list of strings", file, path);
					return -1;
				}
			} else if (json_scalar(v, val, sizeof(val)) == -1) {
				snprintf(err, err_len, "%s: %s: not a scalar "
				    "value", file, path);
				return -1;
			}
			if (config_opt_set(c, o, val, why, sizeof(why)) == -1) {
				snprintf(err, err_len, "%s: %s: %s", file, path,
				    why);
				return -1;
			}
		} else if (field_listed(ignored_fields, nitems(ignored_fields),
		    path)) {
			log_debug(1, "%s: %s does not apply to kube-uproxy, "
			    "ignored", file, path);
		} else if (field_listed(container_fields,
		    nitems(container_fields), path)) {
			if (cJSON_IsNull(v))
				continue;
			if (!cJSON_IsObject(v)) {
				snprintf(err, err_len, "%s: %s: not an object",
				    file, path);
				return -1;
			}
			if (load_object(c, file, v, path, err, err_len) == -1)
				return -1;
		} else
			log_warnx("%s: unknown field %s, ignored", file, path);
	}
	return 0;
}

static cJSON *
parse_document(const char *path, const char *text, size_t len,
    char *err, size_t err_len)
{
	const char *p = text + strspn(text, " \t\r\n"), *end = NULL, *q;
	char why[256];
	cJSON *docs, *doc;
	int line = 1;

	if (*p == '{') {
		doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
		if (doc == NULL) {
			for (q = text; end != NULL && q < end; q++)
				line += *q == '\n';
			snprintf(err, err_len, "%s: line %d: invalid JSON",
			    path, line);
		}
		return doc;
	}
	if ((docs = yaml_parse_stream(text, len, why, sizeof(why))) == NULL) {
		snprintf(err, err_len, "%s: %s", path, why);
		return NULL;
	}
	if (cJSON_GetArraySize(docs) != 1) {
		snprintf(err, err_len, "%s: want one YAML document, found %d",
		    path, cJSON_GetArraySize(docs));
		cJSON_Delete(docs);
		return NULL;
	}
	doc = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return doc;
}

int
config_load_file(struct config *c, const char *path, char *err,
    size_t err_len)
{
	const cJSON *v;
	cJSON *doc;
	char *text, why[256];
	size_t len;
	int rv = -1;

	if ((text = file_read(path, CONFIG_FILE_MAX, &len, why,
	    sizeof(why))) == NULL) {
		snprintf(err, err_len, "%s: %s", path, why);
		return -1;
	}
	if ((doc = parse_document(path, text, len, err, err_len)) == NULL)
		goto done;
	if (!cJSON_IsObject(doc)) {
		snprintf(err, err_len, "%s: not a %s object", path, KPC_KIND);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "apiVersion");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, KPC_API_VERSION)) {
		snprintf(err, err_len, "%s: apiVersion: want %s", path,
		    KPC_API_VERSION);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, KPC_KIND)) {
		snprintf(err, err_len, "%s: kind: want %s", path, KPC_KIND);
		goto done;
	}
	rv = load_object(c, path, doc, NULL, err, err_len);
 done:
	cJSON_Delete(doc);
	free(text);
	return rv;
}
