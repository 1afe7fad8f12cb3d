#include "machine/virt/fdt.h"

extern "C" {
#include <libfdt.h>
}

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "machine/virt/psci.h"
#include "machine/virt/virt_map.h"

namespace orrery::machine::virt {

namespace {

// Phandles of the nodes others refer to.
constexpr uint32_t kPhandleGic = 0x8001;
constexpr uint32_t kPhandleClock = 0x8000;
constexpr uint32_t kPhandleCpu0 = 0x8100;
constexpr uint32_t kPhandleV2m = 0x8002;
constexpr uint32_t kPhandleIts = 0x8003;

// GIC binding: interrupt type and flags cells.
constexpr uint32_t kGicSpi = 0, kGicPpi = 1;
constexpr uint32_t kIrqTypeLevelHigh = 4;
constexpr uint32_t kIrqTypeEdgeRising = 1;

std::string node_name(const char* base, uint64_t addr) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s@%" PRIx64, base, addr);
  return buf;
}

/// Collects libfdt errors: the first one wins and later calls do nothing.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& buf) : buf_(buf) {}
  bool ok() const { return err_ == 0; }
  std::string error() const { return std::string("device tree: ") + fdt_strerror(err_); }
  void check(int r) {
    if (err_ == 0 && r < 0) err_ = r;
  }
  void* fdt() { return buf_.data(); }
  void begin(const std::string& name) { check(fdt_begin_node(fdt(), name.c_str())); }
  void end() { check(fdt_end_node(fdt())); }
  void u32(const char* n, uint32_t v) { check(fdt_property_u32(fdt(), n, v)); }
  void str(const char* n, const char* v) { check(fdt_property_string(fdt(), n, v)); }
  void empty(const char* n) { check(fdt_property(fdt(), n, nullptr, 0)); }
  /// A property of big-endian 32-bit cells.
  void cells(const char* n, std::initializer_list<uint32_t> v) {
    cells(n, std::vector<uint32_t>(v));
  }
  void cells(const char* n, const std::vector<uint32_t>& v) {
    std::vector<fdt32_t> be;
    for (uint32_t c : v) be.push_back(cpu_to_fdt32(c));
    check(fdt_property(fdt(), n, be.data(), int(be.size() * sizeof(fdt32_t))));
  }
  /// A list of NUL-separated strings.
  void strs(const char* n, std::initializer_list<const char*> v) {
    std::string s;
    for (const char* x : v) s.append(x).push_back('\0');
    check(fdt_property(fdt(), n, s.data(), int(s.size())));
  }
  /// reg with #address-cells = #size-cells = 2.
  void reg(std::initializer_list<std::pair<uint64_t, uint64_t>> ranges) {
    std::vector<uint32_t> v;
    for (auto [a, s] : ranges) {
      v.push_back(uint32_t(a >> 32));
      v.push_back(uint32_t(a));
      v.push_back(uint32_t(s >> 32));
      v.push_back(uint32_t(s));
    }
    cells("reg", v);
  }

 private:
  std::vector<uint8_t>& buf_;
  int err_ = 0;
};

void primecell(Writer& w, const char* base, VirtRegion r, const char* compatible) {
  const MemMapEntry& e = virt_region(r);
  w.begin(node_name(base, e.base));
  w.strs("compatible", {compatible, "arm,primecell"});
  w.reg({{e.base, e.size}});
  w.cells("interrupts", {kGicSpi, virt_spi(r), kIrqTypeLevelHigh});
  if (r == VirtRegion::Uart) {
    w.cells("clocks", {kPhandleClock, kPhandleClock});
    w.strs("clock-names", {"uartclk", "apb_pclk"});
  } else {
    w.cells("clocks", {kPhandleClock});
    w.strs("clock-names", {"apb_pclk"});
  }
  w.end();
}

/// QEMU's gpex node: ECAM, the I/O, 32-bit and 64-bit memory windows, INTx through the
/// interrupt-map (pin swizzled by slot onto four level SPIs) and MSI through the GICv2m frame if
/// there is one.
void pcie_node(Writer& w, const FdtConfig& cfg) {
  const MemMapEntry& ecam = virt_region(VirtRegion::PcieEcam);
  const MemMapEntry& mmio = virt_region(VirtRegion::PcieMmio);
  const MemMapEntry& pio = virt_region(VirtRegion::PciePio);
  const MemMapEntry& high = virt_region(VirtRegion::PcieMmio64);
  auto hi = [](uint64_t v) { return uint32_t(v >> 32); };
  auto lo = [](uint64_t v) { return uint32_t(v); };
  w.begin(node_name("pcie", mmio.base));
  w.str("compatible", "pci-host-ecam-generic");
  w.str("device_type", "pci");
  w.u32("#address-cells", 3);
  w.u32("#size-cells", 2);
  w.u32("linux,pci-domain", 0);
  w.cells("bus-range", {0, kPcieBuses - 1});
  w.empty("dma-coherent");
  w.reg({{ecam.base, ecam.size}});
  // PCI address (space code, high, low) -> CPU address (2 cells), size (2 cells). Memory is
  // identity-mapped; I/O starts at bus address 0.
  std::vector<uint32_t> ranges;
  auto range = [&](uint32_t space, uint64_t bus, const MemMapEntry& e) {
    for (uint32_t c : {space, hi(bus), lo(bus), hi(e.base), lo(e.base), hi(e.size), lo(e.size)})
      ranges.push_back(c);
  };
  range(0x01000000, 0, pio);
  range(0x02000000, mmio.base, mmio);
  range(0x03000000, high.base, high);  // 64-bit memory, as QEMU marks its high window
  w.cells("ranges", ranges);
  if (cfg.gicv2m) w.u32("msi-parent", kPhandleV2m);
  // With an ITS, each requester ID (bus << 8 | devfn) is the DeviceID, as on QEMU.
  if (cfg.its) w.cells("msi-map", {0, kPhandleIts, 0, 0x10000});
  // interrupt-map: for slots 0..3 and pins INTA..INTD, the entry is the device's address
  // (slot << 11), the pin, then the GIC (phandle, two address cells, an SPI specifier). The
  // mask keeps the slot's low two bits and the pin, so the map repeats every four slots.
  std::vector<uint32_t> map;
  for (uint32_t slot = 0; slot < 4; ++slot) {
    for (uint32_t pin = 0; pin < 4; ++pin) {
      const uint32_t spi = virt_spi(VirtRegion::PcieMmio) + (pin + slot) % 4;
      for (uint32_t c :
           {slot << 11, 0u, 0u, pin + 1, kPhandleGic, 0u, 0u, kGicSpi, spi, kIrqTypeLevelHigh})
        map.push_back(c);
    }
  }
  w.cells("interrupt-map", map);
  w.cells("interrupt-map-mask", {0x1800, 0, 0, 7});
  w.u32("#interrupt-cells", 1);
  w.end();
}

}  // namespace

std::string cpu_compatible(const std::string& model) {
  if (model.starts_with("cortex-") || model.starts_with("neoverse-")) return "arm," + model;
  return "arm,armv8";  // "max" and other synthetic models
}

std::string build_virt_fdt(const FdtConfig& cfg, std::vector<uint8_t>& out) {
  out.assign(64 * 1024, 0);
  Writer w(out);
  w.check(fdt_create(w.fdt(), int(out.size())));
  w.check(fdt_finish_reservemap(w.fdt()));
  w.begin("");
  w.str("compatible", "linux,dummy-virt");
  w.str("model", "Orrery virt");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.u32("interrupt-parent", kPhandleGic);

  w.begin("psci");
  w.strs("compatible", {"arm,psci-1.0", "arm,psci-0.2", "arm,psci"});
  w.str("method", "hvc");
  // PSCI 0.1 function IDs, for old kernels that read them from the tree.
  w.u32("cpu_suspend", psci::CPU_SUSPEND_64);
  w.u32("cpu_off", psci::CPU_OFF);
  w.u32("cpu_on", psci::CPU_ON_64);
  w.u32("migrate", psci::MIGRATE_64);
  w.end();

  w.begin(node_name("memory", kVirtRamBase));
  w.str("device_type", "memory");
  w.reg({{kVirtRamBase, cfg.ram_size}});
  w.end();

  w.begin("cpus");
  w.u32("#address-cells", 1);
  w.u32("#size-cells", 0);
  for (size_t i = 0; i < cfg.mpidrs.size(); ++i) {
    uint32_t aff = uint32_t(cfg.mpidrs[i] & 0xFF'FFFF);
    w.begin(node_name("cpu", aff));
    w.str("device_type", "cpu");
    w.str("compatible", cfg.cpu_compatible.c_str());
    w.u32("reg", aff);
    w.str("enable-method", "psci");
    w.u32("phandle", kPhandleCpu0 + uint32_t(i));
    w.end();
  }
  w.end();

  // Timer PPI flags: GICv2's binding also lists the CPUs the PPI is wired to.
  uint32_t ppi_flags = kIrqTypeLevelHigh;
  if (cfg.gic_version == 2) ppi_flags |= ((1u << cfg.mpidrs.size()) - 1) << 8;
  w.begin("timer");
  w.strs("compatible", {"arm,armv8-timer", "arm,armv7-timer"});
  w.cells("interrupts", {kGicPpi, kPpiTimerSecurePhys, ppi_flags, kGicPpi, kPpiTimerPhys, ppi_flags,
                         kGicPpi, kPpiTimerVirt, ppi_flags, kGicPpi, kPpiTimerHyp, ppi_flags});
  w.empty("always-on");
  w.end();
  if (cfg.pmu) {
    w.begin("pmu");
    w.str("compatible", "arm,armv8-pmuv3");
    w.cells("interrupts", {kGicPpi, kPpiPmu, ppi_flags});
    w.end();
  }

  const MemMapEntry& dist = virt_region(VirtRegion::GicDist);
  w.begin(node_name("intc", dist.base));
  if (cfg.gic_version == 3) {
    const MemMapEntry& rd = virt_region(VirtRegion::GicRedist);
    w.str("compatible", "arm,gic-v3");
    w.u32("#redistributor-regions", 1);
    w.reg({{dist.base, dist.size}, {rd.base, cfg.redist_size}});
  } else {
    const MemMapEntry& cpu = virt_region(VirtRegion::GicCpu);
    w.strs("compatible", {"arm,cortex-a15-gic"});
    w.reg({{dist.base, dist.size}, {cpu.base, cpu.size}});
  }
  w.u32("#interrupt-cells", 3);
  w.empty("interrupt-controller");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.empty("ranges");
  w.u32("phandle", kPhandleGic);
  if (cfg.gicv2m) {
    const MemMapEntry& v2m = virt_region(VirtRegion::GicV2m);
    w.begin(node_name("v2m", v2m.base));
    w.str("compatible", "arm,gic-v2m-frame");
    w.empty("msi-controller");
    w.reg({{v2m.base, v2m.size}});
    w.u32("phandle", kPhandleV2m);
    w.end();
  }
  if (cfg.its) {
    const MemMapEntry& its = virt_region(VirtRegion::GicIts);
    w.begin(node_name("its", its.base));
    w.str("compatible", "arm,gic-v3-its");
    w.empty("msi-controller");
    w.u32("#msi-cells", 1);
    w.reg({{its.base, its.size}});
    w.u32("phandle", kPhandleIts);
    w.end();
  }
  w.end();

  w.begin("apb-pclk");
  w.str("compatible", "fixed-clock");
  w.u32("#clock-cells", 0);
  w.u32("clock-frequency", 24'000'000);
  w.str("clock-output-names", "clk24mhz");
  w.u32("phandle", kPhandleClock);
  w.end();

  primecell(w, "pl011", VirtRegion::Uart, "arm,pl011");
  primecell(w, "pl031", VirtRegion::Rtc, "arm,pl031");

  // Every transport is described, filled or not (an empty one reports device ID 0), as QEMU
  // does; lowest address first, the order in which Linux probes them.
  const MemMapEntry& mmio = virt_region(VirtRegion::Mmio);
  for (unsigned i = 0; i < kVirtioMmioSlots; ++i) {
    const uint64_t base = mmio.base + i * kVirtioMmioSlotSize;
    w.begin(node_name("virtio_mmio", base));
    w.str("compatible", "virtio,mmio");
    w.reg({{base, kVirtioMmioSlotSize}});
    w.cells("interrupts", {kGicSpi, virt_spi(VirtRegion::Mmio) + i, kIrqTypeEdgeRising});
    w.empty("dma-coherent");
    w.end();
  }

  pcie_node(w, cfg);

  w.begin("chosen");
  std::string uart = "/" + node_name("pl011", virt_region(VirtRegion::Uart).base);
  w.str("stdout-path", uart.c_str());
  if (!cfg.bootargs.empty()) w.str("bootargs", cfg.bootargs.c_str());
  if (cfg.initrd_end > cfg.initrd_start) {
    w.check(fdt_property_u64(w.fdt(), "linux,initrd-start", cfg.initrd_start));
    w.check(fdt_property_u64(w.fdt(), "linux,initrd-end", cfg.initrd_end));
  }
  if (!cfg.rng_seed.empty()) {
    w.check(fdt_property(w.fdt(), "rng-seed", cfg.rng_seed.data(), int(cfg.rng_seed.size())));
    w.check(fdt_property_u64(w.fdt(), "kaslr-seed", cfg.kaslr_seed));
  }
  w.end();

  w.end();  // root
  w.check(fdt_finish(w.fdt()));
  if (!w.ok()) return w.error();
  w.check(fdt_pack(w.fdt()));
  if (!w.ok()) return w.error();
  out.resize(fdt_totalsize(out.data()));
  return {};
}

std::string check_user_dtb(std::span<const uint8_t> dtb) {
  if (dtb.size() < sizeof(fdt_header)) return "not a device tree blob (file too small)";
  int r = fdt_check_header(dtb.data());
  if (r != 0) return std::string("not a valid device tree blob: ") + fdt_strerror(r);
  uint32_t total = fdt_totalsize(dtb.data());
  if (total > dtb.size())
    return "device tree blob is truncated (header says " + std::to_string(total) +
           " bytes, file has " + std::to_string(dtb.size()) + ")";
  // fdt_check_header only bounds each block's start: libfdt's editing functions trust the
  // rest (a reserve map at the very end made fdt_open_into move a negative size). Walk the
  // whole structure block, then the reserve map, which fdt_check_full leaves alone.
  // Debian's libfdt 1.6.1 fdt_check_full dereferences fdt_get_name's result unchecked: a node
  // whose name cannot be read (the libFuzzer target found one) crashed it. Check names first.
  for (int offset = 0, next = 0;; offset = next) {
    const uint32_t tag = fdt_next_tag(dtb.data(), offset, &next);
    if (next < 0) return std::string("not a valid device tree blob: ") + fdt_strerror(next);
    // fdt_next_tag leaves next alone on some malformed tokens: never walk in place.
    if (next <= offset) return "not a valid device tree blob: structure block is malformed";
    if (tag == FDT_BEGIN_NODE && !fdt_get_name(dtb.data(), offset, nullptr))
      return "not a valid device tree blob: a node name is unreadable";
    if (tag == FDT_END) break;
  }
  r = fdt_check_full(dtb.data(), total);
  if (r != 0) return std::string("not a valid device tree blob: ") + fdt_strerror(r);
  uint32_t rsv = fdt_off_mem_rsvmap(dtb.data());
  uint32_t rsv_end = total;  // the map must end (a zero entry) before the next block
  for (uint32_t b : {fdt_off_dt_struct(dtb.data()), fdt_off_dt_strings(dtb.data())})
    if (b >= rsv) rsv_end = std::min(rsv_end, b);
  for (uint32_t off = rsv;; off += sizeof(fdt_reserve_entry)) {
    if (off % 8 != 0 || off > rsv_end || rsv_end - off < sizeof(fdt_reserve_entry))
      return "not a valid device tree blob: memory reserve map is not terminated";
    fdt64_t addr, size;
    std::memcpy(&addr, dtb.data() + off, sizeof addr);
    std::memcpy(&size, dtb.data() + off + 8, sizeof size);
    if (fdt64_to_cpu(addr) == 0 && fdt64_to_cpu(size) == 0) break;
  }
  return {};
}

std::string patch_chosen(std::vector<uint8_t>& dtb, const std::string& bootargs,
                         uint64_t initrd_start, uint64_t initrd_end) {
  std::string err = check_user_dtb(dtb);
  if (!err.empty()) return err;
  // Room for the new properties: each needs a tag, a length, a name offset, its value and a
  // name in the strings block (at most 12 + 8 + 20 bytes each beyond the value).
  std::vector<uint8_t> out(fdt_totalsize(dtb.data()) + bootargs.size() + 1024);
  int r = 0;
  r = fdt_open_into(dtb.data(), out.data(), int(out.size()));
  if (r == 0) {
    int chosen = fdt_path_offset(out.data(), "/chosen");
    if (chosen == -FDT_ERR_NOTFOUND) chosen = fdt_add_subnode(out.data(), 0, "chosen");
    r = chosen < 0 ? chosen : 0;
    if (r == 0 && !bootargs.empty())
      r = fdt_setprop_string(out.data(), chosen, "bootargs", bootargs.c_str());
    if (r == 0 && initrd_end > initrd_start) {
      r = fdt_setprop_u64(out.data(), chosen, "linux,initrd-start", initrd_start);
      if (r == 0) r = fdt_setprop_u64(out.data(), chosen, "linux,initrd-end", initrd_end);
    }
    if (r == 0) r = fdt_pack(out.data());
  }
  if (r != 0) return std::string("cannot update /chosen: ") + fdt_strerror(r);
  out.resize(fdt_totalsize(out.data()));
  dtb = std::move(out);
  return {};
}

}  // namespace orrery::machine::virt
