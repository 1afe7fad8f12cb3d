// Benchmark: a small stack-machine interpreter running a loop-heavy
// program. The dispatch switch is an indirect branch with many targets and
// data-dependent successors, a classic stress for a translator's block
// lookup and chaining.
#include "rt.h"

#ifndef OUTER
#define OUTER 560
#endif
#define INNER 5000

enum opcode {
    OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_MOD, OP_AND,
    OP_XOR, OP_SHR, OP_DUP, OP_LT, OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET,
    OP_HALT,
};

struct insn {
    uint8_t op;
    int32_t arg;
};

static struct insn code[128];
static int code_len;

static int emit(enum opcode op, int32_t arg)
{
    code[code_len].op = (uint8_t)op;
    code[code_len].arg = arg;
    return code_len++;
}

static int here(void) { return code_len; }
static void patch(int at, int target) { code[at].arg = target; }

// Variables: v0 outer counter, v1 inner counter, v2 accumulator,
// v3 secondary state updated by a subroutine.
//
//   for (v0 = OUTER; v0 != 0; v0--)
//     for (v1 = 0; v1 < INNER; v1++) {
//       v2 = ((v2 * 33 + v1) % 1000003) ^ (v1 >> 2);
//       if ((v1 & 7) == 0) { v2 += v0; mix(); }   // mix: v3 = v3 * 5 + v2
//     }
static void assemble(void)
{
    emit(OP_PUSH, OUTER);
    emit(OP_STORE, 0);
    int outer = here();
    emit(OP_PUSH, 0);
    emit(OP_STORE, 1);
    int inner = here();
    emit(OP_LOAD, 1);
    emit(OP_PUSH, INNER);
    emit(OP_LT, 0);
    int exit_inner = emit(OP_JZ, 0);
    emit(OP_LOAD, 2);
    emit(OP_PUSH, 33);
    emit(OP_MUL, 0);
    emit(OP_LOAD, 1);
    emit(OP_ADD, 0);
    emit(OP_PUSH, 1000003);
    emit(OP_MOD, 0);
    emit(OP_LOAD, 1);
    emit(OP_PUSH, 2);
    emit(OP_SHR, 0);
    emit(OP_XOR, 0);
    emit(OP_STORE, 2);
    emit(OP_LOAD, 1);
    emit(OP_PUSH, 7);
    emit(OP_AND, 0);
    int skip = emit(OP_JNZ, 0);
    emit(OP_LOAD, 2);
    emit(OP_LOAD, 0);
    emit(OP_ADD, 0);
    emit(OP_STORE, 2);
    int call_mix = emit(OP_CALL, 0);
    patch(skip, here());
    emit(OP_LOAD, 1);
    emit(OP_PUSH, 1);
    emit(OP_ADD, 0);
    emit(OP_STORE, 1);
    emit(OP_JMP, inner);
    patch(exit_inner, here());
    emit(OP_LOAD, 0);
    emit(OP_PUSH, 1);
    emit(OP_SUB, 0);
    emit(OP_DUP, 0);
    emit(OP_STORE, 0);
    emit(OP_JNZ, outer);
    emit(OP_HALT, 0);

    patch(call_mix, here());
    emit(OP_LOAD, 3);
    emit(OP_PUSH, 5);
    emit(OP_MUL, 0);
    emit(OP_LOAD, 2);
    emit(OP_ADD, 0);
    emit(OP_STORE, 3);
    emit(OP_RET, 0);
}

struct vm_result {
    uint64_t steps;
    int64_t vars[4];
};

static __attribute__((noinline)) void run(struct vm_result *res)
{
    int64_t stack[64];
    int return_stack[16];
    int sp = 0, rsp = 0, pc = 0;
    int64_t vars[4] = {0, 0, 0, 0};
    uint64_t steps = 0;

    for (;;) {
        const struct insn *in = &code[pc++];
        steps++;
        switch (in->op) {
        case OP_PUSH: stack[sp++] = in->arg; break;
        case OP_LOAD: stack[sp++] = vars[in->arg]; break;
        case OP_STORE: vars[in->arg] = stack[--sp]; break;
        case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case OP_MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHR: sp--; stack[sp - 1] >>= stack[sp]; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_JMP: pc = in->arg; break;
        case OP_JZ: if (stack[--sp] == 0) pc = in->arg; break;
        case OP_JNZ: if (stack[--sp] != 0) pc = in->arg; break;
        case OP_CALL: return_stack[rsp++] = pc; pc = in->arg; break;
        case OP_RET: pc = return_stack[--rsp]; break;
        case OP_HALT:
            res->steps = steps;
            for (int i = 0; i < 4; i++)
                res->vars[i] = vars[i];
            return;
        default:
            printf("bad opcode %u at %d\n", in->op, pc - 1);
            exit(1);
        }
    }
}

int main(void)
{
    assemble();
    struct vm_result res;
    run(&res);
    printf("bytecode bench: %d insns, %lu steps, v2 %lx v3 %lx\n", code_len,
           res.steps, (uint64_t)res.vars[2], (uint64_t)res.vars[3]);
    return 0;
}
