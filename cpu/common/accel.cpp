#include "cpu/common/accel.h"

#include "hw/core/address_space.h"

namespace orrery::cpu {

std::vector<RamSlot> ram_slots(const hw::AddressSpace& memory) {
  std::vector<RamSlot> v;
  for (const hw::Region& r : memory.regions()) {
    if (r.kind == hw::RegionKind::Mmio || !r.host) continue;
    v.push_back({r.base, r.size, r.host, r.kind == hw::RegionKind::Rom});
  }
  return v;
}

}  // namespace orrery::cpu
