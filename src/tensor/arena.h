/*
 * arena.h: the string arena behind BYTES tensors (private to src/tensor).
 * Strings set from C or Lua are copied here, so a BYTES element is a plain
 * {ptr, len} pair with no per-string malloc or free. Memory is only returned when
 * the whole arena is freed with its buffer: overwriting an element leaves its old
 * bytes behind, which is the price of never tracking string lifetimes.
 */
#ifndef TRITON_TENSOR_ARENA_H
#define TRITON_TENSOR_ARENA_H

#include <stddef.h>

#include "common/error.h"

struct tensor_arena;

struct tensor_arena *tensor_arena_new(struct triton_error *err);
/* n bytes that stay valid until tensor_arena_free; NULL with err set on failure. */
void *tensor_arena_alloc(struct tensor_arena *a, size_t n, struct triton_error *err);
void tensor_arena_free(struct tensor_arena *a);

#endif
