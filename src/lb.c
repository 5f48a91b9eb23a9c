/* lb.c - placeholder until the module lands. */
#include "lb.h"
