/*
 * The money part (issue 3: currencies with lots, expiry, pending earn, tiers) of the mechanics API (see lua-internal.h).
 */
#include "lua-internal.h"

static const luaL_Reg methods[] = {{NULL, NULL}};

void api_money_methods(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
}

void api_money_globals(lua_State *L)
{
    (void)L;
}
