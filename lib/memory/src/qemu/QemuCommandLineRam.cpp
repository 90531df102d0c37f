#include "vmi/memory/QemuCommandLineRam.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>

#include "qemu/QemuOptions.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t MIB = 1ULL << 20, GIB = 1ULL << 30;
constexpr std::uint64_t FOUR_GIB = 4 * GIB;
// QEMU's AMD_HT_START, and the 64-bit PCI hole (32 GiB by default) and its
// alignment that QEMU counts with the RAM when it checks against it.
constexpr std::uint64_t AMD_HT_START = 0xfd00000000ULL, PCI_HOLE64 = 33 * GIB;
constexpr std::uint64_t DEFAULT_RAM = 128 * MIB; // QEMU's default for x86 machines
// Guest RAM that the PC's legacy video window and option ROMs (0xa0000 up to
// 1 MiB) hide from the guest: the RAM block has the bytes, the e820 map no RAM.
constexpr std::uint64_t LEGACY_HOLE_START = 0xa0000, LEGACY_HOLE_END = 0x100000;

// Every value of option `name` ("-m" and "--m" alike, "-m=V" too), in order.
std::string gib_text(std::uint64_t bytes)
{
    if (bytes % GIB == 0) return fmt::format("{} GiB", bytes / GIB);
    return fmt::format("{} MiB", bytes / MIB);
}

} // namespace

std::uint64_t parse_qemu_size(const std::string& text, std::uint64_t default_unit)
{
    std::size_t end = 0;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
    if (end == 0 || std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end), '.') > 1)
        fail("'{}' is not a QEMU size", text);
    std::uint64_t unit = default_unit;
    if (end < text.size()) {
        if (end + 1 != text.size()) fail("'{}' is not a QEMU size", text);
        static const std::map<char, int> SHIFTS{{'B', 0},  {'K', 10}, {'M', 20}, {'G', 30},
                                                {'T', 40}, {'P', 50}, {'E', 60}};
        auto shift = SHIFTS.find(static_cast<char>(std::toupper(static_cast<unsigned char>(text[end]))));
        if (shift == SHIFTS.end()) fail("'{}' is not a QEMU size (suffix B, K, M, G, T, P or E)", text);
        unit = 1ULL << shift->second;
    }
    long double number = std::stold(text.substr(0, end));
    long double bytes = number * static_cast<long double>(unit);
    if (!std::isfinite(bytes) || bytes >= 18446744073709551615.0L) fail("QEMU size '{}' is too large", text);
    return static_cast<std::uint64_t>(bytes);
}

CommandLineRam ram_layout_on_command_line(const std::vector<std::string>& argv)
{
    CommandLineRam ram;
    // The machine: its type (the bare first part or type=), its properties.
    std::string type = "pc";
    std::optional<std::string> below_limit;
    for (const std::string& value : [&] {
             std::vector<std::string> all = qemu_option_values(argv, "machine");
             for (std::string& m : qemu_option_values(argv, "M")) all.push_back(std::move(m));
             return all;
         }()) {
        std::vector<std::string> parts = qemu_option_parts(value);
        if (!parts[0].empty() && parts[0].find('=') == std::string::npos) type = parts[0];
        if (std::optional<std::string> t = qemu_part_value(parts, "type")) type = *t;
        if (std::optional<std::string> b = qemu_part_value(parts, "memory-backend")) ram.backend = *b;
        if (std::optional<std::string> l = qemu_part_value(parts, "max-ram-below-4g")) below_limit = *l;
    }
    if (type == "q35" || type.rfind("pc-q35", 0) == 0) ram.machine = "q35";
    else if (type == "pc" || type.rfind("pc-i440fx", 0) == 0) ram.machine = "pc";
    else fail("machine type '{}': its RAM layout is not known here (pc and q35 are; give the QEMU a QMP socket)", type);

    // The size: -m (MiB by default), or the backend's.
    ram.size = DEFAULT_RAM;
    for (const std::string& value : qemu_option_values(argv, "m")) {
        std::vector<std::string> parts = qemu_option_parts(value);
        std::optional<std::string> size = qemu_part_value(parts, "size");
        if (!size && !parts[0].empty() && parts[0].find('=') == std::string::npos) size = parts[0];
        if (size) ram.size = parse_qemu_size(*size, MIB);
    }
    std::size_t memdevs = 0;
    for (const std::string& value : qemu_option_values(argv, "numa"))
        if (qemu_part_value(qemu_option_parts(value), "memdev") || qemu_part_value(qemu_option_parts(value), "mem"))
            ++memdevs;
    if (memdevs > 1) fail("{} NUMA nodes with memory: a layout of several RAM blocks is not known here", memdevs);
    // RAM that a device adds beside -m's lies where the guest's firmware put it.
    for (const std::string& value : qemu_option_values(argv, "device")) {
        std::vector<std::string> parts = qemu_option_parts(value);
        std::string driver = qemu_part_value(parts, "driver").value_or(parts[0]);
        if (driver == "pc-dimm" || driver == "nvdimm" || driver == "virtio-mem-pci" || driver == "virtio-pmem-pci")
            fail("-device {}: RAM a device adds (a DIMM, virtio-mem) is not laid out here; give the QEMU a QMP "
                 "socket",
                 driver);
    }
    if (!ram.backend.empty()) {
        bool defined = false;
        for (const std::string& value : qemu_option_values(argv, "object")) {
            std::vector<std::string> parts = qemu_option_parts(value);
            if (qemu_part_value(parts, "id") != ram.backend) continue;
            std::optional<std::string> size = qemu_part_value(parts, "size");
            if (!size) fail("memory backend '{}' has no size", ram.backend);
            ram.size = parse_qemu_size(*size, 1);
            ram.backend_type = qemu_part_value(parts, "qom-type").value_or(parts[0]);
            ram.mem_path = qemu_part_value(parts, "mem-path").value_or("");
            defined = true;
        }
        if (!defined) fail("-machine memory-backend={}: no -object defines it", ram.backend);
    }
    if (ram.size < MIB) fail("{} bytes of RAM: too little for a PC guest", ram.size);

    // QEMU's split: pc_piix.c and pc_q35.c.
    std::uint64_t lowmem = 0;
    if (ram.machine == "pc") {
        std::uint64_t limit = below_limit ? parse_qemu_size(*below_limit, 1) : 0xe0000000ULL;
        lowmem = limit;
        if (ram.size >= limit && lowmem > 0xc0000000ULL) lowmem = 0xc0000000ULL; // gigabyte_align
    } else {
        lowmem = ram.size >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
        std::uint64_t limit = below_limit ? parse_qemu_size(*below_limit, 1) : FOUR_GIB;
        lowmem = std::min(lowmem, limit);
    }
    if (lowmem > FOUR_GIB) fail("max-ram-below-4g={} is above 4 GiB", *below_limit);
    ram.below_4g = std::min(ram.size, lowmem);
    ram.above_4g = ram.size - ram.below_4g;
    // On AMD hosts QEMU (7.1 on) moves the RAM above 4 GiB to 1 TiB when it, with
    // the 64-bit PCI hole after it, would reach the HyperTransport hole below 1 TiB
    // (pc_memory_init, pc_max_used_gpa).
    if (ram.above_4g + FOUR_GIB + PCI_HOLE64 >= AMD_HT_START)
        fail("{} GiB of RAM: where the part above 4 GiB starts depends on the host's CPU vendor; give the QEMU a QMP "
             "socket",
             ram.size >> 30);

    std::string block = ram.backend.empty() ? "pc.ram" : ram.backend;
    ram.regions.push_back({0, std::min(ram.below_4g, LEGACY_HOLE_START), block, 0});
    if (ram.below_4g > LEGACY_HOLE_END)
        ram.regions.push_back({LEGACY_HOLE_END, ram.below_4g - LEGACY_HOLE_END, block, LEGACY_HOLE_END});
    if (ram.above_4g) ram.regions.push_back({FOUR_GIB, ram.above_4g, block, ram.below_4g});
    ram.how = fmt::format("{} of RAM{}, machine {}: {} below 4 GiB, {} above", gib_text(ram.size),
                          ram.backend.empty() ? "" : fmt::format(" (backend '{}')", ram.backend), ram.machine,
                          gib_text(ram.below_4g), gib_text(ram.above_4g));
    return ram;
}

} // namespace vmi
