/* k8s.c - placeholder until the module lands. */
#include "k8s.h"
