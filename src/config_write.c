/*
 * config_write.c - the configuration written out (see config.h): as JSON
 * for /configz (config_to_json), and as a commented KubeProxyConfiguration
 * YAML file for --write-config-to that config_file.c reads back to the
 * same configuration.  Both are loops over the options table (config.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"

static const void *
opt_cptr(const struct config *c, const struct option *o)
{
	return (const char *)c + o->opt_off;
}

/* The object that holds `path`'s last component, created as needed. */
static cJSON *
json_parent(cJSON *root, const char *path, const char **leaf)
{
	const char *dot;
	char part[64];
	cJSON *obj = root, *sub;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(part, sizeof(part), "%.*s", (int)(dot - path), path);
		if ((sub = cJSON_GetObjectItemCaseSensitive(obj, part)) == NULL)
			sub = cJSON_AddObjectToObject(obj, part);
		obj = sub;
		path = dot + 1;
	}
	*leaf = path;
	return obj;
}

/* Add option o's value in *c to the tree under root, at its field path. */
static void
opt_to_json(cJSON *root, const struct config *c, const struct option *o)
{
	const char *leaf, *s;
	cJSON *obj;
	char buf[64];

	obj = json_parent(root, o->opt_field, &leaf);
	switch (o->opt_type) {
	case OPT_DURATION:
		config_format_duration(*(const uint64_t *)opt_cptr(c, o), buf, sizeof(buf));
		cJSON_AddStringToObject(obj, leaf, buf);
		break;
	case OPT_BYTES:
		config_format_bytes(*(const uint64_t *)opt_cptr(c, o), buf, sizeof(buf));
		cJSON_AddStringToObject(obj, leaf, buf);
		break;
	case OPT_BOOL:
		cJSON_AddBoolToObject(obj, leaf, *(const int *)opt_cptr(c, o));
		break;
	case OPT_INT:
		cJSON_AddNumberToObject(obj, leaf, *(const int *)opt_cptr(c, o));
		break;
	case OPT_ENUM:
		cJSON_AddStringToObject(obj, leaf,
		    o->opt_choices[*(const int *)opt_cptr(c, o)]);
		break;
	case OPT_ADDRLIST: {
		/* kube-proxy's field is a list: "a,b" is ["a", "b"]. */
		cJSON *list = cJSON_AddArrayToObject(obj, leaf);
		const char *q;
		size_t n;

		s = *(char *const *)opt_cptr(c, o);
		for (q = s != NULL ? s : ""; *q != '\0'; q += n + (q[n] == ',')) {
			n = strcspn(q, ",");
			snprintf(buf, sizeof(buf), "%.*s", (int)n, q);
			cJSON_AddItemToArray(list, cJSON_CreateString(buf));
		}
		break;
	}
	default:
		s = *(char *const *)opt_cptr(c, o);
		cJSON_AddStringToObject(obj, leaf, s ? s : "");
		break;
	}
}

char *
config_to_json(const struct config *c)
{
	cJSON *root = cJSON_CreateObject();
	char *out;
	size_t i;

	cJSON_AddStringToObject(root, "mode", "userspace");
	for (i = 0; i < config_noptions; i++)
		if (config_options[i].opt_field != NULL)
			opt_to_json(root, c, &config_options[i]);
	if ((out = cJSON_Print(root)) == NULL)
		fatalx("config_to_json: out of memory");
	cJSON_Delete(root);
	return out;
}

/*
 * One level of the tree as YAML block mappings.  Scalars are written the
 * way JSON writes them: a JSON string is a valid YAML double-quoted
 * scalar, so no value (an empty one, "[::1]:10249") needs special care.
 */
static int
yaml_write_object(FILE *f, const cJSON *obj, const char *prefix, int depth)
{
	const struct option *o;
	const cJSON *v;
	char path[256], *s;

	cJSON_ArrayForEach(v, obj) {
		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix ? "." : "", v->string);
		if (cJSON_IsObject(v)) {
			fprintf(f, "%*s%s:\n", depth * 2, "", v->string);
			if (yaml_write_object(f, v, path, depth + 1) == -1)
				return -1;
			continue;
		}
		if ((o = config_opt_by_field(path)) != NULL)
			fprintf(f, "%*s# --%s: %s\n", depth * 2, "", o->opt_flag,
			    o->opt_help);
		if ((s = cJSON_PrintUnformatted(v)) == NULL)
			return -1;
		fprintf(f, "%*s%s: %s\n", depth * 2, "", v->string, s);
		free(s);
	}
	return 0;
}

int
config_write_file(const struct config *c, const char *path, char *err,
    size_t err_len)
{
	cJSON *root = cJSON_CreateObject();
	FILE *f;
	size_t i;
	int rv;

	/* What the file holds, in table order (groups are contiguous). */
	for (i = 0; i < config_noptions; i++)
		if (config_options[i].opt_in_file)
			opt_to_json(root, c, &config_options[i]);

	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL) {
		snprintf(err, err_len, "--write-config-to %s: %s", path,
		    strerror(errno));
		cJSON_Delete(root);
		return -1;
	}
	errno = 0;
	fprintf(f, "# kube-uproxy configuration, read with --config FILE "
	    "(flags given with it win).\n"
	    "apiVersion: %s\nkind: %s\n"
	    "# kube-uproxy always runs in userspace mode.\n"
	    "mode: userspace\n", KPC_API_VERSION, KPC_KIND);
	rv = yaml_write_object(f, root, "", 0);
	cJSON_Delete(root);
	if (rv == 0 && ferror(f))
		rv = -1;
	if (f == stdout ? fflush(f) != 0 : fclose(f) != 0)
		rv = -1;
	if (rv == -1)
		snprintf(err, err_len, "--write-config-to %s: %s", path,
		    errno ? strerror(errno) : "write error");
	return rv;
}
