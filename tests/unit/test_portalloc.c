/*
 * test_portalloc.c - proxy port allocation: kernel-chosen mode, range
 * exhaustion, put/get, ignored puts, the random search start, and the
 * quarantine of ports whose rules may still be in the kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "portalloc.h"

static void
test_kernel_chosen(void **state)
{
	struct portalloc *pa = portalloc_new(0, 0);
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(portalloc_get(pa), 0);
	portalloc_put(pa, 0);
	portalloc_put(pa, 40000);
	assert_int_equal(portalloc_get(pa), 0);
	portalloc_free(pa);

	/* lo == 0 means kernel-chosen whatever hi says. */
	pa = portalloc_new(0, 100);
	assert_int_equal(portalloc_get(pa), 0);
	portalloc_free(pa);
}

static void
test_exhaustion(void **state)
{
	struct portalloc *pa = portalloc_new(40000, 40099);
	char seen[100];
	int i, p;

	(void)state;
	memset(seen, 0, sizeof(seen));
	assert_int_equal(portalloc_free_count(pa), 100);
	for (i = 0; i < 100; i++) {
		p = portalloc_get(pa);
		assert_in_range(p, 40000, 40099);
		assert_int_equal(seen[p - 40000], 0);
		seen[p - 40000] = 1;
		assert_int_equal(portalloc_free_count(pa), 99 - i);
	}
	assert_int_equal(portalloc_get(pa), -1);
	assert_int_equal(portalloc_get(pa), -1);
	assert_int_equal(portalloc_free_count(pa), 0);

	/* One back, that one out again, then exhausted again. */
	portalloc_put(pa, 40042);
	assert_int_equal(portalloc_free_count(pa), 1);
	assert_int_equal(portalloc_get(pa), 40042);
	assert_int_equal(portalloc_get(pa), -1);
	portalloc_free(pa);
}

static void
test_put_get(void **state)
{
	struct portalloc *pa = portalloc_new(50000, 50009);
	int ports[10], i;

	(void)state;
	for (i = 0; i < 10; i++)
		ports[i] = portalloc_get(pa);
	for (i = 0; i < 10; i += 2)
		portalloc_put(pa, (uint16_t)ports[i]);
	assert_int_equal(portalloc_free_count(pa), 5);
	/* A double put does not count twice. */
	portalloc_put(pa, (uint16_t)ports[0]);
	assert_int_equal(portalloc_free_count(pa), 5);
	for (i = 0; i < 5; i++) {
		int p = portalloc_get(pa), j, found = 0;

		for (j = 0; j < 10; j += 2)
			found |= p == ports[j];
		assert_true(found);
	}
	assert_int_equal(portalloc_get(pa), -1);
	portalloc_free(pa);
}

static void
test_out_of_range_put(void **state)
{
	struct portalloc *pa = portalloc_new(30000, 30001);

	(void)state;
	assert_int_not_equal(portalloc_get(pa), -1);
	assert_int_not_equal(portalloc_get(pa), -1);
	portalloc_put(pa, 0);
	portalloc_put(pa, 29999);
	portalloc_put(pa, 30002);
	portalloc_put(pa, 65535);
	assert_int_equal(portalloc_free_count(pa), 0);
	assert_int_equal(portalloc_get(pa), -1);
	portalloc_free(pa);
}

static void
test_single_port_and_edges(void **state)
{
	struct portalloc *pa = portalloc_new(65535, 65535);

	(void)state;
	assert_int_equal(portalloc_free_count(pa), 1);
	assert_int_equal(portalloc_get(pa), 65535);
	assert_int_equal(portalloc_get(pa), -1);
	portalloc_put(pa, 65535);
	assert_int_equal(portalloc_get(pa), 65535);
	portalloc_free(pa);

	/* The whole port space. */
	pa = portalloc_new(1, 65535);
	assert_int_equal(portalloc_free_count(pa), 65535);
	portalloc_free(pa);
}

static void
test_random_start(void **state)
{
	int first[20], i, distinct = 0, j, dup;

	(void)state;
	/* Fresh allocators over 1000 ports: the first port varies. */
	for (i = 0; i < 20; i++) {
		struct portalloc *pa = portalloc_new(20000, 20999);

		first[i] = portalloc_get(pa);
		portalloc_free(pa);
	}
	for (i = 0; i < 20; i++) {
		for (dup = 0, j = 0; j < i; j++)
			dup |= first[j] == first[i];
		distinct += !dup;
	}
	assert_true(distinct >= 5);
}

/*
 * Issue 11 point 5: a port freed by one service port is not handed to
 * another until the rules that pointed at it are gone (the release after
 * a successful commit), and a put cannot cut the quarantine short.
 */
static void
test_quarantine(void **state)
{
	struct portalloc *pa = portalloc_new(40000, 40001);
	int a, b;

	(void)state;
	a = portalloc_get(pa);
	b = portalloc_get(pa);
	assert_int_equal(portalloc_get(pa), -1);
	assert_int_equal(portalloc_quarantine_count(pa), 0);
	assert_false(portalloc_is_quarantined(pa, (uint16_t)a));

	/* A's socket closes; its rule may still be in the kernel. */
	portalloc_quarantine(pa, (uint16_t)a);
	assert_true(portalloc_is_quarantined(pa, (uint16_t)a));
	assert_false(portalloc_is_quarantined(pa, (uint16_t)b));
	assert_int_equal(portalloc_quarantine_count(pa), 1);
	assert_int_equal(portalloc_free_count(pa), 0);
	assert_int_equal(portalloc_get(pa), -1);	/* B must wait */
	/* Twice is once; a put does not free it early. */
	portalloc_quarantine(pa, (uint16_t)a);
	assert_int_equal(portalloc_quarantine_count(pa), 1);
	portalloc_put(pa, (uint16_t)a);
	assert_int_equal(portalloc_get(pa), -1);

	/* The commit went through: the port is free again, once. */
	assert_int_equal(portalloc_release(pa), 1);
	assert_false(portalloc_is_quarantined(pa, (uint16_t)a));
	assert_int_equal(portalloc_quarantine_count(pa), 0);
	assert_int_equal(portalloc_free_count(pa), 1);
	assert_int_equal(portalloc_get(pa), a);
	assert_int_equal(portalloc_get(pa), -1);
	assert_int_equal(portalloc_release(pa), 0);

	/* Both out, both quarantined, one release frees both. */
	portalloc_quarantine(pa, (uint16_t)a);
	portalloc_quarantine(pa, (uint16_t)b);
	assert_int_equal(portalloc_get(pa), -1);
	assert_int_equal(portalloc_release(pa), 2);
	assert_int_equal(portalloc_free_count(pa), 2);
	portalloc_free(pa);
}

/* Kernel-chosen ports: only remembered, so the caller can bind again. */
static void
test_quarantine_kernel_chosen(void **state)
{
	struct portalloc *pa = portalloc_new(0, 0);

	(void)state;
	assert_false(portalloc_is_quarantined(pa, 41234));
	portalloc_quarantine(pa, 41234);
	portalloc_quarantine(pa, 65535);
	portalloc_quarantine(pa, 0);			/* ignored */
	assert_true(portalloc_is_quarantined(pa, 41234));
	assert_true(portalloc_is_quarantined(pa, 65535));
	assert_false(portalloc_is_quarantined(pa, 41235));
	assert_int_equal(portalloc_get(pa), 0);
	assert_int_equal(portalloc_release(pa), 2);
	assert_false(portalloc_is_quarantined(pa, 41234));
	assert_false(portalloc_is_quarantined(pa, 65535));
	portalloc_free(pa);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_chosen),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_out_of_range_put),
		cmocka_unit_test(test_single_port_and_edges),
		cmocka_unit_test(test_random_start),
		cmocka_unit_test(test_quarantine),
		cmocka_unit_test(test_quarantine_kernel_chosen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
