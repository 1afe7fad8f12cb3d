#include "hw/block/qcow2.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "hw/block/image.h"

namespace orrery::hw::block {

using namespace qcow2;

namespace {

// Metadata caches hold up to this many bytes of clusters each.
constexpr uint64_t kCacheBytes = 8ull << 20;

std::string resolve_backing_path(const std::string& overlay, const std::string& backing) {
  if (backing.empty() || backing[0] == '/') return backing;
  const size_t slash = overlay.rfind('/');
  return slash == std::string::npos ? backing : overlay.substr(0, slash + 1) + backing;
}

// Walks a request's scatter list in byte order, handing out the pieces of the next n bytes.
class SegmentCursor {
 public:
  explicit SegmentCursor(std::span<const std::span<uint8_t>> segments) : segs_(segments) {}
  template <typename Fn>
  void take(uint64_t n, Fn&& piece) {
    while (n) {
      const std::span<uint8_t> seg = segs_[i_];
      const uint64_t len = std::min<uint64_t>(seg.size() - at_, n);
      if (len) piece(seg.subspan(at_, len));
      at_ += len;
      n -= len;
      if (at_ == seg.size()) {
        ++i_;
        at_ = 0;
      }
    }
  }

 private:
  std::span<const std::span<uint8_t>> segs_;
  size_t i_ = 0;
  uint64_t at_ = 0;
};

// A pending contiguous file range gathered from a request's pieces, issued as one vectored
// call (`io`: preadv or pwritev) when the next cluster does not follow it in the file.
template <typename Io>
class FileRun {
 public:
  explicit FileRun(Io io) : io_(io) {}
  Status add(uint64_t host, uint64_t n, SegmentCursor& cur) {
    if (len_ && host_ + len_ != host) {
      if (Status s = flush(); !s.ok()) return s;
    }
    if (!len_) host_ = host;
    len_ += n;
    cur.take(n, [&](std::span<uint8_t> piece) { pieces_.push_back(piece); });
    return ok_status();
  }
  Status flush() {
    if (!len_) return ok_status();
    Status s = io_(host_, std::span<const std::span<uint8_t>>(pieces_));
    pieces_.clear();
    len_ = 0;
    return s;
  }

 private:
  Io io_;
  std::vector<std::span<uint8_t>> pieces_;
  uint64_t host_ = 0;
  uint64_t len_ = 0;
};

uint64_t total_bytes(std::span<const std::span<uint8_t>> segments) {
  uint64_t n = 0;
  for (std::span<uint8_t> seg : segments) n += seg.size();
  return n;
}

}  // namespace

Qcow2Driver::Qcow2Driver(std::unique_ptr<PosixFile> file, const Header& hdr, CacheMode cache)
    : file_(std::move(file)),
      hdr_(hdr),
      cache_(cache),
      cluster_size_(hdr.cluster_size()),
      l2_entries_(hdr.cluster_size() / 8),
      refblock_entries_(hdr.cluster_size() * 8 >> hdr.refcount_order),
      refcount_bits_(1u << hdr.refcount_order),
      l2_cache_(*file_, hdr.cluster_size(), kCacheBytes / hdr.cluster_size()),
      refblock_cache_(*file_, hdr.cluster_size(), kCacheBytes / hdr.cluster_size()) {
  file_->set_writeback_chunk(writeback_chunk(cache));
}

Qcow2Driver::~Qcow2Driver() {
  // Metadata is already on disk (write-through); a clean close only makes it durable.
  if (!read_only() && cache_ != CacheMode::kUnsafe) file_->sync();
}

Status Qcow2Driver::corrupt(const std::string& what) const {
  return error_status(EIO, "qcow2 image '" + filename() + "' is corrupt: " + what);
}

Expected<std::unique_ptr<Qcow2Driver>> Qcow2Driver::open(std::unique_ptr<PosixFile> file,
                                                         CacheMode cache, int depth,
                                                         std::unique_ptr<BlockDriver> backing,
                                                         std::vector<std::string>& warnings) {
  auto hdr = read_header(*file);
  if (!hdr.ok()) return hdr.status();
  const std::string& name = file->name();
  auto refuse = [&](const std::string& why) {
    return error_status(EINVAL, "qcow2 image '" + name + "' " + why);
  };
  if (!file->read_only()) {
    if (hdr->incompatible_features & kIncompatCorrupt) {
      return refuse(
          "is marked corrupt; repair it with 'qemu-img check -r all' or open it read-only");
    }
    // Lazy refcounts leave refcounts stale while the dirty bit is set; rather than rebuild
    // them, refuse and point at the repair tool.
    if (hdr->incompatible_features & kIncompatDirty) {
      return refuse(
          "is dirty (lazy refcounts); repair it with 'qemu-img check -r all' or open it read-only");
    }
    if (hdr->nb_snapshots) {
      return refuse("has internal snapshots, which can only be opened read-only");
    }
  }
  auto length = file->length();
  if (!length.ok()) return length.status();

  std::unique_ptr<Qcow2Driver> d(new Qcow2Driver(std::move(file), *hdr, cache));
  const uint64_t cs = d->cluster_size_;
  d->end_cluster_ = (*length + cs - 1) / cs;

  std::vector<uint8_t> raw(uint64_t(hdr->l1_size) * 8);
  if (Status s = d->file_->pread(hdr->l1_table_offset, raw); !s.ok()) return s;
  d->l1_.resize(hdr->l1_size);
  for (size_t i = 0; i < d->l1_.size(); ++i) d->l1_[i] = load_be64(&raw[i * 8]);

  raw.assign(uint64_t(hdr->refcount_table_clusters) * cs, 0);
  if (Status s = d->file_->pread(hdr->refcount_table_offset, raw); !s.ok()) return s;
  d->reftable_.resize(raw.size() / 8);
  for (size_t i = 0; i < d->reftable_.size(); ++i) d->reftable_[i] = load_be64(&raw[i * 8]);

  // Autoclear bits describe data (bitmaps) this driver does not keep up to date: clear them
  // before the first write, as the specification asks.
  if (!d->read_only() && hdr->version == 3 && hdr->autoclear_features) {
    uint8_t zero[8] = {};
    if (Status s = d->file_->pwrite(kOffAutoclear, {zero, 8}); !s.ok()) return s;
    d->hdr_.autoclear_features = 0;
  }

  if (backing) {
    d->backing_ = std::move(backing);
  } else if (!hdr->backing_file.empty()) {
    if (depth + 1 >= kMaxBackingDepth) {
      return refuse("has a backing chain deeper than " + std::to_string(kMaxBackingDepth) +
                    " images (a loop of backing files?)");
    }
    ImageFormat fmt = ImageFormat::kProbe;
    if (hdr->backing_format == "raw")
      fmt = ImageFormat::kRaw;
    else if (hdr->backing_format == "qcow2")
      fmt = ImageFormat::kQcow2;
    else if (!hdr->backing_format.empty()) {
      return refuse("has backing format '" + hdr->backing_format + "', which is not supported");
    }
    auto b = open_image(resolve_backing_path(name, hdr->backing_file), fmt, true, cache, depth + 1,
                        warnings);
    if (!b.ok()) return b.status();
    d->backing_ = std::move(*b);
  }
  return d;
}

// ---- Mapping ------------------------------------------------------------------------------

Expected<uint64_t> Qcow2Driver::l2_entry(uint64_t guest_cluster) {
  const uint64_t l1_index = guest_cluster / l2_entries_;
  if (l1_index >= l1_.size()) return corrupt("guest cluster beyond the L1 table");
  const uint64_t l2_off = l1_[l1_index] & kOffsetMask;
  if (l2_off == 0) return uint64_t(0);
  if (l2_off % cluster_size_ || l2_off / cluster_size_ >= end_cluster_) {
    return corrupt("L2 table offset " + std::to_string(l2_off) + " is invalid");
  }
  auto table = l2_cache_.get(l2_off);
  if (!table.ok()) return table.status();
  return load_be64(*table + (guest_cluster % l2_entries_) * 8);
}

Expected<uint64_t> Qcow2Driver::ensure_l2_table(uint64_t l1_index) {
  const uint64_t l1e = l1_[l1_index];
  if (l1e & kOffsetMask) {
    if (!(l1e & kCopied)) return corrupt("L2 table is shared (internal snapshot)");
    return l1e & kOffsetMask;
  }
  auto off = alloc_cluster();
  if (!off.ok()) return off.status();
  // The table is written before the L1 entry that points at it.
  std::vector<uint8_t> zero(cluster_size_, 0);
  if (Status s = file_->pwrite(*off, zero); !s.ok()) return s;
  l2_cache_.install(*off, zero);
  uint8_t be[8];
  store_be64(be, *off | kCopied);
  if (Status s = file_->pwrite(hdr_.l1_table_offset + l1_index * 8, {be, 8}); !s.ok()) return s;
  l1_[l1_index] = *off | kCopied;
  return *off;
}

Status Qcow2Driver::set_l2_entry(uint64_t guest_cluster, uint64_t entry) {
  auto l2_off = ensure_l2_table(guest_cluster / l2_entries_);
  if (!l2_off.ok()) return l2_off.status();
  uint8_t be[8];
  store_be64(be, entry);
  return l2_cache_.write(*l2_off, (guest_cluster % l2_entries_) * 8, {be, 8});
}

bool Qcow2Driver::reads_as_zero(uint64_t entry) const {
  if (entry & kCompressed) return false;
  if (hdr_.version >= 3 && (entry & kZero)) return true;
  return (entry & kOffsetMask) == 0 && !backing_;
}

Status Qcow2Driver::release_entry(uint64_t entry) {
  if (entry & kCompressed) {
    const uint32_t x = 62 - (hdr_.cluster_bits - 8);
    const uint64_t host = entry & ((1ull << x) - 1);
    const uint64_t sectors = ((entry >> x) & ((1ull << (62 - x)) - 1)) + 1;
    return free_clusters(host & ~uint64_t(511), sectors * 512);
  }
  const uint64_t host = entry & kOffsetMask;
  return host ? free_clusters(host, cluster_size_) : ok_status();
}

Status Qcow2Driver::read_backing(uint64_t offset, std::span<uint8_t> out) {
  const uint64_t bsize = backing_ ? backing_->size() : 0;
  const uint64_t n = offset < bsize ? std::min<uint64_t>(out.size(), bsize - offset) : 0;
  if (n) {
    if (Status s = backing_->read(offset, out.first(n)); !s.ok()) return s;
  }
  std::fill(out.begin() + n, out.end(), 0);
  return ok_status();
}

Status Qcow2Driver::read_compressed(uint64_t entry, std::span<uint8_t> cluster) {
  const uint32_t x = 62 - (hdr_.cluster_bits - 8);
  const uint64_t host = entry & ((1ull << x) - 1);
  const uint64_t sectors = ((entry >> x) & ((1ull << (62 - x)) - 1)) + 1;
  const uint64_t in_len = sectors * 512 - (host & 511);
  std::vector<uint8_t> in(in_len);
  if (Status s = file_->pread(host, in); !s.ok()) return s;
  z_stream zs{};
  if (inflateInit2(&zs, -12) != Z_OK) return error_status(ENOMEM, "zlib initialisation failed");
  zs.next_in = in.data();
  zs.avail_in = uInt(in.size());
  zs.next_out = cluster.data();
  zs.avail_out = uInt(cluster.size());
  const int ret = inflate(&zs, Z_FINISH);
  const bool full = zs.avail_out == 0;
  inflateEnd(&zs);
  if (!((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && full)) {
    return corrupt("compressed cluster at " + std::to_string(host) + " does not decompress");
  }
  return ok_status();
}

Status Qcow2Driver::read_cluster(uint64_t entry, uint64_t guest_cluster, uint64_t in_offset,
                                 std::span<uint8_t> out) {
  if (entry & kCompressed) {
    std::vector<uint8_t> cluster(cluster_size_);
    if (Status s = read_compressed(entry, cluster); !s.ok()) return s;
    std::copy_n(cluster.begin() + in_offset, out.size(), out.begin());
    return ok_status();
  }
  if (hdr_.version >= 3 && (entry & kZero)) {
    std::fill(out.begin(), out.end(), 0);
    return ok_status();
  }
  const uint64_t host = entry & kOffsetMask;
  if (host == 0) return read_backing(guest_cluster * cluster_size_ + in_offset, out);
  return file_->pread(host + in_offset, out);
}

Status Qcow2Driver::do_read(uint64_t offset, std::span<uint8_t> buf) {
  return do_readv(offset, {&buf, 1});
}

bool Qcow2Driver::plain_data(uint64_t entry) const {
  return !(entry & kCompressed) && !(hdr_.version >= 3 && (entry & kZero)) &&
         (entry & kOffsetMask) != 0;
}

// Clusters whose data lies back to back in the file (as a sequentially written image's do)
// are read with one preadv, as raw reads a whole request; one pread per cluster made a 1 MiB
// request 16 system calls with 64 KiB clusters.
Status Qcow2Driver::do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  const uint64_t end = offset + total_bytes(segments);
  SegmentCursor cur(segments);
  FileRun run([this](uint64_t host, std::span<const std::span<uint8_t>> pieces) {
    return file_->preadv(host, pieces);
  });
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t gc = pos / cluster_size_;
    const uint64_t in_off = pos % cluster_size_;
    const uint64_t n = std::min<uint64_t>(cluster_size_ - in_off, end - pos);
    pos += n;
    uint64_t entry;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      auto e = l2_entry(gc);
      if (!e.ok()) return e.status();
      entry = *e;
    }
    if (plain_data(entry)) {
      if (Status s = run.add((entry & kOffsetMask) + in_off, n, cur); !s.ok()) return s;
      continue;
    }
    if (Status s = run.flush(); !s.ok()) return s;
    Status s;
    uint64_t piece_off = in_off;
    cur.take(n, [&](std::span<uint8_t> piece) {
      if (s.ok()) s = read_cluster(entry, gc, piece_off, piece);
      piece_off += piece.size();
    });
    if (!s.ok()) return s;
  }
  return run.flush();
}

Status Qcow2Driver::write_cluster(uint64_t gc, uint64_t in_off, std::span<const uint8_t> data) {
  auto e = l2_entry(gc);
  if (!e.ok()) return e.status();
  const uint64_t entry = *e;
  const uint64_t host = entry & kOffsetMask;
  const bool normal = !(entry & kCompressed) && !(hdr_.version >= 3 && (entry & kZero));
  if (normal && host && (entry & kCopied)) return file_->pwrite(host + in_off, data);

  // Allocate a new cluster: L2 table, then refcount, then data (with the old contents
  // around a partial write), then the L2 entry, and last the old cluster's reference.
  if (auto l2 = ensure_l2_table(gc / l2_entries_); !l2.ok()) return l2.status();
  auto new_host = alloc_cluster();
  if (!new_host.ok()) return new_host.status();
  if (data.size() == cluster_size_) {
    if (Status s = file_->pwrite(*new_host, data); !s.ok()) return s;
  } else {
    std::vector<uint8_t> cluster(cluster_size_);
    if (Status s = read_cluster(entry, gc, 0, cluster); !s.ok()) return s;
    std::copy(data.begin(), data.end(), cluster.begin() + in_off);
    // A cluster past the virtual end is written only up to the end (no bytes beyond it).
    if (Status s = file_->pwrite(*new_host, cluster); !s.ok()) return s;
  }
  if (Status s = set_l2_entry(gc, *new_host | kCopied); !s.ok()) return s;
  return release_entry(entry);
}

Status Qcow2Driver::do_write(uint64_t offset, std::span<const uint8_t> buf) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (uint64_t done = 0; done < buf.size();) {
      const uint64_t pos = offset + done;
      const uint64_t in_off = pos % cluster_size_;
      const uint64_t n = std::min<uint64_t>(cluster_size_ - in_off, buf.size() - done);
      if (Status s = write_cluster(pos / cluster_size_, in_off, buf.subspan(done, n)); !s.ok()) {
        return s;
      }
      done += n;
    }
  }
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

// Like do_write, but clusters already allocated to this image whose data lies back to back in
// the file are written with one pwritev; the others go through write_cluster one by one.
Status Qcow2Driver::do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    const uint64_t end = offset + total_bytes(segments);
    SegmentCursor cur(segments);
    FileRun run([this](uint64_t host, std::span<const std::span<uint8_t>> pieces) {
      return file_->pwritev(host, pieces);
    });
    std::vector<std::span<uint8_t>> pieces;
    std::vector<uint8_t> gathered;
    for (uint64_t pos = offset; pos < end;) {
      const uint64_t gc = pos / cluster_size_;
      const uint64_t in_off = pos % cluster_size_;
      const uint64_t n = std::min<uint64_t>(cluster_size_ - in_off, end - pos);
      pos += n;
      auto e = l2_entry(gc);
      if (!e.ok()) return e.status();
      if (plain_data(*e) && (*e & kCopied)) {
        if (Status s = run.add((*e & kOffsetMask) + in_off, n, cur); !s.ok()) return s;
        continue;
      }
      if (Status s = run.flush(); !s.ok()) return s;
      pieces.clear();
      cur.take(n, [&](std::span<uint8_t> piece) { pieces.push_back(piece); });
      std::span<const uint8_t> data = pieces[0];
      if (pieces.size() > 1) {
        gathered.clear();
        for (std::span<uint8_t> piece : pieces)
          gathered.insert(gathered.end(), piece.begin(), piece.end());
        data = gathered;
      }
      if (Status s = write_cluster(gc, in_off, data); !s.ok()) return s;
    }
    if (Status s = run.flush(); !s.ok()) return s;
  }
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

Status Qcow2Driver::do_flush() {
  return cache_ == CacheMode::kUnsafe ? ok_status() : file_->sync();
}

Status Qcow2Driver::do_discard(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> guard(mutex_);
  // Only whole clusters are dropped (the last one counts as whole at the virtual end);
  // discard is a hint, so the partial edges keep their data.
  const uint64_t end = offset + length;
  const uint64_t first = (offset + cluster_size_ - 1) / cluster_size_;
  const uint64_t last =
      end == size() ? (end + cluster_size_ - 1) / cluster_size_ : end / cluster_size_;
  // With a backing file an unallocated cluster would show the backing data; v3 can say
  // "zero" instead, v2 cannot (discarded data is allowed to reappear).
  const uint64_t new_entry = (hdr_.version >= 3 && backing_) ? kZero : 0;
  for (uint64_t gc = first; gc < last; ++gc) {
    auto e = l2_entry(gc);
    if (!e.ok()) return e.status();
    if (*e == new_entry || (*e == 0 && !backing_)) continue;
    if (Status s = set_l2_entry(gc, new_entry); !s.ok()) return s;
    if (Status s = release_entry(*e); !s.ok()) return s;
  }
  return ok_status();
}

Status Qcow2Driver::do_write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    const std::vector<uint8_t> zeros(cluster_size_, 0);
    const uint64_t end = offset + length;
    for (uint64_t pos = offset; pos < end;) {
      const uint64_t gc = pos / cluster_size_;
      const uint64_t in_off = pos % cluster_size_;
      const uint64_t n = std::min<uint64_t>(cluster_size_ - in_off, end - pos);
      auto e = l2_entry(gc);
      if (!e.ok()) return e.status();
      const uint64_t entry = *e;
      const bool whole = n == cluster_size_ || (in_off == 0 && pos + n == size());
      Status s;
      if (reads_as_zero(entry)) {
        // Already zero.
      } else if (!whole) {
        s = write_cluster(gc, in_off, {zeros.data(), n});
      } else if (hdr_.version >= 3) {
        const uint64_t host = entry & kOffsetMask;
        const bool keep = !may_unmap && !(entry & kCompressed) && host && (entry & kCopied);
        s = set_l2_entry(gc, keep ? (host | kCopied | kZero) : kZero);
        if (s.ok() && !keep) s = release_entry(entry);
      } else if (may_unmap && !backing_) {
        s = set_l2_entry(gc, 0);
        if (s.ok()) s = release_entry(entry);
      } else {
        s = write_cluster(gc, 0, {zeros.data(), cluster_size_});
      }
      if (!s.ok()) return s;
      pos += n;
    }
  }
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

}  // namespace orrery::hw::block
