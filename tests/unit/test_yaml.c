/*
 * test_yaml.c - YAML streams to cJSON (src/yamljson.c): scalar typing, nesting,
 * multi-document streams, anchors, errors with line numbers and the
 * guards against hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "util.h"
#include "yamljson.h"

static char err[256];

static cJSON *
parse(const char *text)
{
	return yaml_parse_stream(text, strlen(text), err, sizeof(err));
}

/* The single document of text; fails the test if there is not exactly one. */
static cJSON *
parse1(const char *text)
{
	cJSON *docs = parse(text), *doc;

	if (docs == NULL)
		fail_msg("unexpected error: %s", err);
	assert_int_equal(cJSON_GetArraySize(docs), 1);
	doc = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return doc;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = xcalloc(1, n + 1);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	*len = n;
	return buf;
}

static const cJSON *
get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL)
		fail_msg("no key %s", key);
	return v;
}

static void
assert_number(const cJSON *o, const char *key, double want)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", key);
	assert_true(v->valuedouble == want);
}

static void
assert_string(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsString(v))
		fail_msg("%s is not a string", key);
	assert_string_equal(v->valuestring, want);
}

static void
test_plain_scalars(void **state)
{
	cJSON *d;

	(void)state;
	d = parse1("t1: true\nt2: True\nt3: TRUE\nf1: false\nf2: FALSE\n"
	    "n1: null\nn2: ~\nn3:\nn4: NULL\n"
	    "i1: 42\ni2: -7\ni3: +3\ni4: 0x1F\ni5: 0o17\ni6: 0755\n"
	    "x1: 3.5\nx2: 1e3\nx3: -.5\nx4: 2.\n"
	    "s1: hello\ns2: yes\ns3: 1.2.3\ns4: .inf\ns5: 0x\ns6: 80/TCP\n"
	    "s7: 10.96.0.1\n");
	assert_true(cJSON_IsTrue(get(d, "t1")));
	assert_true(cJSON_IsTrue(get(d, "t2")));
	assert_true(cJSON_IsTrue(get(d, "t3")));
	assert_true(cJSON_IsFalse(get(d, "f1")));
	assert_true(cJSON_IsFalse(get(d, "f2")));
	assert_true(cJSON_IsNull(get(d, "n1")));
	assert_true(cJSON_IsNull(get(d, "n2")));
	assert_true(cJSON_IsNull(get(d, "n3")));
	assert_true(cJSON_IsNull(get(d, "n4")));
	assert_number(d, "i1", 42);
	assert_number(d, "i2", -7);
	assert_number(d, "i3", 3);
	assert_number(d, "i4", 31);
	assert_number(d, "i5", 15);
	assert_number(d, "i6", 755);	/* YAML 1.2: no implicit octal */
	assert_number(d, "x1", 3.5);
	assert_number(d, "x2", 1000);
	assert_number(d, "x3", -0.5);
	assert_number(d, "x4", 2);
	assert_string(d, "s1", "hello");
	assert_string(d, "s2", "yes");	/* YAML 1.1 booleans are gone */
	assert_string(d, "s3", "1.2.3");
	assert_string(d, "s4", ".inf");
	assert_string(d, "s5", "0x");
	assert_string(d, "s6", "80/TCP");
	assert_string(d, "s7", "10.96.0.1");
	cJSON_Delete(d);
}

static void
test_quoted_and_tagged(void **state)
{
	cJSON *d;

	(void)state;
	d = parse1("a: \"true\"\nb: '42'\nc: !!str 80\nd: \"\"\ne: 'null'\n"
	    "f: |\n  80\ng: >-\n  folded\n  text\nh: !!int 8\n");
	assert_string(d, "a", "true");
	assert_string(d, "b", "42");
	assert_string(d, "c", "80");
	assert_string(d, "d", "");
	assert_string(d, "e", "null");
	assert_string(d, "f", "80\n");
	assert_string(d, "g", "folded text");
	assert_number(d, "h", 8);
	cJSON_Delete(d);
}

static void
test_nested(void **state)
{
	cJSON *d;
	const cJSON *ports, *p;

	(void)state;
	d = parse1("spec:\n  ports:\n  - name: http\n    port: 80\n"
	    "  - {name: dns, port: 53, protocol: UDP}\n"
	    "  selector: {}\n  list: []\n  flow: [1, [2, [3]]]\n");
	ports = get(get(d, "spec"), "ports");
	assert_true(cJSON_IsArray(ports));
	assert_int_equal(cJSON_GetArraySize(ports), 2);
	p = cJSON_GetArrayItem(ports, 1);
	assert_string(p, "name", "dns");
	assert_number(p, "port", 53);
	assert_string(p, "protocol", "UDP");
	assert_true(cJSON_IsObject(get(get(d, "spec"), "selector")));
	assert_int_equal(cJSON_GetArraySize(get(get(d, "spec"), "list")), 0);
	p = get(get(d, "spec"), "flow");
	p = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(p, 1), 1),
	    0);
	assert_true(cJSON_IsNumber(p) && p->valuedouble == 3);
	cJSON_Delete(d);
}

static void
test_multi_document(void **state)
{
	cJSON *docs;

	(void)state;
	docs = parse("a: 1\n---\nb: 2\n---\n- x\n- y\n...\n---\nplain\n");
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(docs), 4);
	assert_number(cJSON_GetArrayItem(docs, 0), "a", 1);
	assert_number(cJSON_GetArrayItem(docs, 1), "b", 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(docs, 2)), 2);
	assert_string_equal(cJSON_GetArrayItem(docs, 3)->valuestring, "plain");
	cJSON_Delete(docs);

	/* Empty documents (and comment-only ones) are skipped. */
	docs = parse("---\n---\n# nothing\n---\na: 1\n---\n~\n---\n");
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(docs), 1);
	assert_number(cJSON_GetArrayItem(docs, 0), "a", 1);
	cJSON_Delete(docs);

	docs = parse("");
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
	docs = parse("# only a comment\n");
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
}

static void
test_json_is_yaml(void **state)
{
	cJSON *d;

	(void)state;
	d = parse1("{\"kind\": \"Service\", \"spec\": {\"ports\": "
	    "[{\"port\": 80, \"name\": \"\"}], \"x\": null, \"t\": true}}");
	assert_string(d, "kind", "Service");
	assert_number(cJSON_GetArrayItem(get(get(d, "spec"), "ports"), 0),
	    "port", 80);
	assert_true(cJSON_IsNull(get(get(d, "spec"), "x")));
	assert_true(cJSON_IsTrue(get(get(d, "spec"), "t")));
	cJSON_Delete(d);
}

static void
test_anchors(void **state)
{
	cJSON *d, *docs;
	const cJSON *base, *copy;

	(void)state;
	d = parse1("base: &b {x: 1, y: [1, 2], s: &s str}\ncopy: *b\n"
	    "again: *s\nlist: [&n 5, *n, *n]\n");
	base = get(d, "base");
	copy = get(d, "copy");
	assert_true(cJSON_Compare(base, copy, 1));
	assert_ptr_not_equal(base, copy);	/* a copy, not a shared node */
	assert_string(d, "again", "str");
	copy = cJSON_GetArrayItem(get(d, "list"), 2);
	assert_true(cJSON_IsNumber(copy) && copy->valuedouble == 5);
	cJSON_Delete(d);

	/* Redefinition: the latest anchor wins. */
	d = parse1("a: &x 1\nb: &x 2\nc: *x\n");
	assert_number(d, "c", 2);
	cJSON_Delete(d);

	/* Unknown alias, and anchors do not reach across documents. */
	assert_null(parse("a: *nope\n"));
	assert_non_null(strstr(err, "line 1:"));
	assert_non_null(strstr(err, "nope"));
	docs = parse("a: &x 1\n---\nb: *x\n");
	assert_null(docs);
	assert_non_null(strstr(err, "line 3:"));
	/* An alias to its own, unfinished, node. */
	assert_null(parse("a: &r [1, *r]\n"));
}

static void
test_syntax_errors(void **state)
{
	char *text;
	size_t len;

	(void)state;
	assert_null(parse("a: 1\nb: [1, 2\nc: 3\n"));
	assert_true(strncmp(err, "line ", 5) == 0);

	assert_null(parse("a: 1\nb: 2\n  c: 3\n"));
	assert_string_equal(strstr(err, "line 3:") == err ? "ok" : err, "ok");

	text = slurp(TESTDATA_DIR "/decoder/syntax-error.yaml", &len);
	assert_null(yaml_parse_stream(text, len, err, sizeof(err)));
	/* libyaml reports where the bad indentation is found: line 8. */
	assert_string_equal(strstr(err, "line 8:") == err ? "ok" : err, "ok");
	free(text);

	/* Keys must be scalars; duplicate keys are refused. */
	assert_null(parse("? [a, b]\n: 1\n"));
	assert_non_null(strstr(err, "key"));
	assert_null(parse("a: 1\nb: 2\na: 3\n"));
	assert_string_equal(err, "line 3: duplicate key \"a\"");
	/* A small map is checked pair by pair, a large one by sorting. */
	assert_null(parse("{b: 1, a: 2, c: 3, a: 4}\n"));
	assert_string_equal(err, "line 1: duplicate key \"a\"");
	assert_null(parse("k0: 0\nk1: 1\nk2: 2\nk3: 3\nk4: 4\nk5: 5\nk6: 6\n"
	    "k7: 7\nk8: 8\nk9: 9\nka: a\nkb: b\nkc: c\nkd: d\nke: e\n"
	    "kf: f\nkg: g\nk3: again\n"));
	assert_string_equal(err, "line 18: duplicate key \"k3\"");
	{
		/* 17 distinct keys: the sorted path, and no false alarm. */
		cJSON *m = parse("k0: 0\nk1: 1\nk2: 2\nk3: 3\nk4: 4\nk5: 5\n"
		    "k6: 6\nk7: 7\nk8: 8\nk9: 9\nka: a\nkb: b\nkc: c\nkd: d\n"
		    "ke: e\nkf: f\nkg: g\n");

		assert_non_null(m);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(m, 0)),
		    17);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
		    cJSON_GetArrayItem(m, 0), "kg")), "g");
		cJSON_Delete(m);
	}
	{
		/*
		 * An aliased value takes its new key (its copy came with the
		 * key it had at its anchor); an aliased key is a string.
		 */
		cJSON *m = parse("a: &x {n: 1}\nb: *x\nk: &y key\n*y : v\n");

		assert_non_null(m);
		assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(
		    cJSON_GetArrayItem(m, 0), "b"), "n")->valueint, 1);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
		    cJSON_GetArrayItem(m, 0), "key")), "v");
		cJSON_Delete(m);
	}
	assert_null(parse("base: &b {x: 1}\nm:\n  <<: *b\n"));
	assert_non_null(strstr(err, "merge keys"));
	/* Invalid UTF-8. */
	assert_null(parse("a: \xff\xfe\xfd\n"));
	assert_true(strncmp(err, "line 1:", 7) == 0);
}

static char *
nested(int levels)
{
	char *s = xcalloc(1, 2 * levels + 2);

	memset(s, '[', levels);
	s[levels] = '1';
	memset(s + levels + 1, ']', levels);
	return s;
}

static void
test_depth_limit(void **state)
{
	cJSON *docs;
	char *s;

	(void)state;
	/* 63 sequences + the scalar = 64 levels: allowed. */
	s = nested(63);
	docs = parse(s);
	assert_non_null(docs);
	cJSON_Delete(docs);
	free(s);

	s = nested(64);
	assert_null(parse(s));
	assert_non_null(strstr(err, "deeper than 64"));
	free(s);

	s = nested(100000);
	assert_null(parse(s));
	assert_non_null(strstr(err, "deeper than 64"));
	free(s);

	/* Depth reached through an alias counts too. */
	s = xasprintf("a: &a %s\nb: [[[[*a]]]]\n", "[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]]]]]]]]");
	assert_null(parse(s));
	assert_non_null(strstr(err, "deeper than 64"));
	free(s);
}

static void
test_alias_bomb(void **state)
{
	const char *bomb =
	    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	cJSON *docs;

	(void)state;
	assert_null(parse(bomb));
	assert_non_null(strstr(err, "alias bomb"));
	assert_true(strncmp(err, "line ", 5) == 0);

	/* The first levels are harmless: 10 + 100 + 1000 values. */
	docs = parse("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n");
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(docs, 0), "c"), 9)), 10);
	cJSON_Delete(docs);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Issue 11: one 1 MiB anchored string and 1,500 aliases (a file of about
 * 1 MB) expanded to 1.5 GB, and the daemon exited on the allocation
 * failure.  The expanded size is counted while the tree is built, so the
 * stream is refused before the copies are made.
 */
static void
test_alias_bytes_bound(void **state)
{
	size_t big = 1 << 20, n_alias = 1500, i, len;
	char *text, *p;
	cJSON *docs;
	double t0;

	(void)state;
	text = xcalloc(1, big + n_alias * 8 + 64);
	p = text;
	p += sprintf(p, "s: &big ");
	memset(p, 'x', big);
	p += big;
	p += sprintf(p, "\nl:\n");
	for (i = 0; i < n_alias; i++)
		p += sprintf(p, "- *big\n");
	len = (size_t)(p - text);
	t0 = now_s();
	docs = yaml_parse_stream(text, len, err, sizeof(err));
	print_message("# 1 MiB anchor x %zu aliases: refused in %.3f s: %s\n",
	    n_alias, now_s() - t0, err);
	assert_null(docs);
	assert_non_null(strstr(err, "BOUND_YAML_EXPANDED_BYTES"));
	assert_true(strncmp(err, "line ", 5) == 0);

	/* 60 copies (60 MiB) stay within the 64 MiB bound. */
	p = text + 8 + big;
	p += sprintf(p, "\nl:\n");
	for (i = 0; i < 60; i++)
		p += sprintf(p, "- *big\n");
	docs = yaml_parse_stream(text, (size_t)(p - text), err, sizeof(err));
	if (docs == NULL)
		fail_msg("60 copies refused: %s", err);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(docs, 0), "l")), 60);
	cJSON_Delete(docs);
	free(text);
}

/*
 * Many anchors: looked up by hash, so 50,000 anchors each used once parse
 * in linear time (a linear search took seconds); past BOUND_YAML_ANCHORS
 * the stream is refused.
 */
static void
test_many_anchors(void **state)
{
	size_t n = 50000, i;
	char *text, *p;
	cJSON *docs, *d;
	double t0, dt;

	(void)state;
	text = xcalloc(1, (BOUND_YAML_ANCHORS + 2) * 40);
	p = text;
	p += sprintf(p, "a:\n");
	for (i = 0; i < n; i++)
		p += sprintf(p, "- &a%zu %zu\n", i, i);
	p += sprintf(p, "b:\n");
	for (i = 0; i < n; i++)
		p += sprintf(p, "- *a%zu\n", i);
	t0 = now_s();
	docs = yaml_parse_stream(text, (size_t)(p - text), err, sizeof(err));
	dt = now_s() - t0;
	print_message("# %zu anchors and %zu aliases: parsed in %.3f s\n", n,
	    n, dt);
	if (docs == NULL)
		fail_msg("refused: %s", err);
	d = cJSON_GetArrayItem(docs, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "b")), n);
	assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "b"),
	    12345)->valuedouble == 12345);
	cJSON_Delete(docs);
	/* Generous: the linear search took several seconds here. */
	assert_true(dt < 2.0);

	p = text;
	p += sprintf(p, "a:\n");
	for (i = 0; i < BOUND_YAML_ANCHORS + 1; i++)
		p += sprintf(p, "- &a%zu 1\n", i);
	assert_null(yaml_parse_stream(text, (size_t)(p - text), err,
	    sizeof(err)));
	assert_non_null(strstr(err, "BOUND_YAML_ANCHORS"));
	free(text);
}

static void
test_kubernetes_manifest(void **state)
{
	const cJSON *svc, *spec, *port, *slice, *ep;
	cJSON *docs;
	char *text;
	size_t len;

	(void)state;
	text = slurp(TESTDATA_DIR "/decoder/manifest.yaml", &len);
	docs = yaml_parse_stream(text, len, err, sizeof(err));
	free(text);
	if (docs == NULL)
		fail_msg("manifest.yaml: %s", err);
	/* Service, EndpointSlice, Deployment: the empty document is gone. */
	assert_int_equal(cJSON_GetArraySize(docs), 3);

	svc = cJSON_GetArrayItem(docs, 0);
	assert_string(svc, "apiVersion", "v1");
	assert_string(svc, "kind", "Service");
	assert_string(get(get(svc, "metadata"), "labels"), "tier", "frontend");
	assert_string(get(get(svc, "metadata"), "annotations"), "description",
	    "folded text over two lines\n");
	spec = get(svc, "spec");
	assert_true(cJSON_Compare(get(spec, "selector"),
	    get(get(svc, "metadata"), "labels"), 1));
	assert_string(spec, "clusterIP", "198.18.0.10");
	port = cJSON_GetArrayItem(get(spec, "ports"), 0);
	assert_number(port, "port", 80);
	assert_string(port, "targetPort", "http");
	assert_number(port, "nodePort", 30080);
	assert_number(get(get(spec, "sessionAffinityConfig"), "clientIP"),
	    "timeoutSeconds", 600);

	slice = cJSON_GetArrayItem(docs, 1);
	assert_string(get(get(slice, "metadata"), "labels"),
	    "kubernetes.io/service-name", "web");
	ep = cJSON_GetArrayItem(get(slice, "endpoints"), 0);
	assert_string_equal(cJSON_GetArrayItem(get(ep, "addresses"), 0)->
	    valuestring, "198.18.1.11");
	assert_true(cJSON_IsTrue(get(get(ep, "conditions"), "ready")));
	ep = cJSON_GetArrayItem(get(slice, "endpoints"), 2);
	assert_true(cJSON_IsFalse(get(get(ep, "conditions"), "ready")));

	assert_string(cJSON_GetArrayItem(docs, 2), "kind", "Deployment");
	cJSON_Delete(docs);
}

static void
test_sample_kubeconfig(void **state)
{
	const cJSON *d, *clusters;
	cJSON *docs;
	char *text;
	size_t len;

	(void)state;
	text = slurp(SAMPLES_DIR "/kubeconfig-client-cert-embedded.yaml", &len);
	docs = yaml_parse_stream(text, len, err, sizeof(err));
	free(text);
	if (docs == NULL)
		fail_msg("kubeconfig: %s", err);
	assert_int_equal(cJSON_GetArraySize(docs), 1);
	d = cJSON_GetArrayItem(docs, 0);
	assert_string(d, "kind", "Config");
	clusters = get(d, "clusters");
	assert_true(cJSON_IsArray(clusters));
	assert_true(cJSON_GetArraySize(clusters) >= 1);
	cJSON_Delete(docs);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_scalars),
		cmocka_unit_test(test_quoted_and_tagged),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_multi_document),
		cmocka_unit_test(test_json_is_yaml),
		cmocka_unit_test(test_anchors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_alias_bytes_bound),
		cmocka_unit_test(test_many_anchors),
		cmocka_unit_test(test_kubernetes_manifest),
		cmocka_unit_test(test_sample_kubeconfig),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
