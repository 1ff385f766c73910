#!/usr/bin/python3
"""Embeds the console's files (console/*.html, *.js, *.css) in punchd and punch.

usage: console-embed.py OUT.c OUT.h FILE...
Writes OUT.h (console_asset and the table console_assets[], NULL-name terminated) and
OUT.c (every file as a byte array with its name and content type), so punchd serves the
console at /console with no file on disk and no network, and `punch simulate --html`
inlines the same code in its report. Fails on a file name that is not a plain
lower-case name with a known extension.
"""
import os
import re
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def main():
    out_c, out_h, files = sys.argv[1], sys.argv[2], sorted(sys.argv[3:], key=os.path.basename)
    with open(out_h, "w", encoding="ascii") as h:
        h.write("/* Generated from console/ by tools/console-embed.py: do not edit. */\n")
        h.write("#ifndef PUNCHCARD_CONSOLE_GEN_H\n#define PUNCHCARD_CONSOLE_GEN_H\n\n")
        h.write("#include <stddef.h>\n\n")
        h.write("/* One file of the console: its name (\"console.js\"), content type and bytes. */\n")
        h.write("typedef struct console_asset {\n    const char *name;\n    const char *type;\n")
        h.write("    const unsigned char *data;\n    size_t len;\n} console_asset;\n\n")
        h.write("/* Every file, then an entry whose name is NULL. */\n")
        h.write("extern const console_asset console_assets[];\n\n#endif\n")
    with open(out_c, "w", encoding="ascii") as c:
        c.write("/* Generated from console/ by tools/console-embed.py: do not edit. */\n")
        c.write('#include "console-gen.h"\n\n')
        names = []
        for i, path in enumerate(files):
            name = os.path.basename(path)
            ext = os.path.splitext(name)[1]
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*\.[a-z]+", name) or ext not in TYPES:
                sys.exit(f"{path}: a console file is a lower-case name ending .html, .js or .css")
            with open(path, "rb") as f:
                data = f.read()
            # punch simulate --html inlines the scripts and the style sheet in <script> and
            # <style>: nothing in them may end or comment out that element.
            low = data.lower()
            if (ext == ".js" and (b"</script" in low or b"<!--" in low)) or (ext == ".css" and b"</style" in low):
                sys.exit(f"{path}: holds </script, <!-- or </style, which cannot be inlined")
            c.write(f"/* {name} */\nstatic const unsigned char asset_{i}[] = {{\n")
            for at in range(0, len(data), 16):
                c.write("    " + ", ".join(str(b) for b in data[at:at + 16]) + ",\n")
            c.write("    0};\n\n")
            names.append((name, TYPES[ext], i, len(data)))
        c.write("const console_asset console_assets[] = {\n")
        for name, ctype, i, n in names:
            c.write(f'    {{"{name}", "{ctype}", asset_{i}, {n}}},\n')
        c.write("    {NULL, NULL, NULL, 0},\n};\n")


if __name__ == "__main__":
    main()
