/* image_resize when memory runs out: each allocation a resize makes fails in
 * turn, and each failure must give TRITON_NO_MEMORY, leave out released and free
 * nothing twice. The link wraps malloc, calloc, realloc and free for this test
 * (cmake/Tests.cmake), so the core's calls come here. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "image/image.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

/* While tracking: allocation number fail_at (from 0) returns NULL, and a free of
 * a pointer already freed (and not handed out again since) is counted, not done. */
static bool tracking;
static int alloc_calls, fail_at, double_frees, n_freed;
static void *freed[256];

static bool fail_now(void)
{
    return tracking && alloc_calls++ == fail_at;
}

static void handed_out(void *p)
{
    for (int i = 0; tracking && p && i < n_freed; i++)
        if (freed[i] == p)
            freed[i] = freed[--n_freed];
}

static bool was_freed(void *p)
{
    for (int i = 0; tracking && p && i < n_freed; i++)
        if (freed[i] == p)
            return true;
    if (tracking && p && n_freed < (int)(sizeof freed / sizeof freed[0]))
        freed[n_freed++] = p;
    return false;
}

void *__wrap_malloc(size_t size)
{
    void *p = fail_now() ? NULL : __real_malloc(size);
    handed_out(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p = fail_now() ? NULL : __real_calloc(n, size);
    handed_out(p);
    return p;
}

void *__wrap_realloc(void *old, size_t size)
{
    void *p = fail_now() ? NULL : __real_realloc(old, size);
    if (p && old && p != old)
        was_freed(old);
    handed_out(p);
    return p;
}

void __wrap_free(void *p)
{
    if (was_freed(p)) {
        double_frees++;
        return;
    }
    __real_free(p);
}

static void resize_out_of_memory(int c, int64_t out_h, int64_t out_w, enum image_filter filter)
{
    struct triton_error err;
    triton_error_clear(&err);
    struct tensor img;
    CHECK_INT(image_new(&img, 5, 7, c, &err), 0);
    uint8_t *px = img.buf->data;
    for (int i = 0; i < 5 * 7 * c; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    bool succeeded = false;
    for (int n = 0; n < 64 && !succeeded; n++) {
        struct tensor out = {0};
        triton_error_clear(&err);
        alloc_calls = 0;
        fail_at = n;
        n_freed = 0;
        double_frees = 0;
        tracking = true;
        int rc = image_resize(&out, &img, out_h, out_w, filter, NULL, &err);
        tracking = false;
        if (double_frees)
            fprintf(stderr,
                    "c %d, %lldx%lld, filter %d, allocation #%d failing: %d double free(s)\n", c,
                    (long long)out_h, (long long)out_w, (int)filter, n, double_frees);
        CHECK_INT(double_frees, 0);
        if (alloc_calls > n) { /* allocation n failed */
            CHECK_INT(rc, -1);
            CHECK_ERR(err, TRITON_NO_MEMORY, "out of memory");
            CHECK(out.buf == NULL);
        } else {
            CHECK_INT(rc, 0);
            succeeded = true;
        }
        tensor_release(&out);
    }
    CHECK(succeeded);
    tensor_release(&img);
}

int main(void)
{
    static const int channels[] = {1, 3, 4};
    for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++) {
        int c = channels[i];
        resize_out_of_memory(c, 3, 4, IMAGE_BILINEAR); /* both passes */
        resize_out_of_memory(c, 5, 4, IMAGE_BILINEAR); /* horizontal only */
        resize_out_of_memory(c, 3, 7, IMAGE_BILINEAR); /* vertical only */
        resize_out_of_memory(c, 9, 11, IMAGE_BILINEAR);
        resize_out_of_memory(c, 3, 4, IMAGE_NEAREST);
    }
    return check_report("test_image_resize");
}
