/*
 * The server-side scripts the engine runs (core/store/scripts.c).
 */
#ifndef PUNCHCARD_STORE_SCRIPTS_H
#define PUNCHCARD_STORE_SCRIPTS_H

#include "store-internal.h"

extern store_script store_script_load;
extern store_script store_script_commit;

#endif
