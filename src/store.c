/* store.c - placeholder until the module lands. */
#include "store.h"
