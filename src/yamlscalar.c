/*
 * yamlscalar.c - a YAML scalar's JSON type (see yamlscalar.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "yamlscalar.h"

/* words all start with one of the characters of first. */
static int
yaml_match(const char *s, const char *first, const char *const *words)
{
	if (strchr(first, *s) == NULL)
		return 0;		/* (most scalars: no strcmp at all) */
	for (; *words != NULL; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+  (YAML 1.2 core schema ints) */
static int
yaml_int(const char *s, double *out)
{
	const char *p = s;
	int base = 10, neg = 0;
	double v = 0;

	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		p += 2;
	} else if (s[0] == '0' && s[1] == 'o') {
		base = 8;
		p += 2;
	} else if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		int d;

		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			return 0;
		if (d >= base)
			return 0;
		v = v * base + d;
	}
	*out = neg ? -v : v;
	return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int
yaml_float(const char *s, double *out)
{
	const char *p = s;
	int mant = 0;
	char *end;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char)*p)) {
		p++;
		mant = 1;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			mant = 1;
		}
	}
	if (!mant)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		return 0;
	*out = strtod(s, &end);
	return 1;
}

/* The event's buffer becomes the string's: no copy. */
static cJSON *
yaml_string(yaml_event_t *ev)
{
	cJSON *node = cJSON_CreateNull();

	if (node == NULL)
		return NULL;
	node->type = cJSON_String;
	node->valuestring = (char *)ev->data.scalar.value;
	ev->data.scalar.value = NULL;
	return node;
}

cJSON *
yamlscalar_resolve(yaml_event_t *ev)
{
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	double d;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0))
		return yaml_string(ev);
	/* strchr finds the NUL too: "" is among the nulls. */
	if (yaml_match(v, "~nN", nulls))
		return cJSON_CreateNull();
	if (yaml_match(v, "tT", trues))
		return cJSON_CreateTrue();
	if (yaml_match(v, "fF", falses))
		return cJSON_CreateFalse();
	if (yaml_int(v, &d) || yaml_float(v, &d))
		return cJSON_CreateNumber(d);
	return yaml_string(ev);
}
