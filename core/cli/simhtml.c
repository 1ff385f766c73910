/*
 * `punch simulate --html FILE`: the report as one self-contained HTML file.
 * The data is the --json report, in <script type="application/json"
 * id="punch-report">; the code that draws it is the console's own
 * (console.js, plots.js, report.js and console.css, embedded in punch by
 * tools/console-embed.py, the very files punchd serves at /console), inlined,
 * so the file opens in any browser with no server and no network, and the
 * console's Simulation view opens the same file.
 */
#include "simreport.h"
#include "console-gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const console_asset *asset(const char *name)
{
    for (const console_asset *a = console_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* text with & < > " as entities. */
static void put_escaped(FILE *f, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*text, f);
        }
    }
}

/* Inlines the console file name between open and close; -1 when punch lacks it. */
static int put_asset(FILE *f, const char *name, const char *open, const char *close)
{
    const console_asset *a = asset(name);
    if (!a)
        return -1;
    fputs(open, f);
    fwrite(a->data, 1, a->len, f);
    fputs(close, f);
    return 0;
}

int simhtml_write(const char *path, const char *title, json_t *report)
{
    /* '<' only occurs inside JSON strings: as \u003c nothing in them can end the script. */
    char *json = json_dumps(report, JSON_COMPACT), *p;
    FILE *f;
    int rc = 0;

    if (!json)
        return -1;
    if (!(f = fopen(path, "w"))) {
        free(json);
        return -1;
    }
    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>punch simulate: ",
          f);
    put_escaped(f, title);
    fputs("</title>\n", f);
    rc |= put_asset(f, "console.css", "<style>\n", "</style>\n");
    fputs("</head>\n<body>\n<script type=\"application/json\" id=\"punch-report\">", f);
    for (p = json; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else
            fputc(*p, f);
    }
    fputs("</script>\n", f);
    rc |= put_asset(f, "console.js", "<script>\n", "</script>\n");
    rc |= put_asset(f, "plots.js", "<script>\n", "</script>\n");
    rc |= put_asset(f, "report.js", "<script>\n", "</script>\n");
    fputs("</body>\n</html>\n", f);
    free(json);
    if (ferror(f))
        rc = -1;
    if (fclose(f))
        rc = -1;
    return rc;
}
