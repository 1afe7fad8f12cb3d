// BlockBackend: what a device sees of a drive. It owns the driver stack opened from
// -drive options, applies the drive's policy (discard=, serial=) and runs requests on a
// small pool of worker threads so the device's thread never blocks on the disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hw/block/block.h"
#include "hw/block/drive_options.h"

namespace orrery::hw::block {

enum class RequestType { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

/// One guest request. data must stay valid until the completion runs.
struct Request {
  RequestType type = RequestType::kRead;
  uint64_t offset = 0;
  std::span<uint8_t> data;  // read: filled in; write: the bytes to write
  /// A scatter list used instead of data when not empty: consecutive bytes from offset on.
  std::vector<std::span<uint8_t>> segments;
  uint64_t length = 0;     // discard and write-zeroes
  bool may_unmap = false;  // write-zeroes
};

/// Called on a worker thread once the request is done.
using Completion = std::function<void(const Status&)>;

class BlockBackend {
 public:
  BlockBackend(std::unique_ptr<BlockDriver> driver, DriveOptions options,
               unsigned workers = kDefaultWorkers);
  /// Finishes every submitted request, then stops the workers and closes the images.
  ~BlockBackend();
  BlockBackend(const BlockBackend&) = delete;
  BlockBackend& operator=(const BlockBackend&) = delete;

  static constexpr unsigned kDefaultWorkers = 3;

  uint64_t size() const { return driver_->size(); }
  bool read_only() const { return driver_->read_only(); }
  /// Stable identity for virtio-blk GET_ID: serial= from the options, empty by default.
  const std::string& serial() const { return options_.serial; }
  const std::string& id() const { return options_.id; }
  const DriveOptions& options() const { return options_; }
  BlockDriver& driver() { return *driver_; }

  /// Runs a request on the caller's thread.
  Status execute(const Request& request);
  /// Queues a request for the workers. Requests run concurrently; a flush covers every
  /// write that completed before it was submitted.
  void submit(Request request, Completion done);
  /// Waits until every submitted request has completed.
  void drain();

 private:
  void worker_loop();

  std::unique_ptr<BlockDriver> driver_;
  DriveOptions options_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<Request, Completion>> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

/// Opens the driver stack for a -drive: format (probed if not given), read-only, cache
/// mode, and for snapshot=on a temporary qcow2 overlay in $TMPDIR (unlinked at once) over
/// the image opened read-only. Warnings (format probing) are appended to warnings.
Expected<std::unique_ptr<BlockBackend>> open_drive(const DriveOptions& options,
                                                   std::vector<std::string>& warnings);

}  // namespace orrery::hw::block
