/*
 * validate.c - kube-apiserver's value checks, for manifests (see
 * validate.h).
 *
 * The rules follow k8s.io/apimachinery/pkg/util/validation (IsDNS1123Label,
 * IsDNS1123Subdomain, IsValidLabelValue) and the core/v1 and discovery/v1
 * validation of Services, Endpoints and EndpointSlices
 * (ValidateNonSpecialIP, ValidateEndpointIP, the node-port range check of
 * the service REST storage).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "k8s.h"
#include "validate.h"

#define DNS1123_LABEL_MAX	63
#define DNS1123_SUBDOMAIN_MAX	253
#define LABEL_VALUE_MAX		63

static int
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One label of s, of length len: [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static const char *
label_chars(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "must not be empty";
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return "must start and end with a lower case letter or digit";
	for (i = 1; i + 1 < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return "must consist of lower case letters, digits "
			    "and '-'";
	return NULL;
}

const char *
validate_dns1123_label(const char *s)
{
	size_t len = strlen(s);

	if (len > DNS1123_LABEL_MAX)
		return "must be no more than 63 characters";
	return label_chars(s, len);
}

const char *
validate_dns1123_subdomain(const char *s)
{
	const char *dot, *why;
	size_t len = strlen(s);

	if (len > DNS1123_SUBDOMAIN_MAX)
		return "must be no more than 253 characters";
	if (len == 0)
		return "must not be empty";
	for (;;) {
		dot = strchr(s, '.');
		if ((why = label_chars(s, dot != NULL ? (size_t)(dot - s) :
		    strlen(s))) != NULL)
			return why;
		if (dot == NULL)
			return NULL;
		s = dot + 1;
	}
}

const char *
validate_label_value(const char *s)
{
	size_t len = strlen(s), i;

	if (len > LABEL_VALUE_MAX)
		return "must be no more than 63 characters";
	if (len == 0)
		return NULL;
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return "must start and end with a letter or digit";
	for (i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' &&
		    s[i] != '.')
			return "must consist of letters, digits, '-', '_' "
			    "and '.'";
	return NULL;
}

int
validate_names(int is_service, const char *ns, const char *name, char *err,
    size_t err_len)
{
	const char *why, *field = "metadata.namespace", *v = ns;

	if (*ns == '\0' || (why = validate_dns1123_label(ns)) == NULL) {
		field = "metadata.name";
		v = name;
		why = is_service ? validate_dns1123_label(name) :
		    validate_dns1123_subdomain(name);
	}
	if (why == NULL)
		return 0;
	snprintf(err, err_len, "%s: \"%.40s%s\" (%zu characters) %s", field, v,
	    strlen(v) > 40 ? "..." : "", strlen(v), why);
	return -1;
}

static const char *
special_v4(uint32_t ip, int loopback_ok)
{
	if (ip == 0)
		return "an unspecified address";
	if ((ip >> 24) == 127)
		return loopback_ok ? NULL : "a loopback address";
	if ((ip >> 16) == 0xa9fe)		/* 169.254/16 */
		return "a link-local address";
	if ((ip >> 28) == 0xe)			/* 224/4 */
		return "a multicast address";
	return NULL;
}

static const char *
special(const union addr *a, int loopback_ok)
{
	const struct in6_addr *in6;

	if (a->sa.sa_family == AF_INET)
		return special_v4(ntohl(a->in4.sin_addr.s_addr), loopback_ok);
	if (a->sa.sa_family != AF_INET6)
		return NULL;
	in6 = &a->in6.sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(in6)) {
		uint32_t v4;

		memcpy(&v4, &in6->s6_addr[12], sizeof(v4));
		return special_v4(ntohl(v4), loopback_ok);
	}
	if (IN6_IS_ADDR_UNSPECIFIED(in6))
		return "an unspecified address";
	if (IN6_IS_ADDR_LOOPBACK(in6))
		return loopback_ok ? NULL : "a loopback address";
	if (IN6_IS_ADDR_LINKLOCAL(in6))
		return "a link-local address";
	if (IN6_IS_ADDR_MULTICAST(in6))
		return "a multicast address";
	return NULL;
}

const char *
validate_special_ip(const union addr *a)
{
	return special(a, 0);
}

/*
 * Endpoints on loopback are refused by the API server, but with manifests
 * (one node, no cluster) a backend on 127.0.0.x is the operator's own
 * choice and captures nothing: only the Service's addresses and ports
 * decide whose traffic is redirected.  Link-local (169.254.169.254 is
 * the cloud metadata server), multicast and unspecified stay refused.
 */
const char *
validate_endpoint_ip(const union addr *a)
{
	return special(a, 1);
}

int
validate_node_ports(const struct k8s_object *obj, uint16_t lo, uint16_t hi,
    char *err, size_t err_len)
{
	const struct k8s_service_port *sp;
	size_t i;

	if (obj->kind != K8S_SERVICE)
		return 0;
	for (i = 0; i < obj->svc.n_ports; i++) {
		sp = &obj->svc.ports[i];
		if (sp->node_port == 0 ||
		    (sp->node_port >= lo && sp->node_port <= hi))
			continue;
		snprintf(err, err_len, "spec.ports[%zu].nodePort: %u is not "
		    "in the node-port range %u-%u", i, sp->node_port, lo, hi);
		return -1;
	}
	/* The API server allocates it from the same range. */
	if (obj->svc.health_check_node_port != 0 &&
	    (obj->svc.health_check_node_port < lo ||
	    obj->svc.health_check_node_port > hi)) {
		snprintf(err, err_len, "spec.healthCheckNodePort: %u is not in "
		    "the node-port range %u-%u",
		    obj->svc.health_check_node_port, lo, hi);
		return -1;
	}
	return 0;
}
