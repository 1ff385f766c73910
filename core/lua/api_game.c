/*
 * The game part (issue 4: streaks, levelled badges, draws, campaigns, leaderboards, referrals) of the mechanics API (see lua-internal.h).
 */
#include "lua-internal.h"

static const luaL_Reg methods[] = {{NULL, NULL}};

void api_game_methods(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
}

void api_game_globals(lua_State *L)
{
    (void)L;
}
