/*
 * trace_setting.c: trace setting values as text (see trace_setting.h).
 */
#include "wire/trace_setting.h"

const char *wire_trace_setting_text(const cJSON *v, char *buf)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (!cJSON_IsNumber(v))
        return NULL;
    if (v->valuestring) /* an integer too large for a double, in its exact text */
        return v->valuestring;
    return wire_json_fmt_double(buf, v->valuedouble, false) > 0 ? buf : NULL;
}

static const char *kind_of(const cJSON *v)
{
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "a table";
    if (cJSON_IsNull(v))
        return "null";
    return "a number that is not finite";
}

int wire_trace_settings_check(const cJSON *settings, struct triton_error *err)
{
    char buf[WIRE_JSON_NUM_MAX];
    const cJSON *item;
    cJSON_ArrayForEach(item, settings)
    {
        const cJSON *bad = NULL;
        if (cJSON_IsArray(item)) {
            const cJSON *e;
            cJSON_ArrayForEach(e, item)
            {
                if (!bad && !wire_trace_setting_text(e, buf))
                    bad = e;
            }
        } else if (!cJSON_IsNull(item) && !wire_trace_setting_text(item, buf)) {
            bad = item;
        }
        if (bad)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "trace setting '%s' must be a string, a number, a list of them or "
                               "null, not %s%s",
                               item->string, bad == item ? "" : "a list holding ", kind_of(bad));
    }
    return 0;
}
