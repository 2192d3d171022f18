/*
 * trace_setting.h: the values of Triton's trace settings as text.
 *
 * Triton's trace API takes every setting value as a string or a list of
 * strings, on both fronts: "trace_rate": "5" in the HTTP body, a repeated
 * string in gRPC's TraceSettingRequest; null (or no values) puts a setting
 * back to the global one. A script may still write trace_rate = 5: both
 * transports turn each value into its text through these functions, so that
 * the same table is sent as the same settings whatever the protocol.
 */
#ifndef TRITON_WIRE_TRACE_SETTING_H
#define TRITON_WIRE_TRACE_SETTING_H

#include <cjson/cJSON.h>

#include "common/error.h"
#include "wire/json.h"

/* The text of one value: a string as it is, a number in its shortest exact
 * form (written into buf, WIRE_JSON_NUM_MAX bytes, unless the node holds its
 * exact text), a boolean as true/false.
 * NULL for anything else (null, a list, an object, NaN or an infinity). */
const char *wire_trace_setting_text(const cJSON *v, char *buf);

/* Whether every value of the settings object is null, a value with a text, or
 * a list of such values; else an error naming the setting. */
int wire_trace_settings_check(const cJSON *settings, struct triton_error *err);

#endif
