/*
 * json_tree.c: cJSON trees the exact way (json.h): building them from the
 * reader's tokens, exact number and NUL-safe string nodes, reading them back,
 * and printing them with the writer's pieces.
 */
#include "wire/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Integers within +-2^53 are exact as doubles; beyond, a node keeps its text. */
#define EXACT_LIMIT_INT ((int64_t)1 << 53)
#define EXACT_LIMIT     9007199254740992.0

/* A zeroed node, from cJSON's allocator (cJSON_Delete frees with it). */
static cJSON *new_node(int type)
{
    cJSON *n = cJSON_malloc(sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->type = type;
    }
    return n;
}

static char *copy_text(const char *s, size_t len)
{
    char *t = cJSON_malloc(len + 1);
    if (t) {
        memcpy(t, s, len);
        t[len] = '\0';
    }
    return t;
}

cJSON *wire_json_new_strn(const char *s, size_t len)
{
    cJSON *n = new_node(cJSON_String);
    if (!n)
        return NULL;
    if (!(n->valuestring = copy_text(s ? s : "", s ? len : 0))) {
        cJSON_free(n);
        return NULL;
    }
    if (s && memchr(s, '\0', len))
        n->valuedouble = (double)len;
    return n;
}

/* A number node for an integer: d its nearest double, `beyond` whether it lies
 * past +-2^53 (then its text is kept too). */
static cJSON *integer_node(double d, bool beyond, const char *text, size_t len)
{
    cJSON *n = cJSON_CreateNumber(d);
    if (n && beyond && !(n->valuestring = copy_text(text, len))) {
        cJSON_Delete(n);
        return NULL;
    }
    return n;
}

static bool int64_beyond(int64_t v)
{
    return v > EXACT_LIMIT_INT || v < -EXACT_LIMIT_INT;
}

cJSON *wire_json_new_int64(int64_t v)
{
    char text[WIRE_JSON_NUM_MAX];
    size_t len = wire_json_fmt_int64(text, v);
    return integer_node((double)v, int64_beyond(v), text, len);
}

cJSON *wire_json_new_uint64(uint64_t v)
{
    char text[WIRE_JSON_NUM_MAX];
    size_t len = wire_json_fmt_uint64(text, v);
    return integer_node((double)v, v > EXACT_LIMIT_INT, text, len);
}

const char *wire_json_string(const cJSON *n, size_t *len)
{
    if (!cJSON_IsString(n) || !n->valuestring)
        return NULL;
    size_t k = strlen(n->valuestring);
    if (n->valuedouble > (double)k) /* a zero byte cut strlen short */
        k = (size_t)n->valuedouble;
    *len = k;
    return n->valuestring;
}

/* The number in n: from its exact text when it has one. */
static enum wire_json_token number_of(const cJSON *n, union wire_json_num *num)
{
    if (!cJSON_IsNumber(n))
        return WIRE_JSON_ERROR;
    if (n->valuestring)
        return wire_json_number(n->valuestring, strlen(n->valuestring), num);
    num->d = n->valuedouble;
    return WIRE_JSON_DOUBLE;
}

bool wire_json_get_int64(const cJSON *n, int64_t *out)
{
    union wire_json_num num;
    switch (number_of(n, &num)) {
    case WIRE_JSON_INT:
        *out = num.i;
        return true;
    case WIRE_JSON_DOUBLE:
        /* written so that NaN fails; -2^63 and 2^63 are exact doubles */
        if (!(num.d >= -9223372036854775808.0 && num.d < 9223372036854775808.0) ||
            num.d != floor(num.d))
            return false;
        *out = (int64_t)num.d;
        return true;
    default:
        return false;
    }
}

bool wire_json_num_uint64(enum wire_json_token t, const union wire_json_num *num, uint64_t *out)
{
    switch (t) {
    case WIRE_JSON_INT:
        if (num->i < 0)
            return false;
        *out = (uint64_t)num->i;
        return true;
    case WIRE_JSON_UINT:
        *out = num->u;
        return true;
    case WIRE_JSON_DOUBLE:
        if (!(num->d >= 0 && num->d < 18446744073709551616.0) || num->d != floor(num->d))
            return false;
        *out = (uint64_t)num->d;
        return true;
    default:
        return false;
    }
}

bool wire_json_get_uint64(const cJSON *n, uint64_t *out)
{
    union wire_json_num num;
    return wire_json_num_uint64(number_of(n, &num), &num, out);
}

/* ---- reading into a tree ------------------------------------------------------------ */

/* The node for a scalar or an opening token the reader just read. */
static cJSON *token_node(const struct wire_json_reader *r, enum wire_json_token t)
{
    switch (t) {
    case WIRE_JSON_NULL:
        return cJSON_CreateNull();
    case WIRE_JSON_FALSE:
        return cJSON_CreateFalse();
    case WIRE_JSON_TRUE:
        return cJSON_CreateTrue();
    case WIRE_JSON_INT:
        return integer_node((double)r->num.i, int64_beyond(r->num.i), r->str, r->len);
    case WIRE_JSON_UINT:
        return integer_node((double)r->num.u, true, r->str, r->len);
    case WIRE_JSON_DOUBLE:
        return cJSON_CreateNumber(r->num.d);
    case WIRE_JSON_STRING:
        return wire_json_new_strn(r->str, r->len);
    case WIRE_JSON_ARRAY:
        return cJSON_CreateArray();
    default:
        return cJSON_CreateObject();
    }
}

static int no_memory(struct triton_error *err)
{
    return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading JSON");
}

static cJSON *read_failed(const struct wire_json_reader *r, cJSON *root, char *key,
                          struct triton_error *err)
{
    cJSON_Delete(root);
    cJSON_free(key);
    if (r->no_memory)
        no_memory(err);
    else
        triton_fail(err, TRITON_PROTOCOL, "%s", wire_json_error(r));
    return NULL;
}

static cJSON *read_oom(cJSON *root, char *key, struct triton_error *err)
{
    cJSON_Delete(root);
    cJSON_free(key);
    no_memory(err);
    return NULL;
}

/* The name of the member whose KEY token the reader just read, malloc'd; NULL
 * with err set. */
static char *member_key(const struct wire_json_reader *r, struct triton_error *err)
{
    if (memchr(r->str, '\0', r->len)) {
        triton_fail(err, TRITON_PROTOCOL, "object key with a zero byte (not supported) at byte %zu",
                    (size_t)(r->tok - r->start) + 1);
        return NULL;
    }
    char *key = copy_text(r->str, r->len);
    if (!key)
        no_memory(err);
    return key;
}

cJSON *wire_json_read_value(struct wire_json_reader *r, enum wire_json_token t,
                            struct triton_error *err)
{
    cJSON *open[WIRE_JSON_MAX_DEPTH]; /* the containers of this value still open */
    int n_open = 0;
    cJSON *root = NULL;
    char *key = NULL; /* the name of the member whose value comes next */
    for (;; t = wire_json_next(r)) {
        if (t == WIRE_JSON_ERROR || t == WIRE_JSON_EOF)
            return read_failed(r, root, key, err);
        if (t == WIRE_JSON_ARRAY_END || t == WIRE_JSON_OBJECT_END) {
            if (--n_open == 0)
                return root;
            continue;
        }
        if (t == WIRE_JSON_KEY) {
            if (!(key = member_key(r, err))) {
                cJSON_Delete(root);
                return NULL;
            }
            continue;
        }
        cJSON *node = token_node(r, t);
        if (!node)
            return read_oom(root, key, err);
        if (n_open == 0) {
            root = node;
        } else {
            node->string = key; /* NULL in an array */
            key = NULL;
            cJSON_AddItemToArray(open[n_open - 1], node); /* appends, for objects too */
        }
        if (t == WIRE_JSON_ARRAY || t == WIRE_JSON_OBJECT)
            open[n_open++] = node;
        else if (n_open == 0)
            return root;
    }
}

int wire_json_read_member(struct wire_json_reader *r, cJSON **object, struct triton_error *err)
{
    char *key = member_key(r, err);
    if (!key)
        return -1;
    if (!*object && !(*object = cJSON_CreateObject())) {
        cJSON_free(key);
        return no_memory(err);
    }
    cJSON *value = wire_json_read_value(r, wire_json_next(r), err);
    if (!value) {
        cJSON_free(key);
        return -1;
    }
    value->string = key;
    cJSON_AddItemToArray(*object, value); /* appends, for objects too */
    return 0;
}

cJSON *wire_json_parse(const char *text, size_t len, struct triton_error *err)
{
    struct wire_json_reader r;
    wire_json_reader_init(&r, text, len);
    cJSON *root = wire_json_read_value(&r, wire_json_next(&r), err);
    if (root && wire_json_next(&r) != WIRE_JSON_EOF)
        root = read_failed(&r, root, NULL, err);
    wire_json_reader_free(&r);
    return root;
}

/* ---- printing ----------------------------------------------------------------------- */

static int print_value(struct wire_jbuf *b, const cJSON *item, int depth);

static int print_number(struct wire_jbuf *b, const cJSON *item)
{
    if (item->valuestring) {
        wire_jbuf_puts(b, item->valuestring);
        return 0;
    }
    double d = item->valuedouble;
    if (d == floor(d) && fabs(d) <= EXACT_LIMIT) {
        wire_jbuf_int64(b, (int64_t)d);
        return 0;
    }
    return wire_jbuf_double(b, d, false);
}

static int print_string(struct wire_jbuf *b, const cJSON *item)
{
    size_t len;
    const char *s = wire_json_string(item, &len);
    wire_jbuf_string(b, s ? s : "", s ? len : 0, false);
    return 0;
}

static int print_children(struct wire_jbuf *b, const cJSON *item, int depth, bool keys)
{
    wire_jbuf_putc(b, keys ? '{' : '[');
    for (const cJSON *c = item->child; c; c = c->next) {
        if (c != item->child)
            wire_jbuf_putc(b, ',');
        if (keys) {
            const char *k = c->string ? c->string : "";
            wire_jbuf_string(b, k, strlen(k), false);
            wire_jbuf_putc(b, ':');
        }
        if (print_value(b, c, depth + 1) < 0)
            return -1;
    }
    wire_jbuf_putc(b, keys ? '}' : ']');
    return 0;
}

static int print_value(struct wire_jbuf *b, const cJSON *item, int depth)
{
    switch (item->type & 0xFF) {
    case cJSON_NULL:
        wire_jbuf_puts(b, "null");
        return 0;
    case cJSON_False:
        wire_jbuf_puts(b, "false");
        return 0;
    case cJSON_True:
        wire_jbuf_puts(b, "true");
        return 0;
    case cJSON_Number:
        return print_number(b, item);
    case cJSON_String:
        return print_string(b, item);
    case cJSON_Raw:
        wire_jbuf_puts(b, item->valuestring ? item->valuestring : "null");
        return 0;
    case cJSON_Array:
    case cJSON_Object:
        if (depth >= WIRE_JSON_MAX_DEPTH)
            return -1;
        return print_children(b, item, depth, (item->type & 0xFF) == cJSON_Object);
    default:
        return -1;
    }
}

int wire_jbuf_cjson(struct wire_jbuf *b, const cJSON *item)
{
    if (!item || print_value(b, item, 0) < 0) {
        b->failed = true;
        return -1;
    }
    return b->failed ? -1 : 0;
}

char *wire_json_print(const cJSON *item, size_t *len)
{
    struct wire_jbuf b;
    wire_jbuf_init(&b, 256, 0);
    if (wire_jbuf_cjson(&b, item) < 0) {
        wire_jbuf_free(&b);
        return NULL;
    }
    return wire_jbuf_take(&b, len);
}
