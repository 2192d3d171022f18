/*
 * fuzz_jpeg.c: the JPEG decoder (image/image.h, image_decode_jpeg) on any bytes.
 *
 * Input: the file itself. The pixel limit is lowered to FUZZ_IMAGE_MAX_PIXELS so
 * that a header claiming a large image costs milliseconds, not seconds; the
 * limit's own check is the same code. A decoded image must have the shape the
 * decoder promises, and small ones go through fuzz_image_check (image_check.h):
 * resize, crop, convert, preprocess and a PNG round trip that must give it back.
 */
#include <stdint.h>

#include "image_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tensor t;
    struct triton_error err = {0};
    if (image_decode_jpeg(&t, data, size, FUZZ_IMAGE_MAX_PIXELS, &err) != 0) {
        fuzz_check_message(&err);
        return 0;
    }
    fuzz_image_check(&t);
    tensor_release(&t);
    return 0;
}
