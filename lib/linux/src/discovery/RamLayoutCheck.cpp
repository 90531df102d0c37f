#include "discovery/RamLayoutCheck.hpp"

#include <algorithm>
#include <array>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi {
namespace {

// struct boot_params (arch/x86/include/uapi/asm/bootparam.h): a fixed ABI.
constexpr std::uint64_t E820_ENTRIES_OFFSET = 0x1e8; // __u8
constexpr std::uint64_t E820_TABLE_OFFSET = 0x2d0;   // struct boot_e820_entry[128]
constexpr std::size_t E820_MAX_ENTRIES = 128;
constexpr std::size_t E820_ENTRY_SIZE = 20; // __u64 addr, __u64 size, __u32 type; packed
constexpr std::uint32_t E820_TYPE_RAM = 1;
constexpr std::uint64_t FIRMWARE_SLACK = 16ULL << 20;

} // namespace

void check_inferred_ram_layout(MemorySource& memory, AddressSpace& kernel, const Symbol* boot_params)
{
    std::string guess = memory.inferred_layout();
    if (guess.empty()) return;
    if (!boot_params)
        fail("the RAM layout from {} cannot be checked: the kernel's symbols have no boot_params (its e820 map)",
             guess);
    std::array<std::uint8_t, 1> count{};
    std::vector<std::uint8_t> table;
    try {
        kernel.read(boot_params->address + E820_ENTRIES_OFFSET, count);
        if (count[0] == 0 || count[0] > E820_MAX_ENTRIES)
            fail("boot_params holds {} e820 entries (1 to {} expected)", count[0], E820_MAX_ENTRIES);
        table.resize(count[0] * E820_ENTRY_SIZE);
        kernel.read(boot_params->address + E820_TABLE_OFFSET, table);
    } catch (const Error& e) {
        // The kernel's own page tables, read through the guess, lead nowhere.
        fail("the RAM layout from {} does not match the guest's own: its e820 map (boot_params) cannot be read "
             "through it: {}",
             guess, e.what());
    }

    std::uint64_t guessed_end = 0;
    for (const PhysicalRange& range : memory.ranges()) guessed_end = std::max(guessed_end, range.end());
    std::uint64_t ram_end = 0;
    std::size_t ram_entries = 0;
    for (std::size_t i = 0; i < count[0]; ++i) {
        const std::uint8_t* entry = table.data() + i * E820_ENTRY_SIZE;
        auto address = load_unaligned<std::uint64_t>(entry);
        auto size = load_unaligned<std::uint64_t>(entry + 8);
        auto type = load_unaligned<std::uint32_t>(entry + 16);
        if (type != E820_TYPE_RAM || size == 0) continue;
        ++ram_entries;
        if (address + size < address || !memory.is_ram(address, size))
            fail("the RAM layout from {} does not match the guest's own: its e820 map has RAM at {:#x}-{:#x}, which "
                 "that layout does not hold",
                 guess, address, address + size - 1);
        ram_end = std::max(ram_end, address + size);
    }
    if (ram_entries == 0) fail("the RAM layout from {} cannot be checked: the e820 map has no RAM", guess);
    // The firmware keeps the last pages of RAM for itself (SeaBIOS: a few
    // below the end of low RAM): the map's RAM may end a little before ours.
    if (ram_end > guessed_end || guessed_end - ram_end > FIRMWARE_SLACK)
        fail("the RAM layout from {} does not match the guest's own: its RAM ends at {:#x}, the e820 map's at {:#x}",
             guess, guessed_end, ram_end);
    diag::note("RAM layout checked: the {} RAM entries of the guest's e820 map (boot_params) lie in it, and its "
               "RAM ends at {:#x} ({:#x} in the map)",
               ram_entries, guessed_end, ram_end);
}

} // namespace vmi
