/* admin.c - placeholder until the module lands. */
#include "admin.h"
