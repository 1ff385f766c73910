/*
 * What the two halves of the fast JSON reader share: jsonr.c (jansson values, members) and
 * jsondoc.c (pc_jdoc blocks). Not for other files: they use jsonr.h.
 */
#ifndef PUNCHCARD_JSONR_INTERNAL_H
#define PUNCHCARD_JSONR_INTERNAL_H

#include "common/jsonr.h"

#define JSONR_MAX_DEPTH 2048

typedef struct reader {
    const char *start, *p, *end;
    pc_json_error *err;
    int failed;
} reader;

/* Records the first error, with the line and column of r->p. */
void jr_fail(reader *r, const char *what);

static inline void jr_skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/*
 * The string at r->p (its opening quote): its bytes in *out (malloc'd when it had
 * escapes, *owned then set; else a pointer into the text) and length. 0 or -1.
 */
int jr_read_string(reader *r, const char **out, size_t *len, char **owned);

/* A number's value: an integer (*real 0, *i) or a real (*real 1, *d). 0 or -1. */
int jr_scan_number(reader *r, int *real, json_int_t *i, double *d);

/* The literal word (n bytes) at r->p. 0 or -1. */
int jr_literal(reader *r, const char *word, size_t n);

/* The object or array at r->p (at depth, counted as jsonr's reader does) as one block, or NULL. */
pc_jdoc *jr_doc_read(reader *r, int depth);

#endif
