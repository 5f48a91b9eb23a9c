/*
 * test_addr.c - address ranges: "IP/LEN" parsed with host bits cleared,
 * malformed ones refused, membership by prefix and family.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "addr.h"

static int
in(const char *ip, const char *prefix)
{
	struct addr_prefix p;
	union addr a;

	assert_int_equal(addr_parse_prefix(prefix, &p), 0);
	assert_int_equal(addr_parse(ip, 0, &a), 0);
	return addr_in_prefix(&a, &p);
}

static void
test_parse(void **state)
{
	static const char *bad[] = { "", "/8", "198.18.0.0/", "198.18.0.0/33",
	    "2001:2::/129", "198.18.0.0/-1", "198.18.0.0/8x", "198.18.0.0/0008",
	    "nonsense/8", "198.18.0.0/ 8", "198.18.0.0//8" };
	struct addr_prefix p;
	char buf[ADDR_STRLEN + 8];
	size_t i;

	(void)state;
	assert_int_equal(addr_parse_prefix("198.18.7.9/16", &p), 0);
	assert_int_equal(p.ap_len, 16);
	assert_string_equal(addr_prefix_str(&p, buf, sizeof(buf)), "198.18.0.0/16");
	assert_int_equal(addr_parse_prefix("198.19.1.255/23", &p), 0);
	assert_string_equal(addr_prefix_str(&p, buf, sizeof(buf)), "198.19.0.0/23");
	assert_int_equal(addr_parse_prefix("198.18.0.1", &p), 0);
	assert_string_equal(addr_prefix_str(&p, buf, sizeof(buf)), "198.18.0.1/32");
	assert_int_equal(addr_parse_prefix("2001:2:0:ff::1/60", &p), 0);
	assert_string_equal(addr_prefix_str(&p, buf, sizeof(buf)), "2001:2:0:f0::/60");
	assert_int_equal(addr_parse_prefix("0.0.0.0/0", &p), 0);
	assert_int_equal(p.ap_len, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(addr_parse_prefix(bad[i], &p), -1);
}

static void
test_membership(void **state)
{
	(void)state;
	assert_true(in("198.18.200.1", "198.18.0.0/16"));
	assert_false(in("198.19.0.1", "198.18.0.0/16"));
	assert_true(in("198.19.1.7", "198.19.0.0/23"));
	assert_false(in("198.19.2.7", "198.19.0.0/23"));
	assert_true(in("198.18.0.1", "198.18.0.1/32"));
	assert_false(in("198.18.0.2", "198.18.0.1/32"));
	assert_true(in("198.18.0.2", "0.0.0.0/0"));
	/* families never mix, even with /0 */
	assert_false(in("2001:2::1", "0.0.0.0/0"));
	assert_false(in("198.18.0.1", "::/0"));
	assert_true(in("2001:2:0:f3::9", "2001:2:0:f0::/60"));
	assert_false(in("2001:2:0:100::9", "2001:2:0:f0::/60"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_membership),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
