// The PC's ACPI tables: linked as SeaBIOS links them (the table-loader commands), every table's
// checksum and length, the RSDP/RSDT/XSDT pointers, the FADT/MADT/HPET fields that come from
// pc_map.h, the DSDT's patched PCI windows (its _CRS evaluated by acpiexec), and iasl -d
// disassembling every table without errors.
#include "machine/pc/pc_acpi.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/dsdt_aml.h"
#include "hw/acpi/acpi_builder.h"
#include "hw/acpi/acpi_pm.h"
#include "machine/pc/pc_map.h"

namespace orrery::machine::pc {
namespace {

constexpr uint64_t kTablesAt = 0x7fe0000, kRsdpAt = 0xf5a40;

uint64_t le(const std::vector<uint8_t>& v, size_t off, unsigned n) {
  uint64_t x = 0;
  for (unsigned i = 0; i < n; ++i) x |= uint64_t(v.at(off + i)) << (8 * i);
  return x;
}

struct Linked {
  std::vector<uint8_t> tables, rsdp;
  /// The table at guest address a, as a copy.
  std::vector<uint8_t> at(uint64_t a) const {
    const size_t off = size_t(a - kTablesAt);
    const size_t len = size_t(le(tables, off + 4, 4));
    return {tables.begin() + off, tables.begin() + off + len};
  }
};

/// The tables' input for a board with cpus vCPUs, below_4g/above_4g bytes of RAM and a CPU of
/// phys_bits address bits.
PcAcpiConfig config(unsigned cpus, uint64_t below_4g, uint64_t above_4g = 0,
                    unsigned phys_bits = 40) {
  return {cpus, pc_pci_windows(below_4g, above_4g, phys_bits)};
}

Linked link(const PcAcpiConfig& c) {
  PcAcpiFiles f = build_pc_acpi(c);
  std::map<std::string, std::vector<uint8_t>> files = {{kAcpiTablesFile, f.tables},
                                                       {kAcpiRsdpFile, f.rsdp}};
  std::map<std::string, uint64_t> bases = {{kAcpiTablesFile, kTablesAt}, {kAcpiRsdpFile, kRsdpAt}};
  EXPECT_EQ(hw::acpi::TableLoader::link(f.loader, files, bases), "");
  return {files[kAcpiTablesFile], files[kAcpiRsdpFile]};
}

/// Every table the XSDT lists, by signature, plus the DSDT (from the FADT) and the FACS.
std::map<std::string, std::vector<uint8_t>> tables_of(const Linked& l) {
  std::map<std::string, std::vector<uint8_t>> out;
  std::vector<uint8_t> xsdt = l.at(le(l.rsdp, 24, 8));
  out["XSDT"] = xsdt;
  out["RSDT"] = l.at(le(l.rsdp, 16, 4));
  for (size_t o = 36; o + 8 <= xsdt.size(); o += 8) {
    std::vector<uint8_t> t = l.at(le(xsdt, o, 8));
    out[std::string(t.begin(), t.begin() + 4)] = t;
  }
  const std::vector<uint8_t>& fadt = out.at("FACP");
  out["DSDT"] = l.at(le(fadt, 140, 8));
  out["FACS"] = l.at(le(fadt, 36, 4));
  return out;
}

TEST(PcAcpi, RsdpRsdtXsdtPointAtChecksummedTables) {
  Linked l = link(config(2, 128 << 20));
  ASSERT_EQ(l.rsdp.size(), 36u);
  EXPECT_EQ(std::string(l.rsdp.begin(), l.rsdp.begin() + 8), "RSD PTR ");
  EXPECT_EQ(l.rsdp[15], 2);  // revision
  EXPECT_EQ(hw::acpi::checksum(std::span(l.rsdp).first(20)), 0);
  EXPECT_EQ(hw::acpi::checksum(l.rsdp), 0);
  auto t = tables_of(l);
  for (const char* sig : {"XSDT", "RSDT", "FACP", "APIC", "HPET", "DSDT"}) {
    SCOPED_TRACE(sig);
    ASSERT_TRUE(t.count(sig));
    EXPECT_EQ(std::string(t[sig].begin(), t[sig].begin() + 4), sig);
    EXPECT_EQ(hw::acpi::checksum(t[sig]), 0);
  }
  EXPECT_EQ(t["FACS"].size(), 64u);
  EXPECT_EQ((le(t["FACP"], 36, 4) - kTablesAt) % 64, 0u);  // FACS alignment
  // RSDT and XSDT list the same tables.
  ASSERT_EQ(t["RSDT"].size() - 36, (t["XSDT"].size() - 36) / 2);
  for (size_t i = 0; 36 + 4 * i < t["RSDT"].size(); ++i)
    EXPECT_EQ(le(t["RSDT"], 36 + 4 * i, 4), le(t["XSDT"], 36 + 8 * i, 8));
}

TEST(PcAcpi, FadtFieldsComeFromTheBoardMap) {
  auto t = tables_of(link(config(1, 128 << 20)));
  const std::vector<uint8_t>& f = t["FACP"];
  EXPECT_EQ(f.size(), 244u);
  EXPECT_EQ(f[8], 3);                      // revision
  EXPECT_EQ(le(f, 40, 4), le(f, 140, 8));  // DSDT and X_DSDT agree
  EXPECT_EQ(le(f, 46, 2), kSciIrq);
  EXPECT_EQ(le(f, 48, 4), kApmCntPort);
  EXPECT_EQ(f[52], hw::acpi::AcpiPm::kAcpiEnable);
  EXPECT_EQ(f[53], hw::acpi::AcpiPm::kAcpiDisable);
  EXPECT_EQ(le(f, 56, 4), kPm1aEvtPort);
  EXPECT_EQ(le(f, 64, 4), kPm1aCntPort);
  EXPECT_EQ(le(f, 76, 4), kPmTimerPort);
  EXPECT_EQ(le(f, 80, 4), kGpe0Port);
  EXPECT_EQ(f[88], 4);
  EXPECT_EQ(f[89], 2);
  EXPECT_EQ(f[91], 4);
  EXPECT_EQ(f[108], kRtcCenturyIndex);
  EXPECT_EQ(le(f, 112, 4), 0x84a5u);  // QEMU pc's 0x80a5 and the reset register
  EXPECT_EQ(f[116], 1);               // reset register: system I/O,
  EXPECT_EQ(le(f, 120, 8), kResetControlPort);
  EXPECT_EQ(f[128], kResetControlValue);
  EXPECT_EQ(le(f, 148 + 4, 8), kPm1aEvtPort);  // X_PM1a_EVT_BLK
  EXPECT_EQ(le(f, 208 + 4, 8), kPmTimerPort);  // X_PM_TMR_BLK
  // More than 8 CPUs force the APIC cluster model, as QEMU.
  EXPECT_EQ(le(tables_of(link(config(9, 128 << 20)))["FACP"], 112, 4), 0x484a5u);
}

TEST(PcAcpi, MadtHasEveryCpuTheIoApicAndQemusOverrides) {
  auto t = tables_of(link(config(3, 128 << 20)));
  const std::vector<uint8_t>& m = t["APIC"];
  EXPECT_EQ(le(m, 36, 4), kLapicBase);
  std::vector<unsigned> apic_ids;
  std::map<unsigned, std::pair<unsigned, unsigned>> isos;  // irq -> gsi, flags
  bool ioapic = false, nmi = false;
  for (size_t o = 44; o < m.size(); o += m[o + 1]) {
    ASSERT_GE(m[o + 1], 2);
    switch (m[o]) {
      case 0:
        apic_ids.push_back(m[o + 3]);
        EXPECT_EQ(le(m, o + 4, 4), 1u);
        break;
      case 1:
        ioapic = true;
        EXPECT_EQ(m[o + 2], kIoApicId);
        EXPECT_EQ(le(m, o + 4, 4), kIoApicBase);
        EXPECT_EQ(le(m, o + 8, 4), 0u);
        break;
      case 2:
        isos[m[o + 3]] = {unsigned(le(m, o + 4, 4)), unsigned(le(m, o + 8, 2))};
        break;
      case 4:
        nmi = true;
        EXPECT_EQ(m[o + 2], 0xff);
        EXPECT_EQ(m[o + 5], 1);  // LINT1
        break;
    }
  }
  EXPECT_EQ(apic_ids, (std::vector<unsigned>{0, 1, 2}));
  EXPECT_TRUE(ioapic);
  EXPECT_TRUE(nmi);
  using P = std::pair<unsigned, unsigned>;
  EXPECT_EQ(isos,
            (std::map<unsigned, P>{
                {0, P{2, 0}}, {5, P{5, 0xd}}, {9, P{9, 0xd}}, {10, P{10, 0xd}}, {11, P{11, 0xd}}}));
}

TEST(PcAcpi, HpetTableNamesTheBoardsHpet) {
  auto t = tables_of(link(config(1, 128 << 20)));
  const std::vector<uint8_t>& h = t["HPET"];
  EXPECT_EQ(h.size(), 56u);
  EXPECT_EQ(le(h, 36, 4), kHpetBlockId);
  EXPECT_EQ(h[40], 0);  // system memory
  EXPECT_EQ(le(h, 44, 8), kHpetBase);
}

/// True if the compiled DSDT holds the byte sequence (a resource descriptor).
bool dsdt_has(std::vector<uint8_t> seq) {
  return std::search(firmware::kDsdtAml.begin(), firmware::kDsdtAml.end(), seq.begin(),
                     seq.end()) != firmware::kDsdtAml.end();
}
/// The DSDT's PMLO (firmware/dsdt.asl) holds the top of low RAM.
uint32_t pci_window_base(const std::vector<uint8_t>& dsdt) {
  const std::string s(dsdt.begin(), dsdt.end());
  size_t at = s.find("PMLO\x0c");
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(s.find("PMLO\x0c", at + 1), std::string::npos);
  return uint32_t(le(dsdt, at + 5, 4));
}

TEST(PcAcpi, DsdtPciWindowStartsAtTheTopOfLowRam) {
  EXPECT_EQ(pci_window_base(tables_of(link(config(1, 128 << 20)))["DSDT"]), 128u << 20);
  EXPECT_EQ(pci_window_base(tables_of(link(config(1, 3ull << 30)))["DSDT"]), 3u << 30);
  // The compiled AML carries the markers the board patches, once each.
  EXPECT_EQ(pci_window_base({firmware::kDsdtAml.begin(), firmware::kDsdtAml.end()}), 0x5a5a5a5au);
  EXPECT_TRUE(dsdt_has({'P', 'H', 'L', 'O', 0x0e, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a}));
  EXPECT_TRUE(dsdt_has({'P', 'H', 'H', 'I', 0x0e, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5}));
}

/// One memory window of a _CRS: an address space descriptor (DWord 0x87 or QWord 0x8a) of
/// resource type memory.
struct CrsWindow {
  uint8_t tag;
  uint64_t min, max, len;
};

/// Evaluates \_SB.PCI0._CRS of dsdt with acpiexec and returns its memory windows; fails the
/// test when acpiexec cannot run or prints no buffer.
std::vector<CrsWindow> pci0_memory_windows(const std::vector<uint8_t>& dsdt) {
  char tmpl[] = "/tmp/orrery-crs-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path aml = std::filesystem::path(tmpl) / "dsdt.aml";
  std::ofstream(aml, std::ios::binary)
      .write(reinterpret_cast<const char*>(dsdt.data()), std::streamsize(dsdt.size()));
  const std::string cmd =
      std::string(ORRERY_ACPIEXEC) + " -b 'evaluate \\_SB.PCI0._CRS' " + aml.string() + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << out;
  }
  std::filesystem::remove_all(tmpl);
  // The buffer's hex dump: "    0000: 88 0D 00 ...  // ascii".
  std::vector<uint8_t> buf;
  const size_t at = out.find("[Buffer]");
  EXPECT_NE(at, std::string::npos) << out;
  if (at == std::string::npos) return {};
  std::istringstream lines(out.substr(at));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    const size_t colon = line.find(": ");
    if (colon == std::string::npos || colon > 12) break;
    std::istringstream hex(line.substr(colon + 2, line.find("//") - colon - 2));
    std::string byte;
    while (hex >> byte) buf.push_back(uint8_t(std::stoul(byte, nullptr, 16)));
  }
  std::vector<CrsWindow> w;
  for (size_t o = 0; o < buf.size();) {
    const uint8_t tag = buf[o];
    if (!(tag & 0x80)) {  // small item: length in bits 2:0; 0x79 is the end tag
      if ((tag & 0x78) == 0x78) break;
      o += 1 + (tag & 7);
      continue;
    }
    const size_t len = le(buf, o + 1, 2);
    if (buf.at(o + 3) == 0) {  // resource type: memory range
      if (tag == 0x87)
        w.push_back({tag, le(buf, o + 10, 4), le(buf, o + 14, 4), le(buf, o + 22, 4)});
      if (tag == 0x8a)
        w.push_back({tag, le(buf, o + 14, 8), le(buf, o + 22, 8), le(buf, o + 38, 8)});
    }
    o += 3 + len;
  }
  return w;
}

TEST(PcAcpi, DsdtCrsDescribesTheBoardsPciWindows) {
  // 128 MiB, a 40-bit CPU: the VGA window, the 32-bit hole, and above 4 GiB up to the
  // HyperTransport range.
  std::vector<CrsWindow> w = pci0_memory_windows(tables_of(link(config(1, 128 << 20)))["DSDT"]);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].min, kVgaWindowBase);
  EXPECT_EQ(w[1].tag, 0x87);
  EXPECT_EQ(w[1].min, 128u << 20);
  EXPECT_EQ(w[1].max, kPciHoleEnd - 1);
  EXPECT_EQ(w[1].len, kPciHoleEnd - (128u << 20));
  EXPECT_EQ(w[2].tag, 0x8a);
  EXPECT_EQ(w[2].min, 4ull << 30);
  EXPECT_EQ(w[2].max, kAmdHtHoleBase - 1);
  EXPECT_EQ(w[2].len, kAmdHtHoleBase - (4ull << 30));
  // 3 GiB below and 2.5 GiB above 4 GiB, 36 address bits: from the next GiB to 64 GiB.
  const PcPciWindows p = pc_pci_windows(3ull << 30, 5ull << 29, 36);
  EXPECT_EQ(p.hole64_base, 7ull << 30);
  EXPECT_EQ(p.hole64_end, 64ull << 30);
  w = pci0_memory_windows(tables_of(link(config(1, 3ull << 30, 5ull << 29, 36)))["DSDT"]);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[2].min, p.hole64_base);
  EXPECT_EQ(w[2].max, p.hole64_end - 1);
  EXPECT_EQ(w[2].len, p.hole64_end - p.hole64_base);
  // RAM up to the end of a 32-bit address space: no 64-bit window, and no QWordMemory.
  EXPECT_FALSE(pc_pci_windows(3ull << 30, 1ull << 30, 32).has_hole64());
  w = pci0_memory_windows(tables_of(link(config(1, 3ull << 30, 1ull << 30, 32)))["DSDT"]);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].min, 3ull << 30);
}

/// IO (Decode16, port, port, align, len): fixed ports have alignment 0 or 1.
bool dsdt_has_io(uint16_t port, uint8_t len) {
  for (uint8_t align : {0, 1}) {
    if (dsdt_has({0x47, 0x01, uint8_t(port), uint8_t(port >> 8), uint8_t(port), uint8_t(port >> 8),
                  align, len}))
      return true;
  }
  return false;
}
std::vector<uint8_t> irq(unsigned n) {  // IRQNoFlags () {n}
  return {0x22, uint8_t(1u << n), uint8_t((1u << n) >> 8)};
}

TEST(PcAcpi, DsdtResourcesMatchTheBoardMap) {
  // The ASL cannot include pc_map.h; this ties its numbers to the map.
  for (auto [port, len] : {std::pair<uint16_t, uint8_t>{kPicMasterPort, 2},
                           {kPicSlavePort, 2},
                           {kElcrPort, 2},
                           {kPitPort, 4},
                           {kNmiStatusPort, 1},
                           {kRtcPort, 2},
                           {kKbdDataPort, 1},
                           {kKbdCmdPort, 1},
                           {kCom1Base, 8}}) {
    SCOPED_TRACE(port);
    EXPECT_TRUE(dsdt_has_io(port, len));
  }
  for (unsigned n : {2u, kPitIrq, kRtcIrq, kKbdIrq, kMouseIrq, kCom1Irq}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(dsdt_has(irq(n)));
  }
  std::vector<uint8_t> hpet = {0x86, 0x09, 0x00, 0x00};  // Memory32Fixed (ReadOnly, ...)
  for (int i = 0; i < 4; ++i) hpet.push_back(uint8_t(kHpetBase >> (8 * i)));
  for (int i = 0; i < 4; ++i) hpet.push_back(uint8_t(kHpetSize >> (8 * i)));
  EXPECT_TRUE(dsdt_has(hpet));
  // _S5: Package (4) {0, 0, 0, 0} -- SLP_TYP 0 (ZeroOp each).
  EXPECT_EQ(hw::acpi::AcpiPm::kSlpTypS5, 0u);
  EXPECT_TRUE(dsdt_has({'_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}));
}

TEST(PcAcpi, LinkRefusesCommandsOutsideTheirFiles) {
  hw::acpi::TableLoader loader;
  loader.allocate("a", 16, hw::acpi::TableLoader::Zone::High);
  loader.add_pointer("a", "a", 6, 4);  // 6 + 4 > 8
  std::map<std::string, std::vector<uint8_t>> files = {{"a", std::vector<uint8_t>(8)}};
  EXPECT_NE(hw::acpi::TableLoader::link(loader.bytes(), files, {{"a", 0x1000}}), "");
  hw::acpi::TableLoader misaligned;
  misaligned.allocate("a", 16, hw::acpi::TableLoader::Zone::High);
  EXPECT_NE(hw::acpi::TableLoader::link(misaligned.bytes(), files, {{"a", 0x1008}}), "");
}

/// Runs iasl -d on a table written to dir/NAME.dat; returns its output ("" if it could not run).
std::string disassemble(const std::filesystem::path& dir, const std::string& name,
                        const std::vector<uint8_t>& bytes, int& status) {
  const std::filesystem::path dat = dir / (name + ".dat");
  std::ofstream(dat, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  const std::string cmd = std::string(ORRERY_IASL) + " -d " + dat.string() + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  status = pclose(p);
  return out;
}

TEST(PcAcpi, IaslDisassemblesEveryTable) {
  char tmpl[] = "/tmp/orrery-acpi-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  Linked l = link(config(2, 512 << 20));
  // Every table with a header, and the FACS. iasl -d does not take a bare RSDP (no header);
  // RsdpRsdtXsdtPointAtChecksummedTables checks it.
  auto t = tables_of(l);
  for (const auto& [sig, bytes] : t) {
    SCOPED_TRACE(sig);
    int status = -1;
    std::string out = disassemble(dir, sig, bytes, status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;  // "Error", "error"
    EXPECT_EQ(out.find("nvalid"), std::string::npos) << out;
    EXPECT_EQ(out.find("ncorrect"), std::string::npos) << out;  // checksum / length warnings
    EXPECT_TRUE(std::filesystem::exists(dir / (sig + ".dsl"))) << out;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace orrery::machine::pc
