// 16-bit real mode: arithmetic and flags, BCD, string operations, segment
// arithmetic, far calls and IVT interrupts. The tests (real16.asm) run
// below 1 MiB through rt_call_real and leave tagged records, printed here.
#include "rt.h"

extern uint8_t real_tests[], rec_buf[];

int main(void)
{
    puts("real16 start");
    rt_call_real((uint32_t)real_tests);
    // Records: 4-byte tag, 16-bit value; the buffer is zeroed after the
    // last one.
    unsigned n = 0;
    for (const uint8_t *r = rec_buf; r[0]; r += 6, n++) {
        // nasm stores 'abcd' as the bytes a b c d.
        printf("%c%c%c%c=%04x%c", r[0], r[1], r[2], r[3],
               r[4] | r[5] << 8, n % 6 == 5 ? '\n' : ' ');
    }
    printf("%srecords %u\n", n % 6 ? "\n" : "", n);
    puts("real16 done");
    return 0;
}
