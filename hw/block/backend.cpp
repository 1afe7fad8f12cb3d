#include "hw/block/backend.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hw/block/qcow2.h"
#include "hw/core/thread_name.h"

namespace orrery::hw::block {

BlockBackend::BlockBackend(std::unique_ptr<BlockDriver> driver, DriveOptions options,
                           unsigned workers)
    : driver_(std::move(driver)), options_(std::move(options)) {
  for (unsigned i = 0; i < (workers ? workers : 1); ++i) {
    workers_.emplace_back([this] {
      name_this_thread("block io");
      worker_loop();
    });
  }
}

BlockBackend::~BlockBackend() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

Status BlockBackend::execute(const Request& r) {
  if (!r.segments.empty() && (r.type == RequestType::kRead || r.type == RequestType::kWrite)) {
    return r.type == RequestType::kRead ? driver_->readv(r.offset, r.segments)
                                        : driver_->writev(r.offset, r.segments);
  }
  switch (r.type) {
    case RequestType::kRead:
      return driver_->read(r.offset, r.data);
    case RequestType::kWrite:
      return driver_->write(r.offset, r.data);
    case RequestType::kFlush:
      return driver_->flush();
    case RequestType::kDiscard:
      // discard=ignore (QEMU's default) still checks the range and the read-only flag.
      if (options_.discard == DiscardMode::kIgnore) {
        if (read_only()) return error_status(EROFS, "'" + driver_->filename() + "' is read-only");
        if (r.offset > size() || r.length > size() - r.offset) {
          return error_status(EIO, "discard beyond the end of '" + driver_->filename() + "'");
        }
        return ok_status();
      }
      return driver_->discard(r.offset, r.length);
    case RequestType::kWriteZeroes:
      return driver_->write_zeroes(r.offset, r.length,
                                   r.may_unmap && options_.discard == DiscardMode::kUnmap);
  }
  return error_status(EINVAL, "unknown block request type");
}

void BlockBackend::submit(Request request, Completion done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(request), std::move(done));
    ++in_flight_;
  }
  work_cv_.notify_one();
}

void BlockBackend::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
}

void BlockBackend::worker_loop() {
  for (;;) {
    std::pair<Request, Completion> item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Stopping still empties the queue so no completion is lost.
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    const Status status = execute(item.first);
    if (item.second) item.second(status);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_flight_;
    }
    idle_cv_.notify_all();
  }
}

namespace {

Expected<std::unique_ptr<BlockDriver>> open_snapshot_overlay(std::unique_ptr<BlockDriver> base,
                                                             std::vector<std::string>& warnings) {
  const char* tmpdir = getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/orrery-snapshot-XXXXXX";
  int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    return error_status(
        errno, "cannot create a snapshot overlay in '" + path + "': " + std::strerror(errno));
  }
  ::unlink(path.c_str());  // nobody else needs it; it disappears with the process
  auto file = std::make_unique<PosixFile>(fd, "snapshot overlay of '" + base->filename() + "'",
                                          false, false);
  if (Status s = qcow2::create_image(*file, base->size()); !s.ok()) return s;
  auto overlay =
      Qcow2Driver::open(std::move(file), CacheMode::kUnsafe, 0, std::move(base), warnings);
  if (!overlay.ok()) return overlay.status();
  return std::unique_ptr<BlockDriver>(std::move(*overlay));
}

}  // namespace

Expected<std::unique_ptr<BlockBackend>> open_drive(const DriveOptions& options,
                                                   std::vector<std::string>& warnings) {
  const bool image_read_only = options.read_only || options.snapshot;
  auto driver =
      open_image(options.file, options.format, image_read_only, options.cache, 0, warnings);
  if (!driver.ok()) return driver.status();
  std::unique_ptr<BlockDriver> top = std::move(*driver);
  if (options.snapshot && !options.read_only) {
    auto overlay = open_snapshot_overlay(std::move(top), warnings);
    if (!overlay.ok()) return overlay.status();
    top = std::move(*overlay);
  }
  return std::make_unique<BlockBackend>(std::move(top), options);
}

}  // namespace orrery::hw::block
