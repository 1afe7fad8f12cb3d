// In-place quicksort of uint64_t keys, header-only so tests and benchmarks
// share it. Median-of-three pivot, insertion sort for short ranges, and
// recursion only into the smaller half to bound stack depth.
#ifndef ORRERY_GUEST_SORT_H
#define ORRERY_GUEST_SORT_H

#include <stddef.h>
#include <stdint.h>

static inline void insertion_sort_u64(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t key = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > key) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = key;
    }
}

static inline void swap_u64(uint64_t *x, uint64_t *y)
{
    uint64_t t = *x;
    *x = *y;
    *y = t;
}

static inline void quicksort_u64(uint64_t *a, size_t n)
{
    while (n > 16) {
        size_t mid = n / 2;
        if (a[mid] < a[0])
            swap_u64(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap_u64(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap_u64(&a[n - 1], &a[mid]);
        uint64_t pivot = a[mid];

        // Hoare partition.
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap_u64(&a[i], &a[j]);
            i++;
            j--;
        }
        size_t left = j + 1;
        if (left < n - left) {
            quicksort_u64(a, left);
            a += left;
            n -= left;
        } else {
            quicksort_u64(a + left, n - left);
            n = left;
        }
    }
    insertion_sort_u64(a, n);
}

static inline int is_sorted_u64(const uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return 0;
    return 1;
}

#endif
