#include "hw/core/event_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orrery::hw {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (pipe(p) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  ~Pipe() {
    close(r);
    close(w);
  }
  void put() { ASSERT_EQ(write(w, "x", 1), 1); }
  void drain() {
    char c;
    ASSERT_EQ(read(r, &c, 1), 1);
  }
};

// Waits (with a generous deadline as a failure guard) until pred holds.
class Waiter {
 public:
  /// Call with mu_ held, after changing what wait() looks at.
  void notify() { cv_.notify_all(); }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, 10s, pred);
  }
  std::mutex mu_;

 private:
  std::condition_variable cv_;
};

TEST(EventLoop, ReportsReadableAndWritableFds) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  Pipe p;
  std::vector<uint32_t> seen;
  ASSERT_TRUE(loop.add_fd(p.r, kFdRead, [&](uint32_t ev) {
    seen.push_back(ev);
    p.drain();
  }));
  EXPECT_FALSE(loop.add_fd(p.r, kFdRead, [](uint32_t) {}));  // already registered
  EXPECT_EQ(loop.run_once(0), 0);
  p.put();
  EXPECT_EQ(loop.run_once(-1), 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], uint32_t(kFdRead));
  EXPECT_EQ(loop.run_once(0), 0);  // drained: level-triggered, so nothing more

  uint32_t wev = 0;
  ASSERT_TRUE(loop.add_fd(p.w, 0, [&](uint32_t ev) { wev = ev; }));
  EXPECT_EQ(loop.run_once(0), 0);  // no interest yet
  ASSERT_TRUE(loop.modify_fd(p.w, kFdWrite));
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_EQ(wev, uint32_t(kFdWrite));
  loop.remove_fd(p.w);
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_FALSE(loop.modify_fd(p.w, kFdWrite));
}

TEST(EventLoop, ReportsHangup) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  uint32_t got = 0;
  ASSERT_TRUE(loop.add_fd(p[0], kFdRead, [&](uint32_t ev) { got = ev; }));
  close(p[1]);
  EXPECT_EQ(loop.run_once(-1), 1);
  EXPECT_TRUE(got & kFdHangup);
  loop.remove_fd(p[0]);
  close(p[0]);
}

TEST(EventLoop, TimersFireInDeadlineOrderAtTheirManualTimes) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  std::vector<std::pair<std::string, int64_t>> fired;
  auto rec = [&](const char* name) {
    return [&fired, &clock, name] { fired.emplace_back(name, clock.realtime_ns()); };
  };
  Timer a(loop, ClockType::kRealtime, rec("a"));
  Timer b(loop, ClockType::kRealtime, rec("b"));
  Timer c(loop, ClockType::kRealtime, rec("c"));
  Timer d(loop, ClockType::kRealtime, rec("d"));
  a.arm_at(300);
  b.arm_at(100);
  c.arm_at(200);
  d.arm_at(100);  // same deadline as b, armed later: fires after b
  EXPECT_EQ(loop.run_once(0), 0);
  clock.advance(99);
  EXPECT_EQ(loop.run_once(0), 0);
  clock.advance(1);
  EXPECT_EQ(loop.run_once(0), 2);
  clock.advance(150);
  EXPECT_EQ(loop.run_once(0), 1);
  clock.advance(50);
  EXPECT_EQ(loop.run_once(0), 1);
  using P = std::pair<std::string, int64_t>;
  EXPECT_EQ(fired, (std::vector<P>{{"b", 100}, {"d", 100}, {"c", 250}, {"a", 300}}));
  EXPECT_FALSE(a.armed());  // one-shot
  clock.advance(1000);
  EXPECT_EQ(loop.run_once(0), 0);
}

// A deadline centuries away (a guest's HPET comparator near the top of its counter) is never
// due; planning the loop's wake-up around it used to overflow (UBSan: signed overflow in
// arm_timer when the clean-clone sanitizer run ran the pc platform guest program).
TEST(EventLoop, ADeadlineCenturiesAheadNeverComesDue) {
  Clock clock;  // the host's clock: waits are computed from real time
  EventLoop loop(clock);
  int far_fired = 0, near_fired = 0;
  Timer far(loop, ClockType::kRealtime, [&] { ++far_fired; });
  Timer near(loop, ClockType::kRealtime, [&] { ++near_fired; });
  far.arm_at(INT64_MAX - 1);
  near.arm_at(clock.realtime_ns());
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_EQ(near_fired, 1);
  EXPECT_EQ(far_fired, 0);
  EXPECT_TRUE(far.armed());
}

TEST(EventLoop, ALateRoundFiresEveryDueTimerInOrder) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  std::vector<int> order;
  Timer t3(loop, ClockType::kRealtime, [&] { order.push_back(3); });
  Timer t1(loop, ClockType::kRealtime, [&] { order.push_back(1); });
  Timer t2(loop, ClockType::kRealtime, [&] { order.push_back(2); });
  t3.arm_at(30);
  t1.arm_at(10);
  t2.arm_at(20);
  clock.advance(1000);
  EXPECT_EQ(loop.run_once(0), 3);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoop, CancelledTimerDoesNotFire) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  int n = 0;
  Timer t(loop, ClockType::kRealtime, [&] { ++n; });
  t.arm_at(10);
  EXPECT_TRUE(t.armed());
  t.cancel();
  EXPECT_FALSE(t.armed());
  clock.advance(100);
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_EQ(n, 0);
}

TEST(EventLoop, RearmingMovesTheDeadline) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  std::vector<int64_t> at;
  Timer t(loop, ClockType::kRealtime, [&] { at.push_back(clock.realtime_ns()); });
  t.arm_at(100);
  t.arm_at(500);
  clock.advance(100);
  EXPECT_EQ(loop.run_once(0), 0);
  clock.advance(400);
  EXPECT_EQ(loop.run_once(0), 1);
  t.arm_at(200);  // in the past: fires at the next round
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_EQ(at, (std::vector<int64_t>{500, 500}));
}

TEST(EventLoop, PeriodicTimerRearmsFromItsHandler) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  std::vector<int64_t> at;
  std::unique_ptr<Timer> t;
  t = std::make_unique<Timer>(loop, ClockType::kRealtime, [&] {
    at.push_back(clock.realtime_ns());
    if (at.size() < 3) t->arm_in(100);
  });
  t->arm_in(100);
  for (int i = 0; i < 5; ++i) {
    clock.advance(100);
    loop.run_once(0);
  }
  EXPECT_EQ(at, (std::vector<int64_t>{100, 200, 300}));
}

TEST(EventLoop, VirtualTimersWaitWhileTheClockIsPaused) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  std::vector<std::pair<int64_t, int64_t>> at;  // (virtual, realtime)
  Timer v(loop, ClockType::kVirtual,
          [&] { at.emplace_back(clock.virtual_ns(), clock.realtime_ns()); });
  int rt_fired = 0;
  Timer r(loop, ClockType::kRealtime, [&] { ++rt_fired; });
  v.arm_at(100);
  r.arm_at(100);
  clock.advance(50);
  clock.pause();
  clock.advance(200);
  EXPECT_EQ(loop.run_once(0), 1);  // the realtime timer only
  EXPECT_EQ(rt_fired, 1);
  EXPECT_TRUE(at.empty());
  clock.resume();
  clock.advance(49);
  EXPECT_EQ(loop.run_once(0), 0);
  clock.advance(1);
  EXPECT_EQ(loop.run_once(0), 1);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0], std::make_pair(int64_t{100}, int64_t{300}));
}

TEST(EventLoop, LoopThreadWakesWhenAManualClockAdvances) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  Waiter w;
  int64_t fired_at = -1;
  Timer t(loop, ClockType::kVirtual, [&] {
    std::lock_guard<std::mutex> g(w.mu_);
    fired_at = clock.virtual_ns();
    w.notify();
  });
  loop.start();
  t.arm_at(1000);
  clock.advance(1000);  // the loop waits with no timeout; only the clock listener wakes it
  EXPECT_TRUE(w.wait([&] { return fired_at >= 0; }));
  EXPECT_EQ(fired_at, 1000);
  loop.stop();
}

TEST(EventLoop, HostTimerFiresOnTheLoopThread) {
  Clock clock;
  EventLoop loop(clock);
  Waiter w;
  bool fired = false, on_loop = false;
  Timer t(loop, ClockType::kRealtime, [&] {
    std::lock_guard<std::mutex> g(w.mu_);
    fired = true;
    on_loop = loop.on_loop_thread();
    w.notify();
  });
  loop.start();
  const int64_t armed_at = clock.realtime_ns();
  t.arm_in(2'000'000);
  EXPECT_TRUE(w.wait([&] { return fired; }));
  EXPECT_GE(clock.realtime_ns(), armed_at + 2'000'000);
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop.on_loop_thread());
  loop.stop();
}

TEST(EventLoop, PostsFromManyThreadsRunInOrderPerThread) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  loop.start();
  constexpr int kThreads = 4, kEach = 2000;
  Waiter w;
  std::vector<std::vector<int>> got(kThreads);
  int total = 0;
  bool all_on_loop = true;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        loop.post([&, t, i] {
          std::lock_guard<std::mutex> g(w.mu_);
          all_on_loop &= loop.on_loop_thread();
          got[t].push_back(i);
          ++total;
          w.notify();
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(w.wait([&] { return total == kThreads * kEach; }));
  loop.stop();
  EXPECT_TRUE(all_on_loop);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), size_t(kEach));
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(got[t][i], i);
  }
}

TEST(EventLoop, HandlerMayRemoveItselfAndOthersReadyInTheSameRound) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  Pipe p1, p2;
  int first = 0, second = 0;
  // Whichever runs first removes both; the other must not run even though epoll reported it.
  auto state = std::make_shared<std::string>("handler state");
  auto handler = [&, state](uint32_t) {
    (first == 0 ? first : second) += 1;
    loop.remove_fd(p1.r);
    loop.remove_fd(p2.r);
    EXPECT_EQ(*state, "handler state");  // still alive after removing itself
  };
  ASSERT_TRUE(loop.add_fd(p1.r, kFdRead, handler));
  ASSERT_TRUE(loop.add_fd(p2.r, kFdRead, handler));
  state.reset();
  p1.put();
  p2.put();
  EXPECT_EQ(loop.run_once(-1), 1);
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(loop.run_once(0), 0);
}

TEST(EventLoop, TimerHandlerMayRemoveALaterDueTimer) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  int late = 0;
  TimerId later = loop.add_timer(ClockType::kRealtime, [&] { ++late; });
  TimerId early = loop.add_timer(ClockType::kRealtime, [&] {
    loop.remove_timer(later);
    loop.remove_timer(early);
  });
  loop.arm_timer(early, 1);
  loop.arm_timer(later, 2);
  clock.advance(10);
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_EQ(late, 0);
  EXPECT_FALSE(loop.timer_armed(later));
}

TEST(EventLoop, RemoveFromAnotherThreadWaitsForARunningHandler) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  Pipe p;
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> handler_done{false};
  ASSERT_TRUE(loop.add_fd(p.r, kFdRead, [&](uint32_t) {
    p.drain();
    entered.set_value();
    released.wait();
    handler_done = true;
  }));
  p.put();
  loop.start();
  entered.get_future().wait();
  auto removed = std::async(std::launch::async, [&] {
    loop.remove_fd(p.r);
    return handler_done.load();
  });
  release.set_value();
  EXPECT_TRUE(removed.get());  // remove_fd returned only after the handler had finished
  loop.stop();
}

TEST(EventLoop, StopFromAHandler) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  loop.start();
  std::promise<void> stopped;
  loop.post([&] {
    loop.stop();  // must return at once on the loop thread
    stopped.set_value();
  });
  stopped.get_future().wait();
  loop.stop();  // joins the thread that left its loop
  int ran = 0;
  loop.post([&] { ++ran; });
  EXPECT_EQ(loop.run_once(0), 1);  // the thread is gone: run_once may drive the loop again
  EXPECT_EQ(ran, 1);
  loop.start();  // and it restarts
  std::promise<void> again;
  loop.post([&] { again.set_value(); });
  again.get_future().wait();
  EXPECT_EQ(loop.run_once(0), -1);  // refused while the thread runs
  loop.stop();
}

TEST(EventLoop, StopFromAnotherThreadWhileIdle) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  loop.start();
  std::promise<void> running;
  loop.post([&] { running.set_value(); });
  running.get_future().wait();
  auto done = std::async(std::launch::async, [&] { loop.stop(); });
  EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
  loop.stop();  // a second stop is harmless
}

// The loop is woken only when a timer is armed for before the time it already sleeps until:
// a later timer waits for the earlier one's wake-up, an earlier one interrupts a long sleep.
// Both must still fire on time (host clock; condition waits, no sleeps).
TEST(EventLoop, ArmingLaterOrEarlierTimersFromAnotherThreadFiresEachOnTime) {
  Clock clock;
  EventLoop loop(clock);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<char, int64_t>> fired;
  auto record = [&](char name) {
    return [&, name] {
      std::lock_guard<std::mutex> g(mu);
      fired.emplace_back(name, clock.realtime_ns());
      cv.notify_all();
    };
  };
  Timer a(loop, ClockType::kRealtime, record('a'));
  Timer b(loop, ClockType::kRealtime, record('b'));
  Timer c(loop, ClockType::kRealtime, record('c'));
  loop.start();
  const int64_t t0 = clock.realtime_ns();
  a.arm_at(t0 + 20'000'000);
  b.arm_at(t0 + 40'000'000);  // later than the loop's sleep: no wake-up needed
  {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return fired.size() == 2; }));
    EXPECT_EQ(fired[0].first, 'a');
    EXPECT_EQ(fired[1].first, 'b');
    EXPECT_GE(fired[0].second, t0 + 20'000'000);
    EXPECT_GE(fired[1].second, t0 + 40'000'000);
  }
  const int64_t t1 = clock.realtime_ns();
  a.arm_at(t1 + 3600'000'000'000);  // the loop now sleeps for an hour
  c.arm_at(t1 + 10'000'000);        // earlier: must wake it
  {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return fired.size() == 3; }));
    EXPECT_EQ(fired[2].first, 'c');
    EXPECT_GE(fired[2].second, t1 + 10'000'000);
  }
  loop.stop();
}

}  // namespace
}  // namespace orrery::hw
