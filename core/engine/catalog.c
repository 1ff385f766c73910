/*
 * The program's catalogue and its scripts' shared history (query.h):
 * GET /v1/draws, /v1/budgets and /v1/leaderboards list every draw, budget and
 * board the loaded scripts name (mechset_named()) or the program used (the
 * store notes each name at its first use on a connection, in
 * NS:{catalog}:names), each with its live figures read through
 * the one-name queries; GET /v1/mechanics answers the holder's description
 * with the history every worker and punchd of the program share (the last
 * HISTORY_MAX loads, recorded by engine_note_load()).
 */
#include "engine-internal.h"
#include "punchcard/query.h"
#include "store/ops-internal.h"
#include "store/reads-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX    200 /* names a list shows (the first by name) */
#define HISTORY_MAX 50  /* loads of the scripts kept */

/* ---- the lists ---- */

typedef struct list_read {
    engine *e;
    engine_done_fn *done;
    void *arg;
    const char *kind; /* "draw", "budget", "board" */
    json_t *declared; /* {name: true}: the names the loaded scripts spell out (a copy) */
    json_t *used;     /* {name: true}: the names the catalogue lists (used at least once) */
    json_t *names;    /* the names to read, sorted */
    json_t *items;    /* what was read of them, in order */
    size_t next;
} list_read;

static void list_answer(list_read *q, int status, json_t *body)
{
    q->done(q->arg, status, body);
    json_decref(q->declared);
    json_decref(q->used);
    json_decref(q->names);
    json_decref(q->items);
    free(q);
}

static void list_next(list_read *q);

/* A board's members in its current period came: the row is complete. */
static void on_board_size(void *arg, const store_error *err, int64_t n)
{
    list_read *q = arg;
    json_t *row = json_array_get(q->items, json_array_size(q->items) - 1);
    json_object_set_new(row, "members", err ? json_null() : json_integer(n));
    q->next++;
    list_next(q);
}

/* The row of a budget: its newest period's figures, and what all its periods used. */
static json_t *budget_row(const char *name, int status, json_t *body)
{
    json_t *periods = json_object_get(body, "periods"), *p, *now = json_array_get(periods, 0);
    json_int_t total = 0;
    size_t i;
    json_array_foreach(periods, i, p)
        total += json_integer_value(json_object_get(p, "used"));
    if (status != 200 || !now)
        return json_pack("{s:s, s:n, s:i, s:n, s:n, s:i, s:i}", "budget", name, "period", "used", 0,
                         "max", "left", "periods", 0, "used_total", 0);
    return json_pack("{s:s, s:O, s:O, s:O, s:O, s:I, s:I}", "budget", name, "period",
                     json_object_get(now, "period"), "used", json_object_get(now, "used"), "max",
                     json_object_get(now, "max"), "left", json_object_get(now, "left"), "periods",
                     (json_int_t)json_array_size(periods), "used_total", total);
}

static void on_one(void *arg, int status, json_t *body)
{
    list_read *q = arg;
    const char *name = json_string_value(json_array_get(q->names, q->next));
    json_t *row;
    if (status >= 500) {
        list_answer(q, status, body);
        return;
    }
    if (!strcmp(q->kind, "budget")) {
        row = budget_row(name, status, body);
        json_decref(body);
    } else if (status == 200) {
        row = body;
    } else {
        /* Listed but without figures yet (a board's meta not written, say): named alone. */
        json_decref(body);
        row = json_pack("{s:s}", !strcmp(q->kind, "draw") ? "draw" : "leaderboard", name);
    }
    if (row) {
        json_object_set_new(row, "declared", json_boolean(json_object_get(q->declared, name)));
        json_object_set_new(row, "seen", json_boolean(json_object_get(q->used, name)));
    }
    if (!row || json_array_append_new(q->items, row)) {
        pc_error e;
        pc_fail(&e, 500, "internal", "out of memory");
        list_answer(q, 500, pc_error_json(&e));
        return;
    }
    if (!strcmp(q->kind, "board") && json_is_string(json_object_get(row, "period"))) {
        store_read_board_size(q->e->store, q->e->ns, name,
                              json_string_value(json_object_get(row, "period")), on_board_size, q);
        return;
    }
    q->next++;
    list_next(q);
}

static void list_next(list_read *q)
{
    const char *name = json_string_value(json_array_get(q->names, q->next));
    if (!name) {
        const char *key = !strcmp(q->kind, "draw")     ? "draws"
                          : !strcmp(q->kind, "budget") ? "budgets"
                                                       : "leaderboards";
        json_t *body = json_pack("{s:O}", key, q->items);
        if (!body) {
            pc_error e;
            pc_fail(&e, 500, "internal", "out of memory");
            list_answer(q, 500, pc_error_json(&e));
        } else {
            list_answer(q, 200, body);
        }
        return;
    }
    if (!strcmp(q->kind, "draw"))
        engine_get_draw(q->e, name, 0, on_one, q);
    else if (!strcmp(q->kind, "budget"))
        engine_get_budget(q->e, name, on_one, q);
    else
        engine_get_board(q->e, name, 3, NULL, NULL, 0, on_one, q);
}

static int cmp_json_names(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void on_catalog(void *arg, const store_error *err, const store_pairs *p)
{
    list_read *q = arg;
    size_t klen = strlen(q->kind), n = 0;
    json_t **names;
    pc_error e;
    if (err) {
        store_error_fail(err, &e);
        list_answer(q, e.status, pc_error_json(&e));
        return;
    }
    if (!(names = calloc(p->n / 2 + 1, sizeof *names))) {
        pc_fail(&e, 500, "internal", "out of memory");
        list_answer(q, 500, pc_error_json(&e));
        return;
    }
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        char name[PC_TYPE_MAX + 1];
        size_t len = p->len[i];
        if (len <= klen + 1 || len - klen - 1 > PC_TYPE_MAX || memcmp(p->v[i], q->kind, klen) ||
            p->v[i][klen] != ':')
            continue;
        memcpy(name, p->v[i] + klen + 1, len - klen - 1);
        name[len - klen - 1] = '\0';
        if (pc_valid_name(name) && !json_object_get(q->used, name)) {
            json_object_set_new(q->used, name, json_true());
            names[n++] = json_string(name);
        }
    }
    {
        const char *k;
        json_t *v;
        json_t **more = realloc(names, (n + json_object_size(q->declared) + 1) * sizeof *names);
        if (!more) {
            for (size_t i = 0; i < n; i++)
                json_decref(names[i]);
            free(names);
            pc_fail(&e, 500, "internal", "out of memory");
            list_answer(q, 500, pc_error_json(&e));
            return;
        }
        names = more;
        json_object_foreach(q->declared, k, v) {
            if (!json_object_get(q->used, k))
                names[n++] = json_string(k);
        }
    }
    qsort(names, n, sizeof *names, cmp_json_names);
    for (size_t i = 0; i < n; i++) {
        if (i < LIST_MAX)
            json_array_append(q->names, names[i]);
        json_decref(names[i]);
    }
    free(names);
    list_next(q);
}

void engine_list(engine *e, const char *kind, engine_done_fn *done, void *arg)
{
    list_read *q = calloc(1, sizeof *q);
    if (!q || !(q->names = json_array()) || !(q->items = json_array())) {
        if (q)
            json_decref(q->names);
        free(q);
        engine_answer_oom(done, arg);
        return;
    }
    q->e = e;
    q->done = done;
    q->arg = arg;
    q->kind = !strcmp(kind, "draw") ? "draw" : !strcmp(kind, "budget") ? "budget" : "board";
    {
        mechset *set = mech_holder_acquire(e->holder);
        json_t *named = set ? json_object_get(mechset_named(set), q->kind) : NULL;
        q->declared = named ? json_deep_copy(named) : json_object();
        q->used = json_object();
        mechset_unref(set);
    }
    store_read_catalog(e->store, e->ns, on_catalog, q);
}

/* ---- the scripts' history ---- */

static void on_history_added(void *arg, const store_error *err, int64_t added)
{
    engine *e = arg;
    e->load_note_busy = 0;
    if (!err) {
        json_decref(e->load_note);
        e->load_note = NULL;
    }
}

void engine_note_load(engine *e, json_t *load)
{
    char *text;
    if (load) {
        json_decref(e->load_note);
        e->load_note = load;
    }
    if (!e->load_note || e->load_note_busy)
        return;
    if (!(text = json_dumps(json_object_get(e->load_note, "entry"), JSON_COMPACT)))
        return;
    e->load_note_busy = 1;
    store_history_add(e->store, e->ns, json_string_value(json_object_get(e->load_note, "key")),
                      text, HISTORY_MAX, on_history_added, e);
    free(text);
}

typedef struct mech_read {
    engine_done_fn *done;
    void *arg;
    json_t *body;
} mech_read;

static void on_history(void *arg, const store_error *err, size_t n, const char *const *items)
{
    mech_read *q = arg;
    json_t *list = json_array();
    for (size_t i = 0; !err && list && i < n; i++) {
        json_t *entry = json_loads(items[i], 0, NULL);
        if (json_is_object(entry))
            json_array_append_new(list, entry);
        else
            json_decref(entry);
    }
    /* Redis's history when it has one; else this worker's own (in memory). */
    if (!err && json_array_size(list)) {
        json_object_set(q->body, "history", list);
        json_object_set_new(q->body, "history_shared", json_true());
    } else {
        json_object_set_new(q->body, "history_shared", json_false());
    }
    json_decref(list);
    q->done(q->arg, 200, q->body);
    free(q);
}

void engine_get_mechanics(engine *e, engine_done_fn *done, void *arg)
{
    mech_read *q = calloc(1, sizeof *q);
    json_t *body = mech_holder_describe(e->holder);
    if (!q || !body) {
        free(q);
        json_decref(body);
        engine_answer_oom(done, arg);
        return;
    }
    q->done = done;
    q->arg = arg;
    q->body = body;
    store_read_history(e->store, e->ns, HISTORY_MAX, on_history, q);
}
