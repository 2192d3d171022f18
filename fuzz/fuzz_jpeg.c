/*
 * fuzz_jpeg.c: the JPEG decoder (image/image.h, image_decode_jpeg) on any bytes.
 *
 * Input: the file itself. The pixel limit is lowered to FUZZ_IMAGE_MAX_PIXELS so
 * that a header claiming a large image costs milliseconds, not seconds; the
 * limit's own check is the same code. Every input is decoded twice: on the
 * calling thread alone, and in bands on FUZZ_IMAGE_THREADS threads whatever its
 * size; both must agree (the same image, or the same error), so every band's
 * skipping, decoding and failing meets the fuzzer. A decoded image must have
 * the shape the decoder promises, and small ones go through fuzz_image_check
 * (image_check.h): resize, crop, convert, preprocess and a PNG round trip.
 */
#include <stdint.h>

#include "image_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tensor one, many;
    struct triton_error err1 = {0}, err2 = {0};
    int rc1 = image_decode_jpeg(&one, data, size, FUZZ_IMAGE_MAX_PIXELS, NULL, &err1);
    int rc2 =
        image_decode_jpeg(&many, data, size, FUZZ_IMAGE_MAX_PIXELS, &fuzz_image_threads, &err2);
    if (rc1 != rc2)
        fuzz_fail("one thread %s, several %s: %s", rc1 ? "failed" : "decoded",
                  rc2 ? "failed" : "decoded", rc1 ? err1.message : err2.message);
    if (rc1 != 0) {
        fuzz_check_message(&err1);
        fuzz_check_message(&err2);
        return 0;
    }
    fuzz_check_same(&one, &many, "decoding in bands");
    tensor_release(&many);
    fuzz_image_check(&one);
    tensor_release(&one);
    return 0;
}
