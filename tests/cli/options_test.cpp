// The command-line parser as a pure function: argv in, Options or one error line out.
#include "ui/options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "hw/core/log.h"
#include "machine/machine.h"

namespace orrery::ui {
namespace {

ParseResult parse(std::initializer_list<const char*> a) {
  std::vector<std::string> args(a.begin(), a.end());
  return parse_options(args);
}

std::string error_of(std::initializer_list<const char*> a) {
  return parse(a).error;
}

TEST(Options, Defaults) {
  ParseResult r = parse({"-kernel", "k.elf"});
  ASSERT_TRUE(r.ok()) << r.error;
  const Options& o = r.options;
  EXPECT_EQ(o.action, Action::Run);
  ASSERT_NE(o.machine, nullptr);
  EXPECT_EQ(o.machine->name, "virt");
  EXPECT_EQ(o.cpu, "cortex-a57");
  EXPECT_EQ(o.ram_size, 128u << 20);
  EXPECT_EQ(o.kernel, "k.elf");
  EXPECT_TRUE(o.serial.empty());
  EXPECT_FALSE(o.nographic);
  EXPECT_FALSE(o.no_reboot);
  EXPECT_EQ(o.log_mask, 0u);
  EXPECT_EQ(o.engine.tier, tcg::exec::Tier::Auto);
}

TEST(Options, TypicalQemuLine) {
  ParseResult r = parse({"-M", "virt", "-cpu", "max", "-m", "256", "-nographic", "-accel",
                         "tcg,tier=interp,thresh=10", "-kernel", "hello.elf", "-no-reboot", "-d",
                         "int,guest_errors", "-D", "/tmp/log", "--serial", "file:/tmp/out"});
  ASSERT_TRUE(r.ok()) << r.error;
  const Options& o = r.options;
  EXPECT_EQ(o.cpu, "max");
  EXPECT_EQ(o.ram_size, 256u << 20);
  EXPECT_TRUE(o.nographic);
  EXPECT_TRUE(o.no_reboot);
  EXPECT_EQ(o.engine.tier, tcg::exec::Tier::Interp);
  EXPECT_EQ(o.engine.hot_threshold, 10u);
  EXPECT_TRUE(o.engine.policy.by_benefit);
  EXPECT_FALSE(
      parse({"-accel", "tcg,policy=count", "-kernel", "k"}).options.engine.policy.by_benefit);
  // The persistent translation cache: off unless asked for.
  EXPECT_EQ(o.engine.tcg_cache_dir, "");
  const auto cached =
      parse({"-accel", "tcg,cache=/tmp/tc,cache-size=64M", "-kernel", "k"}).options.engine;
  EXPECT_EQ(cached.tcg_cache_dir, "/tmp/tc");
  EXPECT_EQ(cached.tcg_cache_bytes, uint64_t(64) << 20);
  EXPECT_TRUE(cached.tcg_cache_baseline);
  EXPECT_FALSE(parse({"-accel", "tcg,cache=/tmp/tc,cache-baseline=off", "-kernel", "k"})
                   .options.engine.tcg_cache_baseline);
  EXPECT_NE(error_of({"-accel", "tcg,cache-baseline=maybe", "-kernel", "k"}), "");
  EXPECT_EQ(parse({"-accel", "tcg,cache-size=4096", "-kernel", "k"}).options.engine.tcg_cache_bytes,
            4096u);
  EXPECT_EQ(
      parse({"-accel", "tcg,cache=/x,cache=off", "-kernel", "k"}).options.engine.tcg_cache_dir, "");
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(parse({"-accel", "tcg,cache=on", "-kernel", "k"}).options.engine.tcg_cache_dir,
            "/tmp/xdg/orrery/tcg");
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(o.log_mask, uint32_t(hw::kLogInt | hw::kLogGuestErrors));
  EXPECT_EQ(o.log_file, "/tmp/log");
  ASSERT_EQ(o.serial.size(), 1u);
  EXPECT_EQ(o.serial[0].kind, ChardevSpec::Kind::File);
  EXPECT_EQ(o.serial[0].path, "/tmp/out");
}

TEST(Options, MachineLongFormsAndOrderIndependence) {
  EXPECT_TRUE(parse({"-machine", "type=virt", "-kernel", "k"}).ok());
  // -cpu before -M is checked against the machine given later.
  EXPECT_TRUE(parse({"-cpu", "max", "-M", "virt", "-kernel", "k"}).ok());
}

TEST(Options, Tiers) {
  EXPECT_EQ(parse({"-accel", "tcg,tier=baseline", "-kernel", "k"}).options.engine.tier,
            tcg::exec::Tier::Baseline);
  EXPECT_EQ(parse({"-accel", "tcg,tier=llvm", "-kernel", "k"}).options.engine.tier,
            tcg::exec::Tier::Llvm);
  EXPECT_EQ(parse({"-accel", "tcg,tier=auto", "-kernel", "k"}).options.engine.tier,
            tcg::exec::Tier::Auto);
  EXPECT_EQ(parse({"-accel", "tcg", "-kernel", "k"}).options.engine.tier, tcg::exec::Tier::Auto);
}

TEST(Options, RamSizes) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"128", 128ull << 20},     {"128M", 128ull << 20},  {"128m", 128ull << 20},
      {"1G", 1ull << 30},        {"2g", 2ull << 30},      {"1.5G", 3ull << 29},
      {"524288K", 512ull << 20}, {"0x100", 256ull << 20}, {"size=64M", 64ull << 20},
      {"1T", 1ull << 40},        {"8193B", 16384},        {"1K", 8192},  // rounded up to 8 KiB
  };
  for (const Case& c : cases) {
    ParseResult r = parse({"-m", c.text, "-kernel", "k"});
    if (c.bytes > (255ull << 30)) continue;
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error;
    EXPECT_EQ(r.options.ram_size, c.bytes) << c.text;
  }
  uint64_t b = 0;
  EXPECT_FALSE(parse_ram_size("16E", b));  // 2^64 overflows
  EXPECT_TRUE(parse_ram_size("15E", b));
  EXPECT_FALSE(parse_ram_size("99999999999999999999999", b));
  EXPECT_FALSE(parse_ram_size("", b));
  EXPECT_FALSE(parse_ram_size("M", b));
  EXPECT_FALSE(parse_ram_size("12Q", b));
  EXPECT_FALSE(parse_ram_size("12MB", b));
  EXPECT_FALSE(parse_ram_size("1.", b));
  EXPECT_FALSE(parse_ram_size("-1", b));
  EXPECT_FALSE(parse_ram_size("0x", b));
}

TEST(Options, RamLimits) {
  EXPECT_EQ(error_of({"-m", "0", "-kernel", "k"}), "-m 0: RAM size must be greater than zero");
  EXPECT_EQ(error_of({"-m", "garbage", "-kernel", "k"}),
            "-m garbage: invalid RAM size (expected a number with an optional K, M, G or T "
            "suffix)");
  EXPECT_EQ(error_of({"-m", "256G", "-kernel", "k"}),
            "-m 256G: RAM size exceeds the virt machine's maximum of 255 GiB");
  EXPECT_TRUE(parse({"-m", "255G", "-kernel", "k"}).ok());
  EXPECT_NE(error_of({"-m", "1G,slots=2", "-kernel", "k"}), "");
}

TEST(Options, HelpActions) {
  EXPECT_EQ(parse({"-help"}).options.action, Action::Help);
  EXPECT_EQ(parse({"-h"}).options.action, Action::Help);
  EXPECT_EQ(parse({"--help"}).options.action, Action::Help);
  EXPECT_EQ(parse({"-version"}).options.action, Action::Version);
  EXPECT_EQ(parse({"-M", "help"}).options.action, Action::MachineHelp);
  EXPECT_EQ(parse({"-M", "?"}).options.action, Action::MachineHelp);
  EXPECT_EQ(parse({"-M", "virt,help"}).options.action, Action::MachinePropHelp);
  EXPECT_EQ(parse({"-M", "pc,gic-version=2,?"}).options.action, Action::MachinePropHelp);
  EXPECT_EQ(parse({"-cpu", "help"}).options.action, Action::CpuHelp);
  EXPECT_EQ(parse({"-d", "help"}).options.action, Action::LogHelp);
  EXPECT_EQ(parse({"-accel", "help"}).options.action, Action::AccelHelp);
  // Help needs no -kernel.
  EXPECT_TRUE(parse({"-cpu", "help"}).ok());
}

TEST(Options, Errors) {
  EXPECT_EQ(error_of({"-nosuch"}), "-nosuch: unknown option (-help lists them)");
  EXPECT_EQ(error_of({"disk.img"}), "'disk.img': unexpected argument (options start with '-')");
  EXPECT_EQ(error_of({"-m"}), "-m: missing argument SIZE");
  EXPECT_EQ(error_of({"-kernel"}), "-kernel: missing argument FILE");
  EXPECT_EQ(error_of({"-M", "nosuch", "-kernel", "k"}),
            "-M nosuch: unknown machine type 'nosuch' (-M help lists them)");
  EXPECT_EQ(error_of({"-cpu", "nosuch", "-kernel", "k"}),
            "-cpu nosuch: unknown CPU model for machine 'virt' (-cpu help lists them)");
  EXPECT_EQ(
      error_of({"-accel", "tcg,tier=bogus", "-kernel", "k"}),
      "-accel tcg,tier=bogus: unknown tier 'bogus' (expected interp, baseline, llvm or auto)");
  EXPECT_EQ(error_of({"-accel", "bogus", "-kernel", "k"}),
            "-accel bogus: unknown accelerator 'bogus' (-accel help lists them)");
  // KVM runs the pc board only; virt (the default) says so.
  EXPECT_EQ(error_of({"-accel", "kvm", "-kernel", "k"}),
            "-accel kvm: the virt machine does not support KVM (use tcg)");
  EXPECT_EQ(error_of({"-enable-kvm", "-kernel", "k"}),
            "-accel kvm: the virt machine does not support KVM (use tcg)");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "kvm,kernel-irqchip=split", "-kernel", "k"}),
            "-accel kvm,kernel-irqchip=split: kernel-irqchip=split is not supported (use on or "
            "off)");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "kvm,foo=1", "-kernel", "k"}),
            "-accel kvm,foo=1: unknown kvm property 'foo' (expected kernel-irqchip)");
  EXPECT_EQ(error_of({"-M", "pc", "-cpu", "host", "-kernel", "k"}), "-cpu host: needs -accel kvm");
  EXPECT_NE(error_of({"-accel", "tcg,thresh=x", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-accel", "tcg,thresh=99999999999", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-accel", "tcg,foo=1", "-kernel", "k"}), "");
  EXPECT_EQ(error_of({"-accel", "tcg,policy=often", "-kernel", "k"}),
            "-accel tcg,policy=often: invalid policy 'often' (expected benefit or count)");
  EXPECT_EQ(error_of({"-accel", "tcg,cache-size=lots", "-kernel", "k"}),
            "-accel tcg,cache-size=lots: invalid cache-size 'lots' (expected bytes with an "
            "optional K, M, G or T suffix)");
  EXPECT_NE(error_of({"-accel", "tcg,cache-size=0", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-accel", "tcg,cache=", "-kernel", "k"}), "");
  EXPECT_EQ(error_of({"-d", "nosuch", "-kernel", "k"}),
            "-d nosuch: unknown log item 'nosuch' (-d help lists them)");
  EXPECT_NE(error_of({"-d", "int,,exec", "-kernel", "k"}), "");
  EXPECT_EQ(error_of({"-serial", "bogus", "-kernel", "k"}),
            "-serial bogus: unknown character device (expected stdio, file:PATH or none)");
  EXPECT_NE(error_of({"-serial", "file:", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-serial", "stdio", "-serial", "none", "-kernel", "k"}).find("too many"),
            std::string::npos);
  EXPECT_EQ(error_of({"-M", "virt,gic-version=3", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-M", "virt,gic-version=4", "-kernel", "k"}).find("gic-version"),
            std::string::npos);
  EXPECT_NE(error_of({"-M", "virt,secure=on", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-smp", "0", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-smp", "9", "-kernel", "k"}).find("at most 8"), std::string::npos);
  EXPECT_EQ(error_of({"-smp", "cpus=4,maxcpus=4", "-kernel", "k"}), "");
  EXPECT_NE(error_of({"-smp", "2,sockets=2", "-kernel", "k"}), "");
  EXPECT_NE(error_of({}).find("no kernel"), std::string::npos);
  EXPECT_NE(error_of({"-display", "gtk", "-kernel", "k"}), "");
  EXPECT_TRUE(parse({"-display", "none", "-nic", "none", "-kernel", "k"}).ok());
}

TEST(Options, ErrorsAreOneLine) {
  for (auto r : {parse({"-nosuch"}), parse({"-m", "x"}), parse({"-M", "x"}), parse({"-cpu", "x"}),
                 parse({"-serial", "x"}), parse({"-accel", "x"}), parse({"-d", "x"}), parse({})}) {
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
  }
}

TEST(Options, HelpTexts) {
  EXPECT_NE(help_text().find("-kernel"), std::string::npos);
  EXPECT_NE(machine_help_text().find("virt"), std::string::npos);
  EXPECT_NE(cpu_help_text(machine::default_machine_type()).find("cortex-a57"), std::string::npos);
  EXPECT_NE(log_help_text().find("guest_errors"), std::string::npos);
  EXPECT_NE(accel_help_text().find("tier="), std::string::npos);
  EXPECT_NE(accel_help_text().find("kernel-irqchip="), std::string::npos);
  EXPECT_NE(version_text().find("Orrery"), std::string::npos);
}

TEST(ChardevSpec, Parse) {
  ChardevSpec s;
  EXPECT_EQ(parse_chardev_spec("stdio", s), "");
  EXPECT_EQ(s.kind, ChardevSpec::Kind::Stdio);
  EXPECT_EQ(parse_chardev_spec("none", s), "");
  EXPECT_EQ(s.kind, ChardevSpec::Kind::Null);
  EXPECT_EQ(parse_chardev_spec("null", s), "");
  EXPECT_EQ(parse_chardev_spec("file:/a/b", s), "");
  EXPECT_EQ(s.kind, ChardevSpec::Kind::File);
  EXPECT_EQ(s.path, "/a/b");
  EXPECT_NE(parse_chardev_spec("file:", s), "");
  EXPECT_NE(parse_chardev_spec("pty", s), "");
}

TEST(Chardev, FileBackendWritesEverything) {
  char path[] = "/tmp/orrery_chardev_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ChardevSpec spec{ChardevSpec::Kind::File, path};
  std::string err;
  {
    auto dev = create_chardev(spec, {}, err);
    ASSERT_TRUE(dev) << err;
    const uint8_t msg[] = {'h', 'i', '\n'};
    dev->write(msg);
  }
  FILE* f = std::fopen(path, "r");
  ASSERT_TRUE(f);
  char buf[8] = {};
  EXPECT_EQ(std::fread(buf, 1, sizeof buf, f), 3u);
  std::fclose(f);
  std::remove(path);
  EXPECT_STREQ(buf, "hi\n");
  spec.path = "/nonexistent/dir/file";
  EXPECT_EQ(create_chardev(spec, {}, err), nullptr);
  EXPECT_NE(err.find("/nonexistent/dir/file"), std::string::npos);
}

TEST(Options, AccelUnimpChoosesBetweenUndefAndStop) {
  EXPECT_FALSE(parse({"-kernel", "k"}).options.engine.stop_on_unimplemented);
  EXPECT_TRUE(
      parse({"-accel", "tcg,unimp=stop", "-kernel", "k"}).options.engine.stop_on_unimplemented);
  EXPECT_FALSE(
      parse({"-accel", "tcg,unimp=undef", "-kernel", "k"}).options.engine.stop_on_unimplemented);
  EXPECT_EQ(error_of({"-accel", "tcg,unimp=x", "-kernel", "k"}),
            "-accel tcg,unimp=x: invalid unimp 'x' (expected stop or undef)");
}

}  // namespace
}  // namespace orrery::ui

namespace orrery::ui {
namespace {

TEST(Options, AppendLongerThanLinuxAcceptsIsRejected) {
  std::string longest(kMaxAppendLength, 'x');
  ParseResult ok = parse({"-kernel", "k", "-append", longest.c_str()});
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.options.append, longest);
  std::string too_long(kMaxAppendLength + 1, 'x');
  ParseResult bad = parse({"-kernel", "k", "-append", too_long.c_str()});
  EXPECT_EQ(bad.error, "-append: kernel command line is too long (2048 bytes; at most 2047)");
}

}  // namespace
}  // namespace orrery::ui

namespace orrery::ui {
namespace {

TEST(Options, NetdevUserAndVirtioNetDevice) {
  ParseResult r = parse({"-netdev", "user,id=n0,hostfwd=tcp::2222-:22", "-device",
                         "virtio-net-device,netdev=n0,mac=52:54:00:00:00:01", "-kernel", "k"});
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.options.netdevs.size(), 1u);
  EXPECT_EQ(r.options.netdevs[0].id, "n0");
  ASSERT_EQ(r.options.netdevs[0].hostfwd.size(), 1u);
  EXPECT_EQ(r.options.netdevs[0].hostfwd[0].host_addr, 0x7f000001u);  // 127.0.0.1
  ASSERT_EQ(r.options.devices.size(), 1u);
  EXPECT_EQ(r.options.devices[0].driver, "virtio-net-device");
}

TEST(Options, NicUserWithVirtioNetDeviceModel) {
  ParseResult r = parse({"-nic", "user,model=virtio-net-device,hostfwd=tcp::8080-:80", "-kernel",
                         "k", "-nic", "user,model=virtio-net-device,mac=52:54:00:12:34:57"});
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.options.netdevs.size(), 2u);
  ASSERT_EQ(r.options.devices.size(), 2u);
  EXPECT_NE(r.options.netdevs[0].id, r.options.netdevs[1].id);
  EXPECT_EQ(r.options.devices[0].driver, "virtio-net-device");
  using Props = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.options.devices[0].props, (Props{{"netdev", r.options.netdevs[0].id}}));
  EXPECT_EQ(r.options.devices[1].props,
            (Props{{"netdev", r.options.netdevs[1].id}, {"mac", "52:54:00:12:34:57"}}));
}

TEST(Options, NicErrors) {
  EXPECT_TRUE(parse({"-nic", "none", "-kernel", "k"}).ok());
  ParseResult nic = parse({"-nic", "user", "-kernel", "k"});
  ASSERT_TRUE(nic.ok()) << nic.error;
  EXPECT_EQ(nic.options.devices.at(0).driver, "virtio-net-pci");  // QEMU's default on virt
  EXPECT_EQ(error_of({"-nic", "user,model=e1000"}),
            "-nic user,model=e1000: unknown NIC model 'e1000' (virtio-net-pci or "
            "virtio-net-device)");
  EXPECT_EQ(error_of({"-nic", "tap"}),
            "-nic tap: only the 'user' backend is supported (got 'tap')");
  EXPECT_EQ(error_of({"-net", "user"}), "-net user: only none is supported (use -nic or -netdev)");
  EXPECT_EQ(error_of({"-netdev", "user"}), "-netdev user: user needs id=NAME");
  EXPECT_EQ(error_of({"-netdev", "user,id=a", "-netdev", "user,id=a"}),
            "-netdev user,id=a: duplicate netdev id 'a'");
}

TEST(Options, DriveIfVirtioAddsAVirtioBlkPci) {
  ParseResult r =
      parse({"-kernel", "k", "-device", "virtio-rng-pci", "-drive", "file=a.img", "-drive",
             "file=b.img,if=virtio,id=disk", "-drive", "file=c.img,if=none,id=c"});
  ASSERT_TRUE(r.ok()) << r.error;
  const Options& o = r.options;
  ASSERT_EQ(o.drives.size(), 3u);
  EXPECT_EQ(o.drives[0].id, "virtio0");
  EXPECT_EQ(o.drives[1].id, "disk");
  // The -device devices first, then one virtio-blk-pci per if=virtio drive.
  ASSERT_EQ(o.devices.size(), 3u);
  EXPECT_EQ(o.devices[0].driver, "virtio-rng-pci");
  EXPECT_EQ(o.devices[1].driver, "virtio-blk-pci");
  EXPECT_EQ(o.devices[1].props,
            (std::vector<std::pair<std::string, std::string>>{{"drive", "virtio0"}}));
  EXPECT_EQ(o.devices[2].props[0].second, "disk");
}

}  // namespace
}  // namespace orrery::ui

namespace orrery::ui {
namespace {

TEST(Options, PcDrivesAreIdeByDefault) {
  ParseResult r = parse({"-M", "pc", "-kernel", "k", "-drive", "file=a.img", "-hdb", "b.img",
                         "-cdrom", "c.iso", "-drive", "file=d.img,if=virtio"});
  ASSERT_TRUE(r.ok()) << r.error;
  const Options& o = r.options;
  ASSERT_EQ(o.drives.size(), 4u);
  using hw::block::DriveInterface;
  EXPECT_EQ(o.drives[0].interface, DriveInterface::kIde);
  EXPECT_EQ(o.drives[0].index, 0);
  EXPECT_EQ(o.drives[0].id, "ide0-hd0");
  EXPECT_EQ(o.drives[1].index, 1);
  EXPECT_EQ(o.drives[1].id, "ide0-hd1");
  EXPECT_EQ(o.drives[2].index, 2);
  EXPECT_EQ(o.drives[2].id, "ide1-cd0");
  EXPECT_TRUE(o.drives[2].read_only);
  EXPECT_EQ(o.drives[2].media, hw::block::DriveMedia::kCdrom);
  EXPECT_EQ(o.drives[3].interface, DriveInterface::kVirtio);
  ASSERT_EQ(o.devices.size(), 1u);
  EXPECT_EQ(o.devices[0].driver, "virtio-blk-pci");
  EXPECT_EQ(o.devices[0].props[0].second, o.drives[3].id);
  // An explicit index is placed first; the others fill the lowest free ones.
  r = parse({"-M", "pc", "-kernel", "k", "-drive", "file=a.img,if=ide", "-drive",
             "file=b.img,if=ide,index=0,media=cdrom"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.drives[0].index, 1);
  EXPECT_EQ(r.options.drives[1].id, "ide0-cd0");
}

TEST(Options, IdeAndNicErrors) {
  EXPECT_EQ(error_of({"-M", "pc", "-kernel", "k", "-hda", "a", "-drive", "file=b,index=0"}),
            "-drive file=b,index=0: IDE index 0 is already in use");
  EXPECT_EQ(error_of({"-M", "pc", "-kernel", "k", "-hda", "a", "-hdb", "b", "-hdc", "c", "-hdd",
                      "d", "-drive", "file=e"}),
            "-drive file=e: all 4 IDE indexes are in use");
  EXPECT_EQ(error_of({"-kernel", "k", "-cdrom", "c.iso"}),
            "-cdrom c.iso: the virt machine has no IDE");
  EXPECT_EQ(error_of({"-kernel", "k", "-drive", "file=x,media=cdrom"}),
            "-drive file=x,media=cdrom: media=cdrom needs if=ide");
  EXPECT_EQ(error_of({"-M", "pc", "-kernel", "k", "-nic", "user"}),
            "-nic user: the pc machine's default NIC model is e1000, which Orrery lacks; use "
            "model=virtio-net-pci");
  ParseResult r = parse({"-M", "pc", "-kernel", "k", "-nic", "user,model=virtio-net-pci"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.devices[0].driver, "virtio-net-pci");
  r = parse({"-kernel", "k", "-nic", "user"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.devices[0].driver, "virtio-net-pci");
}

// -boot in QEMU's spellings: key=value items, or the old bare order ("-boot d").
TEST(Options, BootOrderMenuAndTimeouts) {
  ParseResult r = parse({"-M", "pc", "-boot", "order=dc,menu=on,splash-time=500,reboot-timeout=0"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.boot.order, "dc");
  EXPECT_TRUE(r.options.boot.menu);
  EXPECT_EQ(r.options.boot.splash_time, 500);
  EXPECT_EQ(r.options.boot.reboot_timeout, 0);
  EXPECT_FALSE(r.options.boot.strict);
  r = parse({"-M", "pc", "-boot", "c"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.boot.order, "c");
  EXPECT_FALSE(r.options.boot.menu);
  r = parse({"-M", "pc"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.boot.order, "cad");  // QEMU's pc default
  EXPECT_EQ(r.options.boot.reboot_timeout, -1);
  r = parse({"-M", "pc", "-boot", "menu=off,strict=on"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.options.boot.strict);
  EXPECT_EQ(r.options.boot.order, "cad");
}

TEST(Options, BootErrors) {
  EXPECT_EQ(error_of({"-boot", "order=cc"}),
            "-boot order=cc: order: boot device 'c' was given twice");
  EXPECT_EQ(error_of({"-boot", "order=z"}), "-boot order=z: order: invalid boot device 'z'");
  EXPECT_EQ(error_of({"-boot", "order="}), "-boot order=: order: no boot device given");
  EXPECT_EQ(error_of({"-boot", "menu=maybe"}), "-boot menu=maybe: menu: expected on or off");
  EXPECT_EQ(error_of({"-boot", "splash-time=70000"}),
            "-boot splash-time=70000: splash-time: expected 0..65535 (ms)");
  EXPECT_EQ(error_of({"-boot", "c,d"}), "-boot c,d: 'd': expected key=value");
  EXPECT_EQ(error_of({"-boot", "colour=red"}), "-boot colour=red: unknown key 'colour'");
}

TEST(Options, VerifyAccelerator) {
  Options o = parse({"-M", "pc", "-accel", "verify", "-kernel", "k"}).options;
  EXPECT_EQ(o.accel.kind, AccelKind::Verify);
  EXPECT_EQ(o.accel.verify.test, tcg::exec::Tier::Baseline);
  EXPECT_EQ(o.accel.verify.inject, cpu::x86::InjectedBug::kNone);
  o = parse({"-M", "pc", "-accel", "verify,ref=interp,test=llvm,inject=adc-carry", "-kernel", "k"})
          .options;
  EXPECT_EQ(o.accel.verify.test, tcg::exec::Tier::Llvm);
  EXPECT_EQ(o.accel.verify.inject, cpu::x86::InjectedBug::kAdcCarry);
  EXPECT_EQ(error_of({"-accel", "verify", "-kernel", "k"}),
            "-accel verify: the virt machine does not support it (use pc)");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "verify,test=interp", "-kernel", "k"}),
            "-accel verify: test=interp needs ref=kvm (the interpreter is the reference)");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "verify,test=jit", "-kernel", "k"}),
            "-accel verify,test=jit: invalid test 'jit' (expected interp, baseline, llvm or auto)");
  EXPECT_FALSE(o.accel.verify.ref_kvm);
  o = parse({"-M", "pc", "-accel", "verify,ref=kvm,test=auto", "-kernel", "k"}).options;
  EXPECT_TRUE(o.accel.verify.ref_kvm);
  EXPECT_EQ(o.accel.verify.test, tcg::exec::Tier::Auto);
  o = parse({"-M", "pc", "-accel", "verify,test=interp,ref=kvm", "-kernel", "k"}).options;
  EXPECT_EQ(o.accel.verify.test, tcg::exec::Tier::Interp);
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "verify,ref=qemu", "-kernel", "k"}),
            "-accel verify,ref=qemu: invalid ref 'qemu' (expected interp or kvm)");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "verify,inject", "-kernel", "k"}),
            "-accel verify,inject: verify property 'inject' needs a value");
  EXPECT_EQ(error_of({"-M", "pc", "-accel", "verify,foo=1", "-kernel", "k"}),
            "-accel verify,foo=1: unknown verify property 'foo' (expected ref, test or inject)");
}

TEST(Options, KvmAccelerator) {
  Options o = parse({"-M", "pc", "-accel", "kvm", "-kernel", "k"}).options;
  EXPECT_EQ(o.accel.kind, AccelKind::Kvm);
  EXPECT_TRUE(o.accel.kernel_irqchip);
  EXPECT_FALSE(o.accel.tcg_fallback);
  o = parse({"-M", "pc", "-accel", "kvm,kernel-irqchip=off", "-kernel", "k"}).options;
  EXPECT_FALSE(o.accel.kernel_irqchip);
  o = parse({"-M", "pc", "-accel", "kvm:tcg", "-kernel", "k"}).options;
  EXPECT_TRUE(o.accel.tcg_fallback);
  o = parse({"-M", "pc", "-enable-kvm", "-cpu", "host", "-kernel", "k"}).options;
  EXPECT_EQ(o.accel.kind, AccelKind::Kvm);
  EXPECT_EQ(o.cpu, "max");  // KVM's whole CPUID, as -cpu max under KVM
  // An explicit fallback lets a board without KVM run on TCG.
  EXPECT_TRUE(parse({"-accel", "kvm:tcg", "-kernel", "k"}).ok());
  // The last -accel wins, as in QEMU.
  EXPECT_EQ(
      parse({"-M", "pc", "-accel", "kvm", "-accel", "tcg", "-kernel", "k"}).options.accel.kind,
      AccelKind::Tcg);
}

}  // namespace
}  // namespace orrery::ui
