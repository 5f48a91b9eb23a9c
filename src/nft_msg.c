/*
 * nft_msg.c - nf_tables netlink messages for our table (see nft_msg.h).
 *
 * libnftnl builds and parses the payloads, libmnl carries them.  A batch
 * is one buffer of messages between NFNL_MSG_BATCH_BEGIN and _END, sent
 * in one sendto(): the kernel runs the whole batch as one transaction
 * before sendto() returns, so every answer is already queued on the
 * socket and is read without waiting.  Every message asks for an ack, so
 * success is "one ack per message, no error", never a guess.
 *
 * Each builder has the `nft` line it is equivalent to written above it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "log.h"
#include "nft_msg.h"
#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

/* Elements per NEWSETELEM message: well under 64 KiB each. */
#define ELEMS_PER_MSG		128
#define ELEM_BYTES_MAX		(NFT_KEY_MAX + NFT_DATA_MAX + 256 + 64)
#define MSG_HEADROOM		8192
#define RECV_BUF		32768	/* one read of answers; a dump takes more */

struct nft_sock {
	struct mnl_socket	*nl;
	uint32_t		 portid;
	uint32_t		 seq;
	int			 sndbuf;
};

struct nft_batch {
	char		*buf;
	size_t		 len, cap;
	uint32_t	 seq;		/* of the next message */
	size_t		 nmsg;		/* acked messages, begin/end excluded */
	uint32_t	 set_id;	/* anonymous sets of this batch */
};


/* --- the socket ------------------------------------------------------------ */

struct nft_sock *
nft_sock_open(char *err, size_t errlen)
{
	struct nft_sock *s = xcalloc(1, sizeof(*s));
	int one = 1;

	if ((s->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "netfilter netlink socket: %s",
		    strerror(errno));
		nft_sock_close(s);
		return NULL;
	}
	/* Acks carry only the header of the acked message, not all of it. */
	(void)mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	return s;
}

void
nft_sock_close(struct nft_sock *s)
{
	if (s == NULL)
		return;
	if (s->nl != NULL)
		mnl_socket_close(s->nl);
	free(s);
}

int
nft_sock_talk(struct nft_sock *s, struct nlmsghdr *nlh, nft_mnl_cb *cb,
    void *arg)
{
	char buf[RECV_BUF];
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		if ((n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf))) <= 0)
			return -1;
		rc = mnl_cb_run(buf, (size_t)n, seq, s->portid, cb, arg);
	} while (rc > 0);
	return rc < 0 ? -1 : 0;
}

static int
gen_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();

	if (gen == NULL)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, gen) == 0)
		*(uint32_t *)arg = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

int
nft_sock_genid(struct nft_sock *s, uint32_t *genid)
{
	char buf[256];
	struct nlmsghdr *nlh;

	/* nft list ruleset's first question: which generation is this? */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
	    ++s->seq);
	return nft_sock_talk(s, nlh, gen_cb, genid);
}

uint32_t
nft_sock_seq(struct nft_sock *s)
{
	return ++s->seq;
}

/* --- batches ---------------------------------------------------------------- */

struct nft_batch *
nft_batch_new(void)
{
	return xcalloc(1, sizeof(struct nft_batch));
}

void
nft_batch_free(struct nft_batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b);
}

/* Room for `need` more bytes; the buffer may move, so call it first. */
static void
reserve(struct nft_batch *b, size_t need)
{
	if (b->len + need <= b->cap)
		return;
	while (b->cap < b->len + need)
		b->cap = b->cap ? b->cap * 2 : 65536;
	b->buf = xreallocarray(b->buf, 1, b->cap);
}

struct nlmsghdr *
nft_batch_msg(struct nft_batch *b, uint16_t type, int family, uint16_t flags,
    size_t room)
{
	reserve(b, room + MSG_HEADROOM);
	b->nmsg++;
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, nft_nfproto(family),
	    flags | NLM_F_ACK, b->seq++);
}

void
nft_batch_msg_end(struct nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void
nft_batch_begin(struct nft_batch *b, struct nft_sock *s, uint32_t genid)
{
	struct nlmsghdr *nlh;

	b->len = 0;
	b->nmsg = 0;
	b->set_id = 0;
	b->seq = s->seq + 1;
	reserve(b, MSG_HEADROOM);
	nlh = nftnl_batch_begin(b->buf, b->seq++);
	if (genid != 0)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

size_t
nft_batch_count(const struct nft_batch *b)
{
	return b->nmsg;
}


uint32_t
nft_batch_set_id(struct nft_batch *b)
{
	return ++b->set_id;
}

/* An nftnl_set naming one of our maps, for element messages. */
static struct nftnl_set *
map_ref(enum nft_map m)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s == NULL)
		fatalx("out of memory");
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, nft_map_name(m));
	return s;
}

/*
 * add element ip kube-uproxy portals { 198.19.0.10 . tcp . 80 comment "default/web:http" : 40123 }
 * delete element ip kube-uproxy portals { 198.19.0.10 . tcp . 80 }
 */
void
nft_batch_elems(struct nft_batch *b, int family, enum nft_map m, int del,
    const uint8_t *const *keys, const uint8_t *const *data,
    const char *const *comments, size_t n)
{
	size_t klen = nft_key_len(family, m), dlen = nft_data_len(family, m);
	size_t i, j, clen;
	struct nftnl_set *s;
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	char ud[NFT_COMMENT_MAX + 3];

	for (i = 0; i < n; i += ELEMS_PER_MSG) {
		s = map_ref(m);
		for (j = i; j < n && j < i + ELEMS_PER_MSG; j++) {
			if ((e = nftnl_set_elem_alloc()) == NULL)
				fatalx("out of memory");
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys[j], klen);
			if (m == NFT_SET_FIREWALL_ALLOW)
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END,
				    data[j], dlen);
			else if (!del && dlen > 0) {
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA,
				    data[j], dlen);
			}
			if (!del && comments[j] != NULL) {
				/* One udata TLV: type, length, text and NUL. */
				clen = strnlen(comments[j], NFT_COMMENT_MAX);
				ud[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
				ud[1] = (char)(clen + 1);
				memcpy(ud + 2, comments[j], clen);
				ud[2 + clen] = '\0';
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA,
				    ud, clen + 3);
			}
			nftnl_set_elem_add(s, e);
		}
		nlh = nft_batch_msg(b, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
		    family, del ? 0 : NLM_F_CREATE | NLM_F_EXCL,
		    ELEMS_PER_MSG * ELEM_BYTES_MAX);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nft_batch_msg_end(b, nlh);
		nftnl_set_free(s);
	}
}

static const char *
msg_name(int type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:		return "add table";
	case NFT_MSG_DELTABLE:		return "delete table";
	case NFT_MSG_NEWCHAIN:		return "add chain";
	case NFT_MSG_NEWSET:		return "add map or set";
	case NFT_MSG_NEWRULE:		return "add rule";
	case NFT_MSG_NEWSETELEM:	return "add element";
	case NFT_MSG_DELSETELEM:	return "delete element";
	default:			return "a message";
	}
}

/* A batch bigger than the socket's send buffer needs a bigger buffer. */
static void
grow_sndbuf(struct nft_sock *s, size_t len)
{
	int fd = mnl_socket_get_fd(s->nl), size;

	if (len + 4096 <= (size_t)s->sndbuf)
		return;
	size = (int)(len + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	s->sndbuf = size;
}

int
nft_batch_commit(struct nft_batch *b, struct nft_sock *s, char *err,
    size_t errlen)
{
	char buf[RECV_BUF];
	struct nlmsghdr *nlh;
	struct nlmsgerr *ne;
	size_t acks = 0;
	ssize_t n;
	int fd = mnl_socket_get_fd(s->nl), error = 0, bad_type = -1;

	reserve(b, MSG_HEADROOM);
	nlh = nftnl_batch_end(b->buf + b->len, b->seq++);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	s->seq = b->seq;
	grow_sndbuf(s, b->len);
	if (mnl_socket_sendto(s->nl, b->buf, b->len) < 0) {
		snprintf(err, errlen, "sending %zu bytes: %s", b->len,
		    strerror(errno));
		return -1;
	}
	/* The transaction is over: its answers are waiting. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		int left = (int)n;

		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		    nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			ne = mnl_nlmsg_get_payload(nlh);
			if (ne->error == 0)
				acks++;
			else if (error == 0) {
				error = -ne->error;
				bad_type = NFNL_MSG_TYPE(ne->msg.nlmsg_type);
			}
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && error == 0)
		error = errno;
	if (error == 0 && acks != b->nmsg)
		error = EPROTO;
	if (error != 0) {
		snprintf(err, errlen, "transaction of %zu messages refused%s%s: "
		    "%s", b->nmsg, bad_type >= 0 ? " at " : "",
		    bad_type >= 0 ? msg_name(bad_type) : "", error == ERESTART ?
		    "the ruleset changed meanwhile" : strerror(error));
		errno = error;
		return -1;
	}
	return 0;
}

struct elem_dump {
	int		 family;
	enum nft_map	 map;
	nft_elem_cb	*cb;
	void		*arg;
	int		 rc;
};

static int
elem_comment_cb(const struct nftnl_udata *attr, void *arg)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT)
		*(const char **)arg = nftnl_udata_get(attr);
	return 0;
}

static int
elems_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct elem_dump *d = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const uint8_t *key, *data;
	const char *comment;
	const void *ud;
	uint32_t klen, dlen, udlen;

	if (s == NULL || nftnl_set_elems_nlmsg_parse(nlh, s) == -1 ||
	    (it = nftnl_set_elems_iter_create(s)) == NULL) {
		nftnl_set_free(s);
		return MNL_CB_ERROR;
	}
	while (d->rc == 0 && (e = nftnl_set_elems_iter_next(it)) != NULL) {
		key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		data = nftnl_set_elem_get(e, d->map == NFT_SET_FIREWALL_ALLOW ?
		    NFTNL_SET_ELEM_KEY_END : NFTNL_SET_ELEM_DATA, &dlen);
		ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &udlen);
		comment = NULL;
		if (ud != NULL) {
			nftnl_udata_parse(ud, udlen, elem_comment_cb, &comment);
			if (comment != NULL && memchr(comment, '\0', udlen) == NULL)
				comment = NULL;
		}
		if (key == NULL)
			klen = 0;
		if (data == NULL)
			dlen = 0;
		d->rc = d->cb(d->arg, d->map, key, klen, data, dlen, comment);
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

int
nft_dump_elems(struct nft_sock *s, int family, enum nft_map m,
    nft_elem_cb *cb, void *arg)
{
	char buf[1024];
	struct nftnl_set *set = map_ref(m);
	struct elem_dump d = { family, m, cb, arg, 0 };
	struct nlmsghdr *nlh;
	int rc;

	/* nft list map ip kube-uproxy portals */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nft_nfproto(family),
	    NLM_F_DUMP, nft_sock_seq(s));
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	rc = nft_sock_talk(s, nlh, elems_cb, &d);
	if (rc == -1)
		return -1;
	return d.rc;
}

