/* udp_proxy.c - placeholder until the module lands. */
#include "udp_proxy.h"
