/*
 * nft_int.h - what nft.c and nft_elem.c share: a map element, the hash
 * tables of them, and how a planned rule becomes elements.
 */
#ifndef NFT_INT_H
#define NFT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nft.h"
#include "nft_msg.h"
#include "rules.h"

/* One element of one map; a slot of an open-addressing hash table. */
struct elem {
	uint32_t	 e_gen;		/* == table's t_gen: slot in use */
	uint32_t	 e_hash;	/* of e_map and e_key (nft_elem_hash) */
	uint32_t	 e_mark;	/* the apply that last wanted it */
	const char	*e_claim;	/* the comment of the rule that
					   claimed it in that apply */
	uint8_t		 e_map;		/* enum nft_map */
	uint8_t		 e_key[NFT_KEY_MAX] __attribute__((aligned(4)));
	uint8_t		 e_data[NFT_DATA_MAX];
	char		*e_comment;
};

struct elem_table {
	struct elem	*t_slots;
	size_t		 t_cap;		/* power of two, or 0 */
	size_t		 t_n;
	uint32_t	 t_gen;		/* bumping it empties the table */
};

/* The hash of e's map and key, for e_hash. */
uint32_t	 nft_elem_hash(const struct elem *);
/* Equal strings, NULL equal only to NULL. */
int		 nft_same_str(const char *, const char *);
/* The same data and comment (an element's value as nft lists it). */
int		 nft_same_value(const struct elem *, const struct elem *);

/*
 * The slot of t holding e's key (e_gen == t_gen), or the empty one it
 * would take.  t must have room (t_cap > t_n, nft_table_grow).
 */
struct elem	*nft_table_slot(const struct elem_table *, const struct elem *);
/* The element of t with e's key, or NULL. */
const struct elem *nft_table_find(const struct elem_table *,
		    const struct elem *);
/* Empty t, with room for `want` elements (comments are not freed). */
void		 nft_table_reset(struct elem_table *, size_t want);
/* Room for one more element: the load stays under one half. */
void		 nft_table_grow(struct elem_table *);
/* Insert or overwrite e (its comment pointer is copied as it is). */
void		 nft_table_insert(struct elem_table *, const struct elem *);
/* Take the element in slot s out of t; every other key stays findable. */
void		 nft_table_remove(struct elem_table *, struct elem *);
/* Free the comments of t's elements (a table that owns them). */
void		 nft_table_free_comments(struct elem_table *);

/*
 * The elements rule r stands for, into e[0..2): its portal element, and
 * its firewall-allow element when it has a source range.  Returns how
 * many (0: a rule without elements).
 */
int		 nft_rule_elems(const struct rule *, struct elem e[2]);
/* A HOST rule, whose CONTAINER twin gives the same element. */
int		 nft_rule_is_twin(const struct rule *);

#endif
