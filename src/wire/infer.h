/*
 * infer.h: what an inference request and its result are, for every layer.
 *
 * Plain data, no behaviour: the wire codecs (src/wire/http_infer.c, the gRPC
 * codec) read a request and build a result in these shapes, the transports
 * carry them, and the call layer (src/client) and the binding (src/lua) hand
 * them around. They live here, in the wire layer, so that no codec has to
 * include a layer above it.
 */
#ifndef TRITON_WIRE_INFER_H
#define TRITON_WIRE_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tensor/tensor.h"

enum triton_param_type {
    TRITON_PARAM_BOOL,
    TRITON_PARAM_INT64,
    TRITON_PARAM_UINT64, /* gRPC's uint64_param; JSON number over HTTP */
    TRITON_PARAM_DOUBLE, /* kept apart from INT64: Triton reads 1 and 1.0 differently */
    TRITON_PARAM_STRING,
};

struct triton_param {
    const char *key;
    enum triton_param_type type;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } v;
};

struct triton_infer_input {
    const char *name;
    const char *datatype; /* Triton's name, as sent */
    const int64_t *shape;
    int ndim;
    /* The data, or NULL when the input lives in a shared-memory region. Sent in
     * Triton's wire layout; a contiguous fixed-size tensor is sent from its own
     * memory without a copy, so it must stay unchanged until the call completes
     * (the binding keeps it referenced). */
    const struct tensor *data;
    bool json; /* HTTP: send as JSON "data" instead of binary */
    const char *shm_region;
    uint64_t shm_byte_size, shm_offset;
    const struct triton_param *params;
    size_t n_params;
};

struct triton_infer_requested_output {
    const char *name;
    int binary;          /* HTTP binary_data: -1 = request default, 0 = JSON, 1 = binary */
    int64_t class_count; /* classification extension; 0 = off */
    const char *shm_region;
    uint64_t shm_byte_size, shm_offset;
    const struct triton_param *params;
    size_t n_params;
};

struct triton_infer_request {
    const char *model;
    const char *version; /* NULL or "" = server's choice */
    const char *id;      /* NULL = none */
    uint64_t sequence_id;
    const char *sequence_id_str; /* string sequence ids; wins over sequence_id when set */
    bool sequence_start, sequence_end;
    uint64_t priority;                 /* 0 = model default */
    uint64_t timeout_us;               /* server-side timeout parameter; 0 = none */
    const struct triton_param *params; /* custom request parameters */
    size_t n_params;
    const struct triton_infer_input *inputs;
    size_t n_inputs;
    const struct triton_infer_requested_output *outputs; /* n_outputs 0 = all outputs */
    size_t n_outputs;
    bool binary_data_output; /* HTTP default for outputs without their own flag */
};

struct triton_infer_output {
    char *name;
    char *datatype;
    enum tensor_dtype dtype; /* TENSOR_INVALID for a datatype we do not know */
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    cJSON *parameters;    /* object; NULL when the reply has none (saves an empty one per output) */
    bool has_data;        /* false for an output placed in shared memory */
    struct tensor tensor; /* valid when has_data: a view over the reply where alignment allows */
};

struct triton_infer_result {
    char *model_name, *model_version, *id;
    cJSON *parameters; /* object; NULL when the reply has none */
    size_t n_outputs;
    struct triton_infer_output *outputs;
    bool final; /* streams: this response ends its request (triton_final_response) */
    /* Set by a producer that allocates the result, its outputs array and all
     * their text (names, datatypes, model_name, model_version, id) as one
     * block starting at the result: freed with it, not one by one. */
    bool one_block;
    /* one_block: when set, the block lies in this buffer's memory (the
     * reply's raw contents, which the outputs view, with the result after
     * them); the result holds a reference to it instead of being freed. */
    struct tensor_buffer *block;
};

/* Frees r (NULL: nothing). The binding's output tensors read the outputs'
 * struct tensor in place: they keep the result's userdata, whose finalizer
 * calls this, alive. */
void triton_infer_result_free(struct triton_infer_result *r);

/* Whether a request goes out alike over both protocols: every text that
 * becomes a JSON or protobuf string (names, request_id, string parameters) is
 * UTF-8, and no custom parameter takes a name Triton reserves for its own
 * request options (sequence_id, priority, timeout, ..., "triton_*"). The call
 * layer checks every request with it before a transport encodes it. */
int triton_infer_request_check(const struct triton_infer_request *req, struct triton_error *err);

/* Input `index` (0-based) of a request as both transports take it: a name, a
 * datatype, a shape of at most TENSOR_MAX_DIMS dimensions, and either data
 * whose dtype and element count the datatype and shape describe, or a
 * shared-memory region. Each transport checks every input with it before
 * encoding, so that a bad input fails alike over HTTP and gRPC (a server would
 * refuse a mismatch too, but only after the bytes went out). */
int triton_infer_input_check(const struct triton_infer_input *in, size_t index,
                             struct triton_error *err);

/* Requested output `index` (0-based) as both transports take it: named. */
int triton_infer_output_check(const struct triton_infer_requested_output *o, size_t index,
                              struct triton_error *err);

/* Sets o->dtype from o->datatype, for the reply parsers. A datatype this client
 * does not know is the peer's error (TRITON_PROTOCOL naming the output and the
 * datatype): its data could not be read, and leaving the output out would lose
 * it silently. */
int triton_infer_output_dtype(struct triton_infer_output *o, struct triton_error *err);

#endif
