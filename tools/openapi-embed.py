#!/usr/bin/python3
"""Turns docs/openapi.yaml into JSON for punchd to serve at GET /v1/openapi.json.

usage: openapi-embed.py openapi.yaml out.c out.json
Writes out.json (the description as compact JSON, for the tests and tools) and out.c
(that JSON as a byte array, punchd_openapi_json, with its length). Fails on YAML that
does not load or on a document that is not OpenAPI 3.1.
"""
import json
import sys

import yaml


def main():
    src, out_c, out_json = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        sys.exit(f"{src}: not an OpenAPI 3.1 document")
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    with open(out_json, "wb") as f:
        f.write(text + b"\n")
    with open(out_c, "w", encoding="ascii") as f:
        f.write("/* Generated from docs/openapi.yaml by tools/openapi-embed.py. */\n")
        f.write("#include <stddef.h>\n")
        f.write("const char punchd_openapi_json[] = {\n")
        for i in range(0, len(text), 16):
            f.write("    " + ", ".join(str(b) for b in text[i:i + 16]) + ",\n")
        f.write("    0};\n")
        f.write(f"const size_t punchd_openapi_json_len = {len(text)};\n")


if __name__ == "__main__":
    main()
