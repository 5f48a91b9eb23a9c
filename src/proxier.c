/* proxier.c - placeholder until the module lands. */
#include "proxier.h"
