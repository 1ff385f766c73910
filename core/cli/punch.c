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
               "  test [--redis ADDR] [FILE_OR_DIR...]   run *_test.lua specs\n"
               "Run 'punch COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "test"))
        return cmd_test(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "punch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
