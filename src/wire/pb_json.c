/*
 * pb_json.c: see pb_json.h.
 */
#include "wire/pb_json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/grpc_service.pb-c.h"
#include "wire/json.h"

/* Deeper than any message in our protos; a bound for hostile or recursive input. */
#define PB_JSON_MAX_DEPTH 64

static cJSON *message_to_json(const ProtobufCMessage *msg, bool emit_defaults, int depth,
                              struct triton_error *err);

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t len = strlen(d->name);
    return d->n_fields == 2 && len > 5 && strcmp(d->name + len - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

/* A float or double field's value: a number, or for NaN and the infinities the
 * strings protobuf's JSON mapping gives them ("NaN", "Infinity", "-Infinity"),
 * since JSON has no such numbers and the tree must print. */
static cJSON *floating_to_json(double v)
{
    if (isnan(v))
        return cJSON_CreateString("NaN");
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
    return cJSON_CreateNumber(v);
}

/* One value of a field (an element, for repeated fields) at p. */
static cJSON *value_to_json(const ProtobufCFieldDescriptor *f, const void *p, bool emit_defaults,
                            int depth, struct triton_error *err)
{
    cJSON *v = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        v = cJSON_CreateNumber(*(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        v = cJSON_CreateNumber(*(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        v = wire_json_new_int64(*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        v = wire_json_new_uint64(*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        v = floating_to_json(wire_json_float_value(*(const float *)p));
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        v = floating_to_json(*(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        v = cJSON_CreateBool(*(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = *(const int *)p;
        const ProtobufCEnumValue *ev =
            f->descriptor ? protobuf_c_enum_descriptor_get_value(f->descriptor, e) : NULL;
        v = ev ? cJSON_CreateString(ev->name) : cJSON_CreateNumber(e);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        v = cJSON_CreateString(s ? s : "");
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *text = wire_base64(b->data, b->len, NULL);
        if (text) {
            v = cJSON_CreateString(text);
            free(text);
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (!m)
            return cJSON_CreateObject();
        return message_to_json(m, emit_defaults, depth + 1, err);
    }
    default:
        triton_fail(err, TRITON_INTERNAL, "field %s has unknown protobuf-c type %d", f->name,
                    (int)f->type);
        return NULL;
    }
    if (!v)
        triton_fail(err, TRITON_NO_MEMORY, "out of memory converting field %s", f->name);
    return v;
}

static size_t field_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* Whether a singular proto3 scalar holds its default (and is so omitted unless
 * emit_defaults). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    default: {
        size_t n = field_elem_size(f);
        static const unsigned char zeros[8];
        return n <= sizeof zeros && memcmp(p, zeros, n) == 0;
    }
    }
}

/* A map's integer key as text, exactly (protobuf's JSON form of map keys). */
static void map_key(const ProtobufCFieldDescriptor *kf, const void *p, char *buf)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        wire_json_fmt_int64(buf, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        wire_json_fmt_uint64(buf, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        wire_json_fmt_uint64(buf, *(const uint64_t *)p);
        break;
    default: /* the 64-bit signed kinds: protobuf allows no other key types */
        wire_json_fmt_int64(buf, *(const int64_t *)p);
    }
}

/* A map field: its entries as an object keyed by the entry's key. */
static cJSON *map_to_json(const ProtobufCFieldDescriptor *f, size_t n,
                          ProtobufCMessage *const *entries, bool emit_defaults, int depth,
                          struct triton_error *err)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const char *base = (const char *)entries[i];
        char keybuf[WIRE_JSON_NUM_MAX];
        const char *key = keybuf;
        if (kf->type == PROTOBUF_C_TYPE_STRING) {
            key = *(char *const *)(base + kf->offset);
            if (!key)
                key = "";
        } else if (kf->type == PROTOBUF_C_TYPE_BOOL) {
            key = *(const protobuf_c_boolean *)(base + kf->offset) ? "true" : "false";
        } else {
            map_key(kf, base + kf->offset, keybuf);
        }
        cJSON *v = value_to_json(vf, base + vf->offset, emit_defaults, depth, err);
        if (!v) {
            cJSON_Delete(obj);
            return NULL;
        }
        /* Later duplicates win, as protobuf's map parsing keeps the last one. */
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        if (!cJSON_AddItemToObject(obj, key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            goto oom;
        }
    }
    return obj;
oom:
    triton_fail(err, TRITON_NO_MEMORY, "out of memory converting map %s", f->name);
    return NULL;
}

static cJSON *field_to_json(const ProtobufCFieldDescriptor *f, const char *base, bool emit_defaults,
                            int depth, struct triton_error *err)
{
    const void *p = base + f->offset;
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return value_to_json(f, p, emit_defaults, depth, err);
    size_t n = *(const size_t *)(base + f->quantifier_offset);
    const char *elems = *(char *const *)p;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
        return map_to_json(f, n, (ProtobufCMessage *const *)elems, emit_defaults, depth, err);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory converting field %s", f->name);
        return NULL;
    }
    size_t esize = field_elem_size(f);
    for (size_t i = 0; i < n; i++) {
        cJSON *v = value_to_json(f, elems + i * esize, emit_defaults, depth, err);
        if (!v || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *message_to_json(const ProtobufCMessage *msg, bool emit_defaults, int depth,
                              struct triton_error *err)
{
    if (depth > PB_JSON_MAX_DEPTH) {
        triton_fail(err, TRITON_PROTOCOL, "message nested deeper than %d levels",
                    PB_JSON_MAX_DEPTH);
        return NULL;
    }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory converting %s", d->name);
        return NULL;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!emit_defaults && *(const size_t *)(base + f->quantifier_offset) == 0)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            /* proto2-style has_ flag (not used by our proto3 files). */
            if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
                continue;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (*(ProtobufCMessage *const *)(base + f->offset) == NULL)
                continue;
        } else if (!emit_defaults && is_default(f, base + f->offset)) {
            continue;
        }
        cJSON *v = field_to_json(f, base, emit_defaults, depth, err);
        if (!v) {
            cJSON_Delete(obj);
            return NULL;
        }
        if (!cJSON_AddItemToObject(obj, f->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            triton_fail(err, TRITON_NO_MEMORY, "out of memory converting %s", d->name);
            return NULL;
        }
    }
    return obj;
}

cJSON *pb_json_from_message(const ProtobufCMessage *msg, bool emit_defaults,
                            struct triton_error *err)
{
    if (!msg) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "no message to convert");
        return NULL;
    }
    return message_to_json(msg, emit_defaults, 0, err);
}

/* ---- reshaping into the HTTP forms ---------------------------------------------------- */

static cJSON *oom(struct triton_error *err, const char *what)
{
    triton_fail(err, TRITON_NO_MEMORY, "out of memory converting %s", what);
    return NULL;
}

static int cmp_region_name(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    const char *nx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "name"));
    const char *ny = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, "name"));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

/* Shared-memory status: map<string, RegionStatus> -> [RegionStatus...] by name. */
static cJSON *regions_to_list(size_t n, ProtobufCMessage *const *values, struct triton_error *err)
{
    cJSON **items = calloc(n ? n : 1, sizeof *items);
    cJSON *list = cJSON_CreateArray();
    if (!items || !list) {
        free(items);
        cJSON_Delete(list);
        return oom(err, "shared-memory status");
    }
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        if (!values[i]) /* an entry without a value: nothing to list */
            continue;
        items[have] = pb_json_from_message(values[i], true, err);
        if (!items[have])
            goto fail;
        have++;
    }
    qsort(items, have, sizeof *items, cmp_region_name);
    for (size_t i = 0; i < have; i++) {
        if (!cJSON_AddItemToArray(list, items[i])) {
            for (size_t j = i; j < have; j++)
                cJSON_Delete(items[j]);
            free(items);
            cJSON_Delete(list);
            return oom(err, "shared-memory status");
        }
    }
    free(items);
    return list;
fail:
    for (size_t i = 0; i < have; i++)
        cJSON_Delete(items[i]);
    free(items);
    cJSON_Delete(list);
    return NULL;
}

static cJSON *system_shm_status(const Inference__SystemSharedMemoryStatusResponse *r,
                                struct triton_error *err)
{
    ProtobufCMessage **values = calloc(r->n_regions ? r->n_regions : 1, sizeof *values);
    if (!values)
        return oom(err, "shared-memory status");
    for (size_t i = 0; i < r->n_regions; i++)
        values[i] = r->regions[i] && r->regions[i]->value ? &r->regions[i]->value->base : NULL;
    cJSON *list = regions_to_list(r->n_regions, values, err);
    free(values);
    return list;
}

static cJSON *cuda_shm_status(const Inference__CudaSharedMemoryStatusResponse *r,
                              struct triton_error *err)
{
    ProtobufCMessage **values = calloc(r->n_regions ? r->n_regions : 1, sizeof *values);
    if (!values)
        return oom(err, "shared-memory status");
    for (size_t i = 0; i < r->n_regions; i++)
        values[i] = r->regions[i] && r->regions[i]->value ? &r->regions[i]->value->base : NULL;
    cJSON *list = regions_to_list(r->n_regions, values, err);
    free(values);
    return list;
}

static cJSON *string_list(char **values, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateString(values[i] ? values[i] : "");
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *trace_settings(const Inference__TraceSettingResponse *r, struct triton_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return oom(err, "trace settings");
    for (size_t i = 0; i < r->n_settings; i++) {
        const Inference__TraceSettingResponse__SettingsEntry *e = r->settings[i];
        if (!e || !e->key)
            continue;
        size_t n = e->value ? e->value->n_value : 0;
        char **values = e->value ? e->value->value : NULL;
        cJSON *v;
        /* Triton's HTTP answer lists trace_level and gives other settings as one string. */
        if (strcmp(e->key, "trace_level") != 0 && n == 1)
            v = cJSON_CreateString(values[0] ? values[0] : "");
        else
            v = string_list(values, n);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, e->key);
        if (!v || !cJSON_AddItemToObject(obj, e->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return oom(err, "trace settings");
        }
    }
    return obj;
}

static cJSON *log_settings(const Inference__LogSettingsResponse *r, struct triton_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return oom(err, "log settings");
    for (size_t i = 0; i < r->n_settings; i++) {
        const Inference__LogSettingsResponse__SettingsEntry *e = r->settings[i];
        if (!e || !e->key)
            continue;
        const Inference__LogSettingsResponse__SettingValue *sv = e->value;
        cJSON *v;
        switch (sv ? sv->parameter_choice_case
                   : INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE__NOT_SET) {
        case INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_BOOL_PARAM:
            v = cJSON_CreateBool(sv->bool_param);
            break;
        case INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_UINT32_PARAM:
            v = cJSON_CreateNumber(sv->uint32_param);
            break;
        case INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_STRING_PARAM:
            v = cJSON_CreateString(sv->string_param ? sv->string_param : "");
            break;
        default:
            v = cJSON_CreateNull();
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, e->key);
        if (!v || !cJSON_AddItemToObject(obj, e->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return oom(err, "log settings");
        }
    }
    return obj;
}

cJSON *pb_json_http_shape(const ProtobufCMessage *msg, struct triton_error *err)
{
    if (!msg) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "no message to convert");
        return NULL;
    }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (d == &inference__model_config_response__descriptor) {
        const Inference__ModelConfigResponse *r = (const void *)msg;
        if (!r->config)
            return cJSON_CreateObject();
        return pb_json_from_message(&r->config->base, true, err);
    }
    if (d == &inference__repository_index_response__descriptor) {
        cJSON *obj = pb_json_from_message(msg, true, err);
        if (!obj)
            return NULL;
        cJSON *models = cJSON_DetachItemFromObjectCaseSensitive(obj, "models");
        cJSON_Delete(obj);
        return models ? models : cJSON_CreateArray();
    }
    if (d == &inference__system_shared_memory_status_response__descriptor)
        return system_shm_status((const void *)msg, err);
    if (d == &inference__cuda_shared_memory_status_response__descriptor)
        return cuda_shm_status((const void *)msg, err);
    if (d == &inference__trace_setting_response__descriptor)
        return trace_settings((const void *)msg, err);
    if (d == &inference__log_settings_response__descriptor)
        return log_settings((const void *)msg, err);
    return pb_json_from_message(msg, true, err);
}
