// The LLVM tier's JIT memory: freed on a translation-cache flush (also while a compile is in
// flight, which must then not be published), and capped while the guest runs.
#include <atomic>
#include <chrono>
#include <future>

#include "llvm_test_util.h"
#include "tcg/llvm/compiler.h"

namespace orrery::tcg::llvm::test {
namespace {

using Blocks = std::vector<std::unique_ptr<exec::TranslationBlock>>;

TEST(CodeMemoryTest, FlushFreesTheOldEpochsCode) {
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  const size_t base = bc->jit().code_bytes();
  for (unsigned round = 0; round < 30; ++round) {
    Blocks tbs;
    for (unsigned i = 0; i < 8; ++i) tbs.push_back(counter_tb(0x1000 + 0x100 * i, i, round + i));
    // Half through the queue (worker, batches), half on this thread (the forced-LLVM tier).
    for (unsigned i = 0; i < 4; ++i) {
      tbs[i]->compile_queued.store(true);
      bc->enqueue(tbs[i].get());
    }
    for (unsigned i = 4; i < 8; ++i) ASSERT_NE(bc->compile_now(tbs[i].get()), nullptr);
    bc->drain();
    ASSERT_GT(bc->jit().code_bytes(), base);
    TestCpu cpu;
    for (unsigned i = 0; i < 8; ++i) {
      exec::NativeFn fn = tbs[i]->native.load();
      ASSERT_NE(fn, nullptr) << "round " << round << " block " << i;
      fn(&cpu.common);
      EXPECT_EQ(cpu.r[i], round + i);
    }
    bc->flush(std::move(tbs));
    ASSERT_EQ(bc->jit().code_bytes(), base) << "round " << round;
  }
  EXPECT_EQ(bc->stats().compiled, 30u * 8);
}

TEST(CodeMemoryTest, CompileInFlightAtFlushIsDroppedNotAwaited) {
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  std::atomic<unsigned> published{0}, batches{0};
  bc->set_publish_hook([&](exec::TranslationBlock*) { ++published; });
  std::promise<void> taken, flushed;
  std::shared_future<void> flushed_f = flushed.get_future().share();
  bc->set_batch_hook([&, flushed_f] {
    if (batches++ != 0) return;
    taken.set_value();
    flushed_f.wait();  // the first batch is in flight until the flush has returned
  });
  const size_t base = bc->jit().code_bytes();

  Blocks old;
  old.push_back(counter_tb(0x1000, 1, 7));
  old[0]->compile_queued.store(true);
  bc->enqueue(old[0].get());
  taken.get_future().wait();
  auto flush = std::async(std::launch::async, [&] { bc->flush(std::move(old)); });
  const bool returned = flush.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  flushed.set_value();
  flush.wait();
  EXPECT_TRUE(returned) << "flush() waited for the compile in flight";

  // A block of the new epoch compiles and publishes; the stale one never does.
  auto fresh = counter_tb(0x2000, 2, 5);
  fresh->compile_queued.store(true);
  bc->enqueue(fresh.get());
  bc->drain();
  EXPECT_EQ(published.load(), 1u);
  auto s = bc->stats();
  EXPECT_EQ(s.compiled, 1u);
  EXPECT_EQ(s.skipped, 1u);
  exec::NativeFn fn = fresh->native.load();
  ASSERT_NE(fn, nullptr);
  TestCpu cpu;
  fn(&cpu.common);
  EXPECT_EQ(cpu.r[2], 5u);
  // Only the new epoch's code is left.
  const size_t one_epoch = bc->jit().code_bytes() - base;
  Blocks done;
  done.push_back(std::move(fresh));
  bc->flush(std::move(done));
  EXPECT_EQ(bc->jit().code_bytes(), base);
  EXPECT_GT(one_epoch, 0u);
}

TEST(CodeMemoryTest, CodeMemoryStaysUnderItsLimit) {
  constexpr size_t kLimit = 64 << 10;
  JitOptions opt = fake_slow_options();
  opt.code_limit = kLimit;
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, opt);
  ASSERT_TRUE(bc) << err;
  unsigned full_calls = 0;
  bc->set_full_hook([&] { ++full_calls; });
  for (unsigned round = 0; round < 3; ++round) {
    Blocks tbs;
    unsigned compiled = 0, refused = 0;
    TestCpu cpu;
    for (unsigned i = 0; i < 200; ++i) {
      tbs.push_back(counter_tb(0x10000 + 0x100 * i, i, i + 1));
      exec::NativeFn fn = bc->compile_now(tbs.back().get());
      ASSERT_LE(bc->jit().code_bytes(), kLimit) << "block " << i;
      if (!fn) {
        ++refused;
        continue;
      }
      ++compiled;
      EXPECT_EQ(refused, 0u) << "compiled after the limit was reached";
      fn(&cpu.common);
      EXPECT_EQ(cpu.r[i], i + 1u);
    }
    EXPECT_GT(compiled, 2u);
    EXPECT_GT(refused, 0u);
    EXPECT_TRUE(bc->jit().code_full());
    EXPECT_EQ(full_calls, round + 1) << "the full hook runs once per epoch";
    // Queued blocks are not compiled either until the flush.
    auto late = counter_tb(0x90000, 1, 1);
    late->compile_queued.store(true);
    bc->enqueue(late.get());
    bc->drain();
    EXPECT_EQ(late->native.load(), nullptr);
    tbs.push_back(std::move(late));
    bc->flush(std::move(tbs));
    EXPECT_EQ(bc->jit().code_bytes(), 0u);
    EXPECT_FALSE(bc->jit().code_full());
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
