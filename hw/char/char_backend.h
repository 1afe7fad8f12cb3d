// The seam between serial devices (hw/char) and character backends (ui/chardev): a device
// writes what it transmits to a CharSink and implements CharReceiver so a backend can feed it
// input. Neither side knows the other's concrete type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace orrery::hw {

/// Where a device's transmitted bytes go.
class CharSink {
 public:
  virtual ~CharSink() = default;
  virtual void write(std::span<const uint8_t> data) = 0;
};

/// A device that accepts input bytes. Called from a backend's reader thread, so
/// implementations are thread-safe.
class CharReceiver {
 public:
  virtual ~CharReceiver() = default;
  /// Takes as many leading bytes of data as the device has room for and returns how many;
  /// the backend keeps the rest and offers them again later (flow control, no overruns).
  virtual size_t receive(std::span<const uint8_t> data) = 0;
  /// A line break condition (e.g. a user's "send break" key).
  virtual void receive_break() {}
};

}  // namespace orrery::hw
