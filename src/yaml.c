/* yaml.c - placeholder until the module lands. */
#include "yaml.h"
