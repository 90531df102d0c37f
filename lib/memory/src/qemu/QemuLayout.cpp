#include "vmi/memory/QemuLayout.hpp"

#include <algorithm>
#include <charconv>
#include <regex>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

std::vector<std::string_view> lines_of(std::string_view text)
{
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        std::size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    }
    return lines;
}

std::uint64_t hex(std::string_view digits, std::string_view what)
{
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (ec != std::errc() || end != digits.data() + digits.size()) fail("QEMU monitor: bad {} '{}'", what, digits);
    return value;
}

} // namespace

std::vector<QemuRamRegion> parse_qemu_mtree(std::string_view text)
{
    // "  0000000000100000-000000001fffffff (prio 0, ram): ram0 @0000000000100000 KVM"
    static const std::regex entry(R"(^\s+([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, (\w+)\): (\S+)(?: @([0-9a-f]+))?)");
    std::vector<QemuRamRegion> regions;
    bool in_view = false, found = false;
    for (std::string_view line : lines_of(text)) {
        if (line.rfind("FlatView", 0) == 0) {
            if (found) break; // the view of "memory" is complete
            in_view = false;
            continue;
        }
        if (line.find("AS \"memory\"") != std::string_view::npos) {
            in_view = found = true;
            continue;
        }
        if (!in_view) continue;
        std::cmatch m;
        if (!std::regex_search(line.data(), line.data() + line.size(), m, entry)) continue;
        std::string kind = m[3].str();
        if (kind != "ram" && kind != "rom") continue;
        QemuRamRegion region;
        region.start = hex({m[1].first, static_cast<std::size_t>(m[1].length())}, "address");
        std::uint64_t last = hex({m[2].first, static_cast<std::size_t>(m[2].length())}, "address");
        if (last < region.start) fail("QEMU monitor: region {:#x}-{:#x} ends before it starts", region.start, last);
        region.size = last - region.start + 1;
        region.name = m[4].str();
        if (m[5].matched) region.offset = hex({m[5].first, static_cast<std::size_t>(m[5].length())}, "offset");
        if (!regions.empty()) {
            QemuRamRegion& previous = regions.back();
            if (previous.name == region.name && previous.start + previous.size == region.start &&
                previous.offset + previous.size == region.offset) {
                previous.size += region.size;
                continue;
            }
        }
        regions.push_back(region);
    }
    if (!found) fail("QEMU monitor: 'info mtree -f' shows no flat view of address space \"memory\"");
    if (regions.empty()) fail("QEMU monitor: 'info mtree -f' shows no RAM in address space \"memory\"");
    std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
    return regions;
}

CpuRegisters parse_qemu_registers(std::string_view text)
{
    CpuRegisters registers;
    registers.source = "QEMU monitor (info registers)";
    bool cr0 = false, cr3 = false, cr4 = false, efer = false;
    auto value = [&](std::string_view line, std::string_view name, std::uint64_t& out, bool& seen) {
        if (seen) return;
        std::size_t at = line.find(name);
        // Whole word: "CR3=" and not "XCR3=" (none exist, but be strict).
        if (at == std::string_view::npos || (at > 0 && line[at - 1] != ' ')) return;
        std::string_view rest = line.substr(at + name.size());
        std::size_t end = rest.find_first_not_of("0123456789abcdefABCDEF");
        out = hex(rest.substr(0, end), name);
        seen = true;
    };
    for (std::string_view line : lines_of(text)) {
        if (line.rfind("CPU#", 0) == 0 && (cr0 || cr3)) break; // only the first CPU
        value(line, "CR0=", registers.cr0, cr0);
        value(line, "CR3=", registers.cr3, cr3);
        value(line, "CR4=", registers.cr4, cr4);
        value(line, "EFER=", registers.efer, efer);
    }
    if (!cr0 || !cr3 || !cr4) fail("QEMU monitor: 'info registers' shows no CR0/CR3/CR4 (not an x86 guest?)");
    if (!efer) {
        registers.efer_source = "absent from 'info registers' (a 32-bit CPU model): taken as 0";
    }
    return registers;
}

std::uint64_t parse_qemu_gpa2hva(std::string_view text)
{
    std::size_t at = text.find(" is 0x");
    if (text.rfind("Host virtual address for", 0) != 0 || at == std::string_view::npos) {
        std::string message(text.substr(0, text.find_first_of("\r\n")));
        fail("QEMU monitor: gpa2hva: {}", message.empty() ? "no answer" : message);
    }
    std::string_view digits = text.substr(at + 6);
    return hex(digits.substr(0, digits.find_first_not_of("0123456789abcdef")), "host address");
}

std::vector<std::uint8_t> parse_qemu_xp(std::string_view text, std::size_t units)
{
    std::vector<std::uint8_t> bytes;
    bytes.reserve(units * 8);
    for (std::string_view line : lines_of(text)) {
        std::size_t colon = line.find(": ");
        if (colon == std::string_view::npos) {
            if (!line.empty()) fail("QEMU monitor: xp: {}", std::string(line));
            continue;
        }
        std::string_view rest = line.substr(colon + 2);
        while (!rest.empty()) {
            std::size_t start = rest.find("0x");
            if (start == std::string_view::npos) break;
            rest.remove_prefix(start + 2);
            std::size_t end = rest.find_first_not_of("0123456789abcdef");
            std::uint64_t unit = hex(rest.substr(0, end), "memory word");
            for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(unit >> (8 * i)));
            rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
        }
    }
    if (bytes.size() != units * 8) fail("QEMU monitor: xp gave {} bytes, expected {}", bytes.size(), units * 8);
    return bytes;
}

} // namespace vmi
