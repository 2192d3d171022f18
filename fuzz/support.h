/*
 * support.h: shared by the fuzz targets (fuzz/fuzz_*.c).
 *
 * A cursor that turns the fuzzer's bytes into choices (as LLVM's
 * FuzzedDataProvider does, in C), an owner buffer placed so that ASan sees any
 * read past the wire data, and checks run on every parsed infer result: every
 * element of every output is read (so a view that points outside its reply, or
 * that outlives it, is caught) and every output survives a trip through the
 * wire layout unchanged.
 */
#ifndef TRITON_FUZZ_SUPPORT_H
#define TRITON_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "tensor/tensor.h"

struct fuzz_input {
    const uint8_t *p;
    size_t n;
};

/* The next byte, or 0 once the input is used up. */
uint8_t fuzz_u8(struct fuzz_input *in);
/* The next 8 bytes as a little-endian integer (zeros past the end). */
uint64_t fuzz_u64(struct fuzz_input *in);
/* Up to max bytes: a length byte, then that many bytes (fewer at the end). */
const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t max, size_t *len);

/* A tensor_buffer over a private copy of data[0..len), placed `misalign` bytes
 * (0..7) past an 8-aligned start and ending exactly at the end of its heap
 * block, so that an overread is an ASan report and both the view path and the
 * copy path of misaligned data get exercised. refs = 1. */
struct tensor_buffer *fuzz_owner_copy(const void *data, size_t len, unsigned misalign);

/* Reads every element of t (every byte of every BYTES string). */
void fuzz_touch_tensor(const struct tensor *t);

/* Aborts unless t's wire layout reads back as the same tensor. */
void fuzz_check_wire_roundtrip(const struct tensor *t);

/* Walks a parsed infer result: its documented invariants, every output's
 * elements and parameters, and the wire round trip of each output's tensor. */
void fuzz_check_result(const struct triton_infer_result *r);

/* Stops the run with a message: a broken invariant is a finding like a crash. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
