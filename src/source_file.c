/* source_file.c - placeholder until the module lands. */
#include "source_file.h"
