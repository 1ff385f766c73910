/*
 * punch: the developer's tool. Each subcommand runs the very engine punchd
 * runs (core/engine, core/lua, core/store), never a second implementation,
 * or speaks to a running punchd over HTTP.
 */
#include "cli.h"
#include "punchcard-version.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"repl", cmd_repl},         {"test", cmd_test},
    {"simulate", cmd_simulate}, {"send", cmd_send},
    {"member", cmd_member},     {"mechanics", cmd_mechanics},
    {"draw", cmd_draw},         {"leaderboard", cmd_leaderboard},
    {"import", cmd_import},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: punch COMMAND [options]\n"
               "On the engine itself (a throwaway redis-server, --redis or --redis-cluster):\n"
               "  repl [--scripts DIR]                  a Lua prompt: send events, move the clock\n"
               "  test [FILE_OR_DIR...]                 run *_test.lua specs\n"
               "  simulate --scripts DIR [--against DIR2] EVENTS.jsonl\n"
               "                                        replay a history; what it costs\n"
               "Against a running punchd (--url, $PUNCHD_URL; key in $PUNCHD_API_KEY):\n"
               "  send JSON|@FILE|-                     POST /v1/events\n"
               "  import FILE.jsonl [--batch N]         a history through POST /v1/events/batch\n"
               "                                        (resumes where it was interrupted)\n"
               "  member ID [--ledger]                  a member, or its ledger\n"
               "  mechanics                             the loaded mechanics and reload error\n"
               "  draw NAME                             a draw's pools\n"
               "  leaderboard NAME                      a leaderboard's top\n"
               "Run 'punch COMMAND --help' for a command's options; 'punch --version' prints\n"
               "the version. man punch has it all.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("punch %s (%s)\n", PUNCH_VERSION, PUNCH_GIT_DESCRIBE);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "punch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
