/*
 * validate.h - the value checks kube-apiserver makes on the objects a
 * service proxy reads, for sources that did not pass through it.
 *
 * Manifest files reach kube-uproxy without any API server in between, so
 * the decoder (k8s.c) checks what the API server's validation would have
 * refused: object names and namespaces (DNS-1123), port names, and
 * addresses that would make a Service capture the node's own traffic
 * (loopback, link-local, multicast, unspecified).  For the API source the
 * same checks are a second line of defence.
 *
 * Every check returns NULL when the value is valid, else a short static
 * reason ("must be no more than 63 characters") for a message that the
 * caller prefixes with the field and the object.
 */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct k8s_object;

/* RFC 1123 label: 1..63 of [a-z0-9-], alphanumeric first and last. */
const char	*validate_dns1123_label(const char *);
/* RFC 1123 subdomain: 1..253, dot-separated labels as above. */
const char	*validate_dns1123_subdomain(const char *);
/*
 * A label value (kubernetes.io/service-name): 0..63 of [A-Za-z0-9._-],
 * alphanumeric first and last.
 */
const char	*validate_label_value(const char *);
/*
 * An object's namespace ("" for the default) and name as the API server
 * admits them: a namespace and a Service name are DNS-1123 labels, an
 * EndpointSlice or Endpoints name a DNS-1123 subdomain.  Returns 0, or -1
 * with "metadata.namespace: \"...\" (520 characters) must be no more than
 * 63 characters" in err.
 */
int		 validate_names(int is_service, const char *ns, const char *name,
		    char *err, size_t err_len);
/*
 * An address no Service may capture (ValidateNonSpecialIP): unspecified,
 * loopback, link-local or multicast, also when IPv4-mapped in IPv6.
 * Returns what it is ("a loopback address"), or NULL.
 */
const char	*validate_special_ip(const union addr *);
/* The same without loopback: endpoints on 127/8 are allowed (see .c). */
const char	*validate_endpoint_ip(const union addr *);
/*
 * A Service's nodePorts and healthCheckNodePort against the node-port
 * range [lo, hi]
 * (--service-node-port-range).  Returns 0, or -1 with "spec.ports[N]
 * .nodePort: 22 is not in the node-port range 30000-32767" in err.
 */
int		 validate_node_ports(const struct k8s_object *, uint16_t lo,
		    uint16_t hi, char *err, size_t err_len);

#endif
