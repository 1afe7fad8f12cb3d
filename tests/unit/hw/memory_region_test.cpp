// The region tree behind AddressSpace: containers, aliases, priorities, changes while readers
// run, the listener's changed ranges, bounded memory, and access attributes.
#include <malloc.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/guest_memory.h"
#include "hw/core/ram_backing.h"

namespace orrery::hw {
namespace {

// Answers base + offset, and remembers the last access's offset and attributes.
class Probe final : public MmioDevice {
 public:
  explicit Probe(uint64_t tag) : tag(tag) {}
  MemResult read(uint64_t offset, unsigned, uint64_t& value) override {
    value = tag + offset;
    return MemResult::Ok;
  }
  MemResult write(uint64_t offset, unsigned, uint64_t value) override {
    last_write = value;
    last_offset = offset;
    return MemResult::Ok;
  }
  MemResult read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                       const MemAttrs& attrs) override {
    last_attrs = attrs;
    last_offset = offset;
    return read(offset, size, value);
  }
  MemResult write_attrs(uint64_t offset, unsigned size, uint64_t value,
                        const MemAttrs& attrs) override {
    last_attrs = attrs;
    return write(offset, size, value);
  }
  const uint64_t tag;
  uint64_t last_write = 0, last_offset = ~0ull;
  MemAttrs last_attrs;
};

uint64_t rd(const AddressSpace& as, uint64_t a, unsigned size = 4) {
  uint64_t v = ~0ull;
  EXPECT_EQ(as.read(a, size, v), MemResult::Ok) << std::hex << a;
  return v;
}

struct Recorder final : MemoryListener {
  void memory_map_changed(const AddressSpace&, const std::vector<AddrRange>& c) override {
    last = c;
    ++calls;
  }
  std::vector<AddrRange> last;
  int calls = 0;
};

TEST(MemoryRegion, ContainerPlacesItsSubregionsRelativeToItself) {
  AddressSpace as;
  std::string err;
  auto box = MemoryRegion::container("box", 0x10000);
  auto ram = MemoryRegion::ram("ram", 0x1000, err);
  Probe p(0x500);
  auto dev = MemoryRegion::mmio("dev", 0x100, p);
  ASSERT_EQ(box->add_subregion(*ram, 0x2000), "");
  ASSERT_EQ(box->add_subregion(*dev, 0x4000), "");
  ASSERT_EQ(as.root().add_subregion(*box, 0x100000), "");
  auto r = as.find(0x102010);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "ram");
  EXPECT_EQ(r->base, 0x102000u);
  EXPECT_EQ(r->size, 0x1000u);
  EXPECT_EQ(as.find(0x101000), nullptr);  // a container maps nothing by itself
  EXPECT_EQ(rd(as, 0x104008), 0x508u);
  ASSERT_EQ(as.write(0x102010, 4, 0xabcd), MemResult::Ok);
  EXPECT_EQ(ram->host()[0x10], 0xcd);
  as.root().remove_subregion(*box);
  EXPECT_EQ(as.find(0x102010), nullptr);
  EXPECT_TRUE(as.regions().empty());
}

TEST(MemoryRegion, AliasIntoRomShowsItsTailBelowOneMiB) {
  // The PC BIOS: the last 128 KiB of the ROM at the top of 4 GiB also appear at 0xe0000.
  AddressSpace as;
  std::string err;
  auto bios = MemoryRegion::rom("pc.bios", 0x40000, err);
  ASSERT_TRUE(bios);
  bios->host()[0x3fff0] = 0xea;  // the reset vector's far jump
  auto isa = MemoryRegion::alias("isa-bios", *bios, 0x20000, 0x20000);
  ASSERT_EQ(as.root().add_subregion(*bios, 0xfffc0000), "");
  ASSERT_EQ(as.root().add_subregion(*isa, 0xe0000), "");
  EXPECT_EQ(rd(as, 0xffff0, 1), 0xeau);
  EXPECT_EQ(rd(as, 0xfffffff0, 1), 0xeau);
  auto r = as.find(0xffff0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "isa-bios");
  EXPECT_EQ(r->kind, RegionKind::Rom);
  EXPECT_EQ(r->backing_offset, 0x20000u);
  EXPECT_EQ(as.host_ptr(0xffff0, 16), bios->host() + 0x3fff0);
  // ROM stays read-only through the alias.
  ASSERT_EQ(as.write(0xffff0, 1, 0), MemResult::Ok);
  EXPECT_EQ(rd(as, 0xfffffff0, 1), 0xeau);
}

TEST(MemoryRegion, AliasIntoMmioOffsetsTheDevice) {
  AddressSpace as;
  Probe p(0x1000);
  auto dev = MemoryRegion::mmio("bar", 0x1000, p);  // not mapped itself
  auto win = MemoryRegion::alias("window", *dev, 0x800, 0x100);
  ASSERT_EQ(as.root().add_subregion(*win, 0x40000000), "");
  EXPECT_EQ(rd(as, 0x40000010), 0x1810u);
  EXPECT_EQ(as.find(0x40000100), nullptr);  // past the window
  win->set_alias_offset(0x100);
  EXPECT_EQ(rd(as, 0x40000010), 0x1110u);
}

TEST(MemoryRegion, HigherPriorityCoversAndUncovers) {
  AddressSpace as;
  ASSERT_EQ(as.add_ram("ram", 0, 0x100000), "");
  ASSERT_EQ(as.write(0xa0000, 4, 0x11223344), MemResult::Ok);
  Probe vga(0x7000);
  auto hole = MemoryRegion::mmio("vga", 0x20000, vga);
  ASSERT_EQ(as.root().add_subregion(*hole, 0xa0000, 1), "");
  auto v = as.regions();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].name, "ram");
  EXPECT_EQ(v[0].size, 0xa0000u);
  EXPECT_EQ(v[1].name, "vga");
  EXPECT_EQ(v[2].base, 0xc0000u);
  EXPECT_EQ(v[2].backing_offset, 0xc0000u);
  EXPECT_EQ(rd(as, 0xa0000), 0x7000u);
  hole->set_enabled(false);  // the RAM shows through
  EXPECT_EQ(rd(as, 0xa0000), 0x11223344u);
  EXPECT_EQ(as.regions().size(), 1u);
  hole->set_enabled(true);
  EXPECT_EQ(rd(as, 0xa0000), 0x7000u);
  as.root().remove_subregion(*hole);
  EXPECT_EQ(rd(as, 0xa0000), 0x11223344u);
  ASSERT_EQ(as.root().add_subregion(*hole, 0xa0000, -1), "");  // below the RAM: hidden
  EXPECT_EQ(rd(as, 0xa0000), 0x11223344u);
  EXPECT_EQ(as.regions().size(), 1u);
  as.root().remove_subregion(*hole);
}

TEST(MemoryRegion, EqualPriorityOverlapsAreRejected) {
  AddressSpace as;
  Probe a(0), b(0);
  auto ra = MemoryRegion::mmio("bar0", 0x1000, a);
  auto rb = MemoryRegion::mmio("bar1", 0x1000, b);
  ASSERT_EQ(as.root().add_subregion(*ra, 0x1000), "");
  EXPECT_EQ(as.root().add_subregion(*rb, 0x1800), "bar1: overlaps bar0");
  ASSERT_EQ(as.root().add_subregion(*rb, 0x2000), "");
  EXPECT_EQ(rb->set_address(0x1fff), "bar1: overlaps bar0");
  EXPECT_EQ(rb->address(), 0x2000u);
  // A disabled region overlaps nothing; enabling it onto its sibling is refused.
  ra->set_enabled(false);
  EXPECT_EQ(rb->set_address(0x1000), "");
  ra->set_enabled(true);
  EXPECT_FALSE(ra->enabled());
  EXPECT_EQ(as.add_ram("ram", 0x1000, 0x1000), "ram: overlaps bar1");
  EXPECT_EQ(as.root().add_subregion(*ra, 0), "bar0: region is already mapped");
  as.root().remove_subregion(*ra);
  as.root().remove_subregion(*rb);
}

TEST(MemoryRegion, MoveIsPublishedWithTheChangedRanges) {
  AddressSpace as;
  Recorder rec;
  as.add_listener(&rec);
  Probe p(0x100);
  auto bar = MemoryRegion::mmio("bar", 0x1000, p);
  ASSERT_EQ(as.root().add_subregion(*bar, 0xfe000000), "");
  ASSERT_EQ(rec.last.size(), 1u);
  EXPECT_EQ(rec.last[0].addr, 0xfe000000u);
  EXPECT_EQ(rec.last[0].len, 0x1000u);
  ASSERT_EQ(bar->set_address(0xfe001000), "");  // adjacent: one range of both places
  ASSERT_EQ(rec.last.size(), 1u);
  EXPECT_EQ(rec.last[0].addr, 0xfe000000u);
  EXPECT_EQ(rec.last[0].len, 0x2000u);
  EXPECT_EQ(as.find(0xfe000000), nullptr);
  EXPECT_EQ(rd(as, 0xfe001004), 0x104u);
  const int calls = rec.calls;
  bar->set_enabled(true);  // no change, no view
  EXPECT_EQ(rec.calls, calls);
  as.root().remove_subregion(*bar);
}

TEST(MemoryRegion, DestroyingAMappedRegionUnmapsIt) {
  AddressSpace as;
  Probe p(0);
  {
    auto bar = MemoryRegion::mmio("bar", 0x1000, p);
    ASSERT_EQ(as.root().add_subregion(*bar, 0x1000), "");
    EXPECT_TRUE(as.find(0x1000));
  }
  EXPECT_EQ(as.find(0x1000), nullptr);
}

TEST(MemoryRegion, ReadersSeeOneViewOrTheNextWhileARegionMoves) {
  AddressSpace as;
  std::string err;
  ASSERT_EQ(as.add_ram("low", 0, 0x10000), "");
  struct Constant final : MmioDevice {  // stateless: read by two threads at once
    MemResult read(uint64_t offset, unsigned, uint64_t& value) override {
      value = 0x5000 + offset;
      return MemResult::Ok;
    }
    MemResult write(uint64_t, unsigned, uint64_t) override { return MemResult::Ok; }
  } p;
  auto bar = MemoryRegion::mmio("bar", 0x1000, p);
  ASSERT_EQ(as.root().add_subregion(*bar, 0x100000), "");
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, seen{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        for (uint64_t a : {0x100010ull, 0x200010ull}) {
          auto r = as.find(a);
          if (r && (r->name != "bar" || r->size != 0x1000 || r->offset != 0 || !r->contains(a)))
            ++bad;
          uint64_t v = 0;
          if (as.read(a, 4, v) == MemResult::Ok) {
            if (v != 0x5010) ++bad;
            ++seen;
          }
        }
        if (as.find(0x8000)->name != "low") ++bad;
      }
    });
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(bar->set_address(i & 1 ? 0x100000 : 0x200000), "");
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(seen.load(), 0u);
  as.root().remove_subregion(*bar);
}

TEST(MemoryRegion, MovingARegionOneHundredThousandTimesUsesConstantMemory) {
  AddressSpace as;
  ASSERT_EQ(as.add_ram("ram", 0, 0x100000), "");
  Probe p(0);
  auto bar = MemoryRegion::mmio("bar", 0x1000, p);
  ASSERT_EQ(as.root().add_subregion(*bar, 0x200000), "");
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(bar->set_address(0x200000 + (i & 7) * 0x1000), "");
  const size_t before = mallinfo2().uordblks;
  const uint64_t gen = as.generation();
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(bar->set_address(0x200000 + (i & 7) * 0x1000), "");
  EXPECT_EQ(as.generation(), gen + 100000);
  const size_t after = mallinfo2().uordblks;
  EXPECT_LT(after, before + 64 * 1024) << "views leak";
  as.root().remove_subregion(*bar);
}

TEST(MemoryRegion, DeviceAccessesCarryTheRequesterAttributes) {
  AddressSpace as;
  Probe p(0);
  ASSERT_EQ(as.add_mmio("msi", 0xfee00000, 0x1000, p), "");
  ASSERT_EQ(as.add_ram("ram", 0, 0x1000), "");
  uint64_t v;
  ASSERT_EQ(as.read(0xfee00000, 4, v, MemAttrs::cpu(3)), MemResult::Ok);
  EXPECT_EQ(p.last_attrs, MemAttrs::cpu(3));
  ASSERT_EQ(as.read(0xfee00000, 4, v), MemResult::Ok);
  EXPECT_EQ(p.last_attrs.requester, MemAttrs::Requester::None);
  // DMA: the device the memory was made for.
  GuestMemory dma(as, MemAttrs::device(0x18));
  ASSERT_EQ(dma.write_word(0xfee0000c, 4, 0x4021), MemResult::Ok);
  EXPECT_EQ(p.last_attrs, MemAttrs::device(0x18));
  EXPECT_EQ(p.last_write, 0x4021u);
  ASSERT_EQ(dma.write_word(0x10, 4, 7), MemResult::Ok);
  EXPECT_EQ(rd(as, 0x10), 7u);
  // Split accesses keep them too.
  struct Bytes final : MmioDevice {
    MemResult read(uint64_t, unsigned, uint64_t& value) override {
      value = 0;
      return MemResult::Ok;
    }
    MemResult write(uint64_t, unsigned, uint64_t) override { return MemResult::Ok; }
    MemResult read_attrs(uint64_t o, unsigned s, uint64_t& v, const MemAttrs& a) override {
      ids.push_back(a.id);
      return read(o, s, v);
    }
    AccessRules impl() const override { return {1, 1, false}; }
    std::vector<unsigned> ids;
  } bytes;
  ASSERT_EQ(as.add_mmio("bytes", 0x10000, 8, bytes), "");
  ASSERT_EQ(as.read(0x10000, 4, v, MemAttrs::cpu(1)), MemResult::Ok);
  EXPECT_EQ(bytes.ids, (std::vector<unsigned>{1, 1, 1, 1}));
}

// Records what a RamListener is told, and what a reader saw of the new base meanwhile.
struct RamRecorder final : RamListener {
  explicit RamRecorder(uint64_t probe = 0) : probe(probe) {}
  void ram_changed(const AddressSpace& as, const std::vector<RamRange>& r) override {
    calls.push_back(r);
    probe_seen.push_back(bool(as.find(probe)));
  }
  uint64_t probe;
  std::vector<std::vector<RamRange>> calls;
  std::vector<bool> probe_seen;  // whether the view published at the call already mapped probe
};

TEST(RamListener, ToldRamAndRomBeforeEachViewThatChangesThem) {
  AddressSpace as;
  std::string err;
  ASSERT_EQ(as.add_ram("low", 0, 0x10000), "");
  RamRecorder rec(0x100000);
  as.add_ram_listener(&rec);
  ASSERT_EQ(rec.calls.size(), 1u);  // the current RAM at once
  ASSERT_EQ(rec.calls[0].size(), 1u);
  EXPECT_EQ(rec.calls[0][0].base, 0u);
  EXPECT_EQ(rec.calls[0][0].size, 0x10000u);
  EXPECT_EQ(rec.calls[0][0].host, as.host_ptr(0, 1));
  EXPECT_FALSE(rec.calls[0][0].readonly);
  EXPECT_EQ(rec.calls[0][0].fd, -1);

  // Add: told before the view maps it.
  auto ram = MemoryRegion::ram("ram", 0x4000, err);
  ASSERT_EQ(as.root().add_subregion(*ram, 0x100000), "");
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_FALSE(rec.probe_seen[1]);
  ASSERT_EQ(rec.calls[1].size(), 2u);
  EXPECT_EQ(rec.calls[1][1].base, 0x100000u);
  EXPECT_EQ(rec.calls[1][1].host, ram->host());
  EXPECT_TRUE(as.find(0x100000));

  // An MMIO change alters no RAM: not told.
  Probe p(0);
  ASSERT_EQ(as.add_mmio("dev", 0x200000, 0x1000, p), "");
  EXPECT_EQ(rec.calls.size(), 2u);

  // Move: the old place was still mapped while the listener heard of the new one.
  ASSERT_EQ(ram->set_address(0x300000), "");
  ASSERT_EQ(rec.calls.size(), 3u);
  EXPECT_TRUE(rec.probe_seen[2]);
  EXPECT_EQ(rec.calls[2][1].base, 0x300000u);

  // A read-only alias of it, over part of low RAM at a higher priority: cuts low RAM in two.
  auto ro = MemoryRegion::alias("ro", *ram, 0x1000, 0x2000);
  ro->set_readonly(true);
  ASSERT_EQ(as.root().add_subregion(*ro, 0x8000, 1), "");
  ASSERT_EQ(rec.calls.size(), 4u);
  const std::vector<RamRange>& v = rec.calls[3];
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].base, 0u);
  EXPECT_EQ(v[0].size, 0x8000u);
  EXPECT_EQ(v[1].base, 0x8000u);
  EXPECT_EQ(v[1].size, 0x2000u);
  EXPECT_EQ(v[1].host, ram->host() + 0x1000);
  EXPECT_TRUE(v[1].readonly);
  EXPECT_EQ(v[2].base, 0xa000u);
  EXPECT_EQ(v[2].host, as.host_ptr(0xa000, 1));
  EXPECT_EQ(v[3].base, 0x300000u);
  // Writes through the read-only alias are dropped; reads see the RAM.
  ASSERT_EQ(as.write(0x8000, 4, 0x1234), MemResult::Ok);
  EXPECT_EQ(rd(as, 0x8000), 0u);
  ASSERT_EQ(as.write(0x301000, 4, 0x5678), MemResult::Ok);
  EXPECT_EQ(rd(as, 0x8000), 0x5678u);
  // Writable again, then gone.
  ro->set_readonly(false);
  ASSERT_EQ(rec.calls.size(), 5u);
  EXPECT_FALSE(rec.calls[4][1].readonly);
  as.root().remove_subregion(*ro);
  ASSERT_EQ(rec.calls.size(), 6u);
  ASSERT_EQ(rec.calls[5].size(), 2u);  // low RAM is one range again
  EXPECT_EQ(rec.calls[5][0].size, 0x10000u);
  // Remove.
  as.root().remove_subregion(*ram);
  ASSERT_EQ(rec.calls.size(), 7u);
  EXPECT_EQ(rec.calls[6].size(), 1u);
  EXPECT_EQ(rec.calls[6], as.ram_ranges());
  as.remove_ram_listener(&rec);
  ASSERT_EQ(as.add_ram("more", 0x400000, 0x1000), "");
  EXPECT_EQ(rec.calls.size(), 7u);
}

TEST(RamListener, MemfdRangesCarryTheirFdAndOffset) {
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::memfd("ram", 0x20000, true, err);
  ASSERT_TRUE(b) << err;
  AddressSpace as;
  // Two pieces of one backing around a hole, and a piece contiguous with the first.
  ASSERT_EQ(as.add_ram("a", 0, b, 0, 0x8000), "");
  ASSERT_EQ(as.add_ram("b", 0x8000, b, 0x8000, 0x4000), "");
  ASSERT_EQ(as.add_ram("c", 0x100000, b, 0x10000, 0x10000), "");
  RamRecorder rec;
  as.add_ram_listener(&rec);
  ASSERT_EQ(rec.calls.size(), 1u);
  const std::vector<RamRange>& v = rec.calls[0];
  ASSERT_EQ(v.size(), 2u);  // a and b merge
  EXPECT_EQ(v[0].size, 0xc000u);
  EXPECT_EQ(v[0].fd, b->fd());
  EXPECT_EQ(v[0].fd_offset, 0u);
  EXPECT_EQ(v[1].base, 0x100000u);
  EXPECT_EQ(v[1].fd, b->fd());
  EXPECT_EQ(v[1].fd_offset, 0x10000u);
  EXPECT_EQ(v[1].host, b->host() + 0x10000);
  as.remove_ram_listener(&rec);
}

// The VmFlags line of the mapping that holds p in /proc/self/smaps, or "" (none found).
std::string vm_flags_of(const void* p) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = at >= lo && at < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

// Guest RAM starts on small host pages (first touches of fresh huge pages cost a VM host ~5x
// more per MiB); an accelerator that maps it into hardware page tables asks for huge ones.
TEST(RamBacking, StartsOnSmallPagesUntilHugeOnesAreAsked) {
  std::string err;
  auto b = RamBacking::anonymous(uint64_t(8) << 20, err);
  ASSERT_TRUE(b) << err;
  const std::string before = vm_flags_of(b->host());
  if (before.empty()) GTEST_SKIP() << "no /proc/self/smaps";
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"))
    GTEST_SKIP() << "the host kernel has no transparent huge pages (no advice to give)";
  EXPECT_NE(before.find(" nh"), std::string::npos) << before;
  EXPECT_EQ(before.find(" hg"), std::string::npos) << before;
  advise_huge_pages(b->host(), b->size());
  const std::string after = vm_flags_of(b->host());
  EXPECT_NE(after.find(" hg"), std::string::npos) << after;
  EXPECT_EQ(after.find(" nh"), std::string::npos) << after;
}

}  // namespace
}  // namespace orrery::hw
