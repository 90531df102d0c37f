#pragma once
// A RAM layout that the memory source guessed (a QEMU with no monitor: from
// its command line) checked against the guest's own memory map: the e820
// table the firmware handed the kernel, which the kernel keeps in its
// boot_params (the x86 boot protocol's zero page).
#include "vmi/memory/MemorySource.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

// Does nothing when `memory`'s layout is not a guess. Otherwise throws
// vmi::Error when the guest's map cannot be read, or when a RAM entry of it
// lies outside the guessed RAM or the guessed RAM ends elsewhere; notes
// (-v) that it held.
// `boot_params` is the kernel's symbol of that name (nullptr: it has none).
void check_inferred_ram_layout(MemorySource& memory, AddressSpace& kernel, const Symbol* boot_params);

} // namespace vmi
