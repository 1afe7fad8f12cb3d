#include "ui/gdbstub/session.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "ui/gdbstub/packet.h"

namespace orrery::ui::gdbstub {

namespace {

constexpr std::string_view kErrAccess = "E14";  // EFAULT, as QEMU replies for bad memory
constexpr std::string_view kErrInvalid = "E22";  // EINVAL

/// Splits s at the first sep into head and tail (tail empty without sep).
std::pair<std::string_view, std::string_view> split(std::string_view s, char sep) {
  size_t i = s.find(sep);
  if (i == std::string_view::npos) return {s, {}};
  return {s.substr(0, i), s.substr(i + 1)};
}

/// Parses "ADDR,LEN" into addr and len.
bool parse_addr_len(std::string_view s, uint64_t& addr, uint64_t& len) {
  auto [a, l] = split(s, ',');
  auto av = parse_hex(a), lv = parse_hex(l);
  if (!av || !lv) return false;
  addr = *av;
  len = *lv;
  return true;
}

std::string hex_number(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", (unsigned long long)v);
  return buf;
}

std::string thread_id(unsigned t) { return hex_number(t + 1); }

}  // namespace

std::optional<int64_t> Session::parse_thread(std::string_view s) const {
  if (s.starts_with("p")) {  // multiprocess form pPID.TID (gdb may send it regardless)
    auto [pid, tid] = split(s.substr(1), '.');
    (void)pid;
    if (tid.empty()) return kAll;
    s = tid;
  }
  if (s == "-1") return kAll;
  std::optional<uint64_t> v = parse_hex(s);
  if (!v) return std::nullopt;
  if (*v == 0) return kAny;
  if (*v > target_.thread_count() || !target_.thread_alive(unsigned(*v - 1)))
    return std::nullopt;
  return int64_t(*v - 1);
}

unsigned Session::pick_thread(int64_t t) const {
  return t >= 0 ? unsigned(t) : g_thread_;
}

Session::Action Session::handle(std::string_view p, std::string& reply) {
  reply.clear();
  if (p.empty()) return Action::Reply;
  const char cmd = p[0];
  const std::string_view args = p.substr(1);
  switch (cmd) {
    case '?':
      reply = last_stop_;
      return Action::Reply;
    case 'g':
      reply = read_registers();
      return Action::Reply;
    case 'G':
      reply = write_registers(args);
      return Action::Reply;
    case 'p':
      reply = read_register(args);
      return Action::Reply;
    case 'P':
      reply = write_register(args);
      return Action::Reply;
    case 'm':
      reply = read_memory(args);
      return Action::Reply;
    case 'M':
      reply = write_memory(args, false);
      return Action::Reply;
    case 'X':
      reply = write_memory(args, true);
      return Action::Reply;
    case 'c':
    case 'C':
    case 's':
    case 'S':
      return resume_legacy(cmd, args, reply);
    case 'H': {
      if (args.empty()) {
        reply = kErrInvalid;
        return Action::Reply;
      }
      std::optional<int64_t> t = parse_thread(args.substr(1));
      if (!t || (args[0] != 'g' && args[0] != 'c')) {
        reply = kErrInvalid;
        return Action::Reply;
      }
      (args[0] == 'g' ? g_thread_ : c_thread_) = pick_thread(*t);
      reply = "OK";
      return Action::Reply;
    }
    case 'T': {
      std::optional<int64_t> t = parse_thread(args);
      reply = t && *t >= 0 ? "OK" : std::string(kErrInvalid);
      return Action::Reply;
    }
    case 'Z':
    case 'z':
      reply = breakpoint(args, cmd == 'Z');
      return Action::Reply;
    case 'D':
      target_.detach();
      reply = "OK";
      return Action::Detach;
    case 'k':
      return Action::Kill;
    case 'q':
    case 'Q':
      reply = query(p);
      return Action::Reply;
    case 'v':
      if (p.starts_with("vCont")) return vcont(p.substr(5), reply);
      if (p == "vCtrlC") {
        target_.request_stop();
        reply = "OK";
        return Action::Reply;
      }
      if (p.starts_with("vKill")) {
        reply = "OK";
        return Action::Kill;
      }
      return Action::Reply;  // vMustReplyEmpty and everything unknown: empty
    default:
      return Action::Reply;  // unknown packets get an empty reply
  }
}

std::string Session::stop_reply(const cpu::GdbStopEvent& e, bool attach) {
  std::string r;
  switch (e.kind) {
    case cpu::GdbStopKind::Interrupt:
      r = attach ? "T05" : "T02";
      break;
    case cpu::GdbStopKind::SwBreak:
      r = "T05swbreak:;";
      break;
    case cpu::GdbStopKind::HwBreak:
      r = "T05hwbreak:;";
      break;
    case cpu::GdbStopKind::Watch:
    case cpu::GdbStopKind::ReadWatch:
    case cpu::GdbStopKind::AccessWatch: {
      char buf[48];
      const char* name = e.kind == cpu::GdbStopKind::Watch       ? "watch"
                         : e.kind == cpu::GdbStopKind::ReadWatch ? "rwatch"
                                                                 : "awatch";
      std::snprintf(buf, sizeof buf, "T05%s:%llx;", name, (unsigned long long)e.addr);
      r = buf;
      break;
    }
    case cpu::GdbStopKind::Step:
      r = "T05";
      break;
  }
  r += "thread:" + thread_id(e.thread) + ";";
  g_thread_ = c_thread_ = e.thread;
  last_stop_ = r;
  return r;
}

std::string Session::read_registers() {
  std::string out;
  std::vector<uint8_t> buf;
  for (unsigned r = 0; r < target_.g_register_count(); ++r) {
    buf.assign(target_.register_bytes(r), 0);
    if (!target_.read_register(g_thread_, r, buf)) return std::string(kErrAccess);
    out += to_hex(buf);
  }
  return out;
}

std::string Session::write_registers(std::string_view hex) {
  std::optional<std::vector<uint8_t>> data = from_hex(hex);
  if (!data) return std::string(kErrInvalid);
  size_t off = 0;
  for (unsigned r = 0; r < target_.g_register_count(); ++r) {
    const unsigned n = target_.register_bytes(r);
    if (off + n > data->size()) break;  // a short G writes the registers it covers
    if (!target_.write_register(g_thread_, r, std::span(*data).subspan(off, n)))
      return std::string(kErrAccess);
    off += n;
  }
  return "OK";
}

std::string Session::read_register(std::string_view args) {
  std::optional<uint64_t> r = parse_hex(args);
  if (!r || *r >= target_.register_count()) return std::string(kErrInvalid);
  std::vector<uint8_t> buf(target_.register_bytes(unsigned(*r)));
  if (!target_.read_register(g_thread_, unsigned(*r), buf)) return std::string(kErrAccess);
  return to_hex(buf);
}

std::string Session::write_register(std::string_view args) {
  auto [num, val] = split(args, '=');
  std::optional<uint64_t> r = parse_hex(num);
  std::optional<std::vector<uint8_t>> data = from_hex(val);
  if (!r || !data || *r >= target_.register_count() ||
      data->size() != target_.register_bytes(unsigned(*r)))
    return std::string(kErrInvalid);
  return target_.write_register(g_thread_, unsigned(*r), *data) ? "OK"
                                                                : std::string(kErrAccess);
}

std::string Session::read_memory(std::string_view args) {
  uint64_t addr, len;
  if (!parse_addr_len(args, addr, len)) return std::string(kErrInvalid);
  // The reply must fit a packet; gdb accepts a shorter read and asks again for the rest.
  len = std::min<uint64_t>(len, kMaxPacket / 2 - 16);
  std::vector<uint8_t> buf;
  // Page by page, so a read that runs into an unmapped page returns what precedes it.
  while (buf.size() < len) {
    const uint64_t at = addr + buf.size();
    const uint64_t n = std::min<uint64_t>(len - buf.size(), 0x1000 - (at & 0xfff));
    std::vector<uint8_t> chunk(n);
    if (!target_.read_memory(g_thread_, at, chunk, phys_)) break;
    buf.insert(buf.end(), chunk.begin(), chunk.end());
  }
  if (buf.empty() && len != 0) return std::string(kErrAccess);
  return to_hex(buf);
}

std::string Session::write_memory(std::string_view args, bool binary) {
  auto [where, data_text] = split(args, ':');
  uint64_t addr, len;
  if (!parse_addr_len(where, addr, len) || args.find(':') == std::string_view::npos)
    return std::string(kErrInvalid);
  std::vector<uint8_t> data;
  if (binary) {
    data.assign(data_text.begin(), data_text.end());
  } else {
    std::optional<std::vector<uint8_t>> d = from_hex(data_text);
    if (!d) return std::string(kErrInvalid);
    data = std::move(*d);
  }
  if (data.size() != len) return std::string(kErrInvalid);
  if (data.empty()) return "OK";  // gdb probes X support with an empty write
  return target_.write_memory(g_thread_, addr, data, phys_) ? "OK" : std::string(kErrAccess);
}

std::string Session::breakpoint(std::string_view args, bool insert) {
  // TYPE,ADDR,KIND[;cond...]: conditions and commands are not supported and ignored.
  auto [spec, conds] = split(args, ';');
  (void)conds;
  auto [type_text, rest] = split(spec, ',');
  std::optional<uint64_t> type = parse_hex(type_text);
  uint64_t addr, kind;
  if (!type || !parse_addr_len(rest, addr, kind)) return std::string(kErrInvalid);
  if (*type > 4) return {};  // unsupported types: empty reply
  const auto t = static_cast<cpu::GdbBreak>(*type);
  const bool ok = insert ? target_.insert_break(t, addr, kind) : target_.remove_break(t, addr, kind);
  return ok ? "OK" : std::string(kErrInvalid);
}

Session::Action Session::resume_legacy(char cmd, std::string_view args, std::string& reply) {
  // c [addr], s [addr], C sig[;addr], S sig[;addr]: the signal is ignored (no guest signals).
  if (cmd == 'C' || cmd == 'S') args = split(args, ';').second;
  if (!args.empty()) {  // resume at addr
    std::optional<uint64_t> pc = parse_hex(args);
    const unsigned reg = target_.pc_register();
    std::vector<uint8_t> bytes(target_.register_bytes(reg));
    if (!pc || bytes.size() > 8) {
      reply = kErrInvalid;
      return Action::Reply;
    }
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(*pc >> (8 * i));
    if (!target_.write_register(c_thread_, reg, bytes)) {
      reply = kErrAccess;
      return Action::Reply;
    }
  }
  const bool step = cmd == 's' || cmd == 'S';
  std::vector<cpu::GdbResume> modes(target_.thread_count(),
                                    step ? cpu::GdbResume::Stay : cpu::GdbResume::Continue);
  if (c_thread_ < modes.size() && step) modes[c_thread_] = cpu::GdbResume::Step;
  target_.resume(modes);
  return Action::Resume;
}

Session::Action Session::vcont(std::string_view args, std::string& reply) {
  if (args == "?") {
    reply = "vCont;c;C;s;S;t";
    return Action::Reply;
  }
  if (!args.starts_with(";")) {
    reply = kErrInvalid;
    return Action::Reply;
  }
  const unsigned n = target_.thread_count();
  std::vector<cpu::GdbResume> modes(n, cpu::GdbResume::Stay);
  std::vector<bool> decided(n, false);
  bool any_stop = false;
  args.remove_prefix(1);
  while (!args.empty()) {
    auto [action, rest] = split(args, ';');
    args = rest;
    auto [act, tid] = split(action, ':');
    if (act.empty()) continue;
    cpu::GdbResume mode;
    switch (act[0]) {
      case 'c':
      case 'C':
        mode = cpu::GdbResume::Continue;
        break;
      case 's':
      case 'S':
        mode = cpu::GdbResume::Step;
        break;
      case 't':
        mode = cpu::GdbResume::Stay;
        any_stop = true;
        break;
      default:
        reply = kErrInvalid;
        return Action::Reply;
    }
    int64_t t = kAll;
    if (action.find(':') != std::string_view::npos) {
      std::optional<int64_t> parsed = parse_thread(tid);
      if (!parsed) {
        reply = kErrInvalid;
        return Action::Reply;
      }
      t = *parsed;
    }
    // The leftmost action that matches a thread applies to it.
    for (unsigned i = 0; i < n; ++i) {
      if (decided[i] || (t >= 0 && unsigned(t) != i) || !target_.thread_alive(i)) continue;
      modes[i] = mode;
      decided[i] = true;
    }
  }
  bool runs = std::any_of(modes.begin(), modes.end(),
                          [](cpu::GdbResume m) { return m != cpu::GdbResume::Stay; });
  if (runs) {
    target_.resume(modes);
  } else if (any_stop) {
    target_.request_stop();
  } else {
    reply = kErrInvalid;
    return Action::Reply;
  }
  return Action::Resume;
}

std::string Session::query(std::string_view p) {
  if (p.starts_with("qSupported"))
    return "PacketSize=" + hex_number(kMaxPacket) + ";qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+";
  if (p == "QStartNoAckMode") {
    no_ack_ = true;  // the server has already acked this packet
    return "OK";
  }
  if (p == "qAttached" || p.starts_with("qAttached:")) return "1";
  if (p == "qC") return "QC" + thread_id(g_thread_);
  if (p == "qfThreadInfo") {
    std::string r = "m";
    for (unsigned i = 0; i < target_.thread_count(); ++i) {
      if (!target_.thread_alive(i)) continue;
      if (r.size() > 1) r += ',';
      r += thread_id(i);
    }
    return r;
  }
  if (p == "qsThreadInfo") return "l";
  if (p.starts_with("qThreadExtraInfo,")) {
    std::optional<int64_t> t = parse_thread(p.substr(17));
    if (!t || *t < 0) return std::string(kErrInvalid);
    return to_hex("CPU#" + std::to_string(*t));
  }
  if (p.starts_with("qXfer:features:read:")) return xfer_features(p.substr(20));
  if (p.starts_with("qRcmd,")) return monitor(p.substr(6));
  if (p == "qqemu.PhyMemMode") return phys_ ? "1" : "0";
  if (p.starts_with("Qqemu.PhyMemMode:")) {
    std::string_view v = p.substr(17);
    if (v != "0" && v != "1") return std::string(kErrInvalid);
    phys_ = v == "1";
    return "OK";
  }
  return {};
}

std::string Session::xfer_features(std::string_view args) {
  // ANNEX:OFFSET,LENGTH
  size_t colon = args.rfind(':');
  if (colon == std::string_view::npos) return std::string(kErrInvalid);
  uint64_t off, len;
  if (!parse_addr_len(args.substr(colon + 1), off, len)) return std::string(kErrInvalid);
  std::optional<std::string_view> doc = target_.feature_xml(args.substr(0, colon));
  if (!doc) return "E00";
  // Escaping can double the size of a chunk, so keep well inside one packet.
  len = std::min<uint64_t>(len, kMaxPacket / 2 - 16);
  if (off >= doc->size()) return "l";
  std::string_view chunk = doc->substr(size_t(off), size_t(len));
  return (off + chunk.size() >= doc->size() ? "l" : "m") + std::string(chunk);
}

std::string Session::monitor(std::string_view hex) {
  std::optional<std::vector<uint8_t>> bytes = from_hex(hex);
  if (!bytes) return std::string(kErrInvalid);
  std::string line(bytes->begin(), bytes->end());
  while (!line.empty() && (line.back() == ' ' || line.back() == '\n')) line.pop_back();
  while (!line.empty() && line.front() == ' ') line.erase(0, 1);
  std::string out;
  if (line == "help" || line.empty()) {
    out =
        "Orrery gdbstub monitor commands:\n"
        "  help              this text\n"
        "  phys [on|off]     memory packets address guest-physical (on) or virtual (off)\n"
        "                    memory (also: maintenance packet Qqemu.PhyMemMode:1)\n"
        "  threads           list the vCPUs\n";
  } else if (line == "phys") {
    out = std::string("physical memory mode is ") + (phys_ ? "on" : "off") + "\n";
  } else if (line == "phys on" || line == "phys 1") {
    phys_ = true;
    out = "physical memory mode on\n";
  } else if (line == "phys off" || line == "phys 0") {
    phys_ = false;
    out = "physical memory mode off\n";
  } else if (line == "threads") {
    for (unsigned i = 0; i < target_.thread_count(); ++i)
      if (target_.thread_alive(i))
        out += "thread " + thread_id(i) + ": CPU#" + std::to_string(i) + "\n";
  } else {
    out = "unknown command '" + line + "' (try 'monitor help')\n";
  }
  return to_hex(out);
}

}  // namespace orrery::ui::gdbstub
