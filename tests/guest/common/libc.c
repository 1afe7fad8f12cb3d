// The freestanding C library both guest runtimes share (tests/guest/arm64/rt.c and
// tests/guest/x86/rt.c include this file): console formatting on top of the runtime's putchar,
// and the memory and string routines gcc emits calls to. Works for ILP32 and LP64 builds.
//
// The memory routines work a 64-bit word at a time when both pointers share alignment, so every
// access is naturally aligned (on AArch64 with the MMU off all data accesses are Device memory,
// where unaligned ones fault). The runtimes are built with -fno-tree-loop-distribute-patterns so
// gcc cannot turn these loops back into calls to themselves.

void print_str(const char *s)
{
    while (*s)
        putchar(*s++);
}

int puts(const char *s)
{
    print_str(s);
    putchar('\n');
    return 0;
}

// Formats v in the given base into buf (filled from the end); returns the
// start of the digits.
static char *format_unsigned(char *end, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

// Writes s (len bytes, with a '-' sign first if negative) padded to width.
// pad is ' ' or '0'; left == 1 pads on the right instead.
static int emit_padded(const char *s, size_t len, int width, char pad,
                       int left, int negative)
{
    int n = (int)len + negative;
    int fill = width > n ? width - n : 0;

    if (left) {
        if (negative)
            putchar('-');
        for (size_t i = 0; i < len; i++)
            putchar(s[i]);
        for (int i = 0; i < fill; i++)
            putchar(' ');
        return n + fill;
    }
    if (negative && pad == '0')
        putchar('-');
    for (int i = 0; i < fill; i++)
        putchar(pad);
    if (negative && pad != '0')
        putchar('-');
    for (size_t i = 0; i < len; i++)
        putchar(s[i]);
    return n + fill;
}

// Supports %d %i %u %x %X(lowercase) %s %c %p %%, the 'l'/'ll'/'z' length
// modifiers, the '0' and '-' flags and a field width: enough for test output.
int vprintf(const char *fmt, va_list ap)
{
    int count = 0;
    char buf[24];
    char *end = buf + sizeof buf;

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar(*fmt);
            count++;
            continue;
        }
        fmt++;
        char pad = ' ';
        int left = 0;
        int width = 0;
        int longness = 0;
        for (;; fmt++) {
            if (*fmt == '0')
                pad = '0';
            else if (*fmt == '-')
                left = 1;
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        // 'l' is 32-bit in the 32-bit build; 'll' is always 64-bit.
        while (*fmt == 'l' || *fmt == 'z') {
            longness += *fmt == 'z' ? (sizeof(size_t) == 8 ? 2 : 0)
                                    : (sizeof(long) == 8 ? 2 : 1);
            fmt++;
        }
        longness = longness >= 2;

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longness ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            char *s = format_unsigned(end, mag, 10);
            count += emit_padded(s, end - s, width, pad, left, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longness ? va_arg(ap, uint64_t)
                                  : va_arg(ap, unsigned int);
            char *s = format_unsigned(end, v, *fmt == 'u' ? 10 : 16);
            count += emit_padded(s, end - s, width, pad, left, 0);
            break;
        }
        case 'p': {
            uint64_t v = (uintptr_t)va_arg(ap, void *);
            char *s = format_unsigned(end, v, 16);
            print_str("0x");
            count += 2 + emit_padded(s, end - s, width, pad, left, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            count += emit_padded(s, strlen(s), width, ' ', left, 0);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            count += emit_padded(&c, 1, width, ' ', left, 0);
            break;
        }
        case '%':
            putchar('%');
            count++;
            break;
        case '\0':
            return count;
        default:
            // Unknown conversion: echo it so the mistake shows up in output.
            putchar('%');
            putchar(*fmt);
            count += 2;
            break;
        }
    }
    return count;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        while (n && ((uintptr_t)d & 7)) {
            *d++ = *s++;
            n--;
        }
        uint64_t *dw = (uint64_t *)d;
        const uint64_t *sw = (const uint64_t *)s;
        for (; n >= 32; n -= 32, dw += 4, sw += 4) {
            uint64_t a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
        }
        for (; n >= 8; n -= 8)
            *dw++ = *sw++;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);

    // Overlapping with dst above src: copy backwards.
    d += n;
    s += n;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        while (n && ((uintptr_t)d & 7)) {
            *--d = *--s;
            n--;
        }
        uint64_t *dw = (uint64_t *)d;
        const uint64_t *sw = (const uint64_t *)s;
        for (; n >= 8; n -= 8)
            *--dw = *--sw;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--)
        *--d = *--s;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    uint64_t pattern = 0x0101010101010101ULL * (uint8_t)c;

    while (n && ((uintptr_t)d & 7)) {
        *d++ = (uint8_t)c;
        n--;
    }
    uint64_t *dw = (uint64_t *)d;
    for (; n >= 32; n -= 32, dw += 4) {
        dw[0] = pattern;
        dw[1] = pattern;
        dw[2] = pattern;
        dw[3] = pattern;
    }
    for (; n >= 8; n -= 8)
        *dw++ = pattern;
    d = (uint8_t *)dw;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return p - s;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (uint8_t)*a - (uint8_t)*b;
}
