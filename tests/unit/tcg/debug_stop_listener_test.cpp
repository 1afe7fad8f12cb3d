// DebugState's stop listener: told when a stop is reported (the whole machine stopped) and when
// the debugger lets the machine run again, so a board can pause its virtual clock meanwhile.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "hw/core/log.h"
#include "tcg/exec/engine.h"

namespace orrery::tcg {
namespace {

TEST(DebugStopListener, ToldOfEachStopAndResume) {
  hw::Log log;
  exec::EngineOptions opt;
  opt.tier = exec::Tier::Interp;
  exec::Engine engine(opt, log);
  ASSERT_EQ(engine.init(), "");
  exec::DebugState& d = engine.debug();
  std::vector<bool> calls;
  d.set_stop_listener([&](bool stopped) { calls.push_back(stopped); });
  d.activate(false);
  // Nothing stopped yet: no report, no call.
  EXPECT_FALSE(d.take_stop(std::chrono::milliseconds(0)));
  EXPECT_TRUE(calls.empty());
  d.request_stop_all();  // no vCPUs: stopped at once
  ASSERT_TRUE(d.take_stop(std::chrono::milliseconds(1000)));
  EXPECT_EQ(calls, std::vector<bool>{true});
  d.resume({});
  EXPECT_EQ(calls, (std::vector<bool>{true, false}));
  d.release_all();  // detaching lets the machine run too
  EXPECT_EQ(calls, (std::vector<bool>{true, false, false}));
  d.set_stop_listener({});
  d.request_stop_all();
  ASSERT_TRUE(d.take_stop(std::chrono::milliseconds(1000)));
  EXPECT_EQ(calls.size(), 3u);
  d.deactivate();
}

}  // namespace
}  // namespace orrery::tcg
