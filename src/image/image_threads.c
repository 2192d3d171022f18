/*
 * image_threads.c: running the parts of an image operation on several threads.
 * An operation (JPEG decoding, the resize's horizontal pass) cuts its work into
 * parts, bands of rows that write disjoint bytes; part 0 runs on the calling
 * thread, the others on threads started for the call and joined before it
 * returns. A thread that cannot be started leaves its part to the calling
 * thread (before part 0, so that a part 0 waiting on the others never waits
 * for itself), and the result never depends on how many threads ran. Parts are plain
 * C: no Lua state is ever touched off the calling thread.
 */
#include <pthread.h>
#include <stdlib.h>

#include "image/image.h"

int image_threads_parts(const struct image_threads *t, int64_t pixels, int max_parts)
{
    if (!t || t->count <= 1 || max_parts <= 1)
        return 1;
    int64_t min = t->min_pixels < 0 ? IMAGE_THREADS_MIN_PIXELS : t->min_pixels;
    if (pixels < min)
        return 1;
    int n = t->count < IMAGE_THREADS_MAX ? t->count : IMAGE_THREADS_MAX;
    return n < max_parts ? n : max_parts;
}

struct start {
    void (*fn)(void *);
    void *part;
};

static void *run(void *arg)
{
    struct start *s = arg;
    s->fn(s->part);
    return NULL;
}

void image_threads_run(void (*fn)(void *part), void *parts, size_t part_size, int n)
{
    pthread_t tid[IMAGE_THREADS_MAX];
    struct start starts[IMAGE_THREADS_MAX];
    int started[IMAGE_THREADS_MAX] = {0};
    char *p = parts;
    for (int i = 1; i < n && i < IMAGE_THREADS_MAX; i++) {
        starts[i].fn = fn;
        starts[i].part = p + (size_t)i * part_size;
        started[i] = pthread_create(&tid[i], NULL, run, &starts[i]) == 0;
        if (!started[i])
            fn(starts[i].part);
    }
    fn(p);
    for (int i = 1; i < n && i < IMAGE_THREADS_MAX; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
}
