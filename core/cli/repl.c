#include "cli.h"
int cmd_repl(int argc, char **argv)
{
    return 2;
}
