#include "machine/machine.h"

#include "machine/pc/pc.h"
#include "machine/virt/virt.h"

namespace orrery::machine {

// The board table: one row per -M name. Built on first use so rows defined in other files are
// initialised by then.
std::span<const MachineType> machine_types() {
  static const MachineType kTypes[] = {
      virt::virt_machine_type(),
      pc::pc_machine_type(),
  };
  return kTypes;
}

const MachineType* find_machine_type(std::string_view name) {
  for (const MachineType& m : machine_types())
    if (m.name == name) return &m;
  return nullptr;
}

const MachineType& default_machine_type() {
  return machine_types()[0];
}

}  // namespace orrery::machine
