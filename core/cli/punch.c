/*
 * punch: the developer's tool. Each subcommand runs the very engine punchd
 * runs (core/engine, core/lua, core/store), never a second implementation.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: punch COMMAND [options]\n"
               "  repl [--scripts DIR] [--redis ADDR]         a Lua prompt on the engine\n"
               "  test [--redis ADDR] [FILE_OR_DIR...]        run *_test.lua specs\n"
               "  simulate --scripts DIR [--against DIR2] EVENTS.jsonl\n"
               "                                              replay events, report, compare\n"
               "  send [--url URL] JSON|@FILE|-               POST /v1/events to a punchd\n"
               "  member [--url URL] ID [--ledger]            GET a member (or its ledger)\n"
               "  mechanics [--url URL]                       GET /v1/mechanics\n"
               "Run 'punch COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {{"repl", cmd_repl}, {"test", cmd_test},     {"simulate", cmd_simulate},
                    {"send", cmd_send}, {"member", cmd_member}, {"mechanics", cmd_mechanics}};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "punch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
