/*
 * Private to core/lua/api_game.c and api_campaign.c: the option helpers of
 * the game calls. Each raises a Lua error on bad input.
 */
#ifndef PUNCHCARD_API_GAME_INTERNAL_H
#define PUNCHCARD_API_GAME_INTERNAL_H

#include "lua-internal.h"

/* Refuses keys of the options table at idx not in allowed (NULL-terminated). */
void api_opt_check(lua_State *L, int idx, const char *what, const char *const *allowed);

/* Pushes options[name] and returns its type; pushes nothing when there is no table. */
int api_opt_type(lua_State *L, int idx, const char *name);

/* A string option (valid while the options table lives), or def. */
const char *api_opt_str(lua_State *L, int idx, const char *name, const char *def);

/* The option tz, checked to be a known time zone; "UTC" by default. */
const char *api_opt_tz(lua_State *L, int idx);

/* Records outcome o (stolen) for the running mechanic. */
void api_game_outcome(lua_State *L, mech_run *run, json_t *o);

#endif
