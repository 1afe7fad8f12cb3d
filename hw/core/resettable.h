// The one reset interface every device implements, so a board resets all of its devices from
// the list it built them into, with no hand-written list to forget one in.
#pragma once

namespace orrery::hw {

class Resettable {
 public:
  virtual ~Resettable() = default;
  /// Returns the device to its power-on state (guest RAM is not the device's to clear).
  virtual void reset() = 0;
};

}  // namespace orrery::hw
