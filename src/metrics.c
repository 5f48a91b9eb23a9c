/* metrics.c - placeholder until the module lands. */
#include "metrics.h"
