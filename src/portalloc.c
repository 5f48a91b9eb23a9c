/* portalloc.c - placeholder until the module lands. */
#include "portalloc.h"
