// Benchmark: a branchy tokenizer/state machine over generated source-like
// text. Classifies bytes, tracks identifiers, numbers, strings, comments
// and operators with a hand-written switch-based DFA; per-byte branches
// are data dependent and hard to predict.
#include "rt.h"

#ifndef TEXT_SIZE
#define TEXT_SIZE (2u << 20)
#endif
#ifndef PASSES
#define PASSES 32
#endif

static char text[TEXT_SIZE];

enum state { S_START, S_IDENT, S_NUMBER, S_HEX, S_STRING, S_ESCAPE,
             S_SLASH, S_LINE_COMMENT, S_BLOCK_COMMENT, S_BLOCK_STAR };

struct counts {
    uint64_t idents, numbers, strings, comments, operators, lines;
    uint64_t ident_hash, number_sum;
};

static const char *const words[] = {
    "int", "return", "while", "foo", "bar_baz", "x", "y1", "counter",
    "if", "else", "struct", "node", "value", "next", "_tmp", "emit",
};
static const char *const fragments[] = {
    " = ", " + ", "; ", "(", ")", " { ", " }\n", " == ", ", ", " /* note */ ",
    " // comment\n", "\"str\\\"ing\"", " -> ", "\n", " 0x1F ", " 12345 ",
};

static void generate(void)
{
    uint64_t rng = 0xdfadfadfa0ULL;
    size_t pos = 0;
    while (pos < TEXT_SIZE - 32) {
        uint64_t r = rt_rand_next(&rng);
        const char *piece = (r & 1) ? words[(r >> 1) & 15]
                                    : fragments[(r >> 1) & 15];
        while (*piece && pos < TEXT_SIZE - 1)
            text[pos++] = *piece++;
        // Usually a separating space; sometimes none, so tokens run
        // together (identifiers swallowing numbers and the like).
        if ((r >> 8) % 5 != 0 && pos < TEXT_SIZE - 1)
            text[pos++] = ' ';
    }
    while (pos < TEXT_SIZE - 1)
        text[pos++] = '\n';
    text[TEXT_SIZE - 1] = 0;
}

static inline int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static __attribute__((noinline)) void scan(struct counts *n)
{
    enum state s = S_START;
    uint64_t h = 0, num = 0;

    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '\n')
            n->lines++;
        switch (s) {
        case S_START:
        reconsider:
            if (is_alpha(c)) {
                s = S_IDENT;
                h = (uint8_t)c;
            } else if (c == '0' && p[1] == 'x') {
                s = S_HEX;
                num = 0;
                p++;
            } else if (is_digit(c)) {
                s = S_NUMBER;
                num = (uint64_t)(c - '0');
            } else if (c == '"') {
                s = S_STRING;
            } else if (c == '/') {
                s = S_SLASH;
            } else if (c == '=' || c == '+' || c == '-' || c == '>' ||
                       c == '(' || c == ')' || c == '{' || c == '}' ||
                       c == ';' || c == ',' || c == '*') {
                n->operators++;
            }
            break;
        case S_IDENT:
            if (is_alpha(c) || is_digit(c)) {
                h = h * 31 + (uint8_t)c;
            } else {
                n->idents++;
                n->ident_hash ^= h + (n->ident_hash << 7);
                s = S_START;
                goto reconsider;
            }
            break;
        case S_NUMBER:
            if (is_digit(c)) {
                num = num * 10 + (uint64_t)(c - '0');
            } else {
                n->numbers++;
                n->number_sum += num;
                s = S_START;
                goto reconsider;
            }
            break;
        case S_HEX:
            if (is_digit(c))
                num = num * 16 + (uint64_t)(c - '0');
            else if (c >= 'A' && c <= 'F')
                num = num * 16 + (uint64_t)(c - 'A' + 10);
            else {
                n->numbers++;
                n->number_sum += num;
                s = S_START;
                goto reconsider;
            }
            break;
        case S_STRING:
            if (c == '\\')
                s = S_ESCAPE;
            else if (c == '"') {
                n->strings++;
                s = S_START;
            }
            break;
        case S_ESCAPE:
            s = S_STRING;
            break;
        case S_SLASH:
            if (c == '/')
                s = S_LINE_COMMENT;
            else if (c == '*')
                s = S_BLOCK_COMMENT;
            else {
                n->operators++;
                s = S_START;
                goto reconsider;
            }
            break;
        case S_LINE_COMMENT:
            if (c == '\n') {
                n->comments++;
                s = S_START;
            }
            break;
        case S_BLOCK_COMMENT:
            if (c == '*')
                s = S_BLOCK_STAR;
            break;
        case S_BLOCK_STAR:
            if (c == '/') {
                n->comments++;
                s = S_START;
            } else if (c != '*') {
                s = S_BLOCK_COMMENT;
            }
            break;
        }
    }
}

int main(void)
{
    generate();
    struct counts total;
    memset(&total, 0, sizeof total);
    for (int pass = 0; pass < PASSES; pass++) {
        struct counts n;
        memset(&n, 0, sizeof n);
        scan(&n);
        total.idents += n.idents;
        total.numbers += n.numbers;
        total.strings += n.strings;
        total.comments += n.comments;
        total.operators += n.operators;
        total.lines += n.lines;
        total.ident_hash ^= n.ident_hash + pass;
        total.number_sum += n.number_sum;
        // Perturb the text so passes are not identical.
        text[(pass * 7919) % (TEXT_SIZE - 1)] = 'q';
    }
    printf("dfa bench: %u bytes x %d passes: idents %lu numbers %lu "
           "strings %lu comments %lu ops %lu lines %lu hash %lx sum %lu\n",
           TEXT_SIZE, PASSES, total.idents, total.numbers, total.strings,
           total.comments, total.operators, total.lines, total.ident_hash,
           total.number_sum);
    return 0;
}
