/* tcp_proxy.c - placeholder until the module lands. */
#include "tcp_proxy.h"
