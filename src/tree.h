/*
 * tree.h - OpenBSD's red-black tree macros (from libbsd) made usable here.
 *
 * libbsd's RB_GENERATE_STATIC marks the generated functions with BSD's
 * `__unused`, which glibc does not define (libbsd disables it because
 * Linux headers use the name for struct members); RB_GENERATE_LOCAL is the
 * same with GCC's spelling.
 */
#ifndef TREE_H
#define TREE_H

#include <bsd/sys/tree.h>

#define RB_GENERATE_LOCAL(name, type, field, cmp)			\
	RB_GENERATE_INTERNAL(name, type, field, cmp,			\
	    __attribute__((__unused__)) static)

#endif
