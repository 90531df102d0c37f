// x86 page walks over guest RAM made of fuzz input, in every paging mode,
// through PageWalker and AddressSpace (its translation cache, reads across
// pages, strings, writes). Input layout:
//   u8  flags: bits 0-1 the paging mode, bit 2 splits RAM with a hole (the
//       second half then starts at 4 GiB, as RAM above the PCI hole does)
//   u64 dtb (used as given: the walker must cope with any value)
//   u8  count, then count (1 to 8) u64 virtual addresses
//   the rest: guest-physical RAM from address 0 (at most 64 KiB)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "FuzzMemory.hpp"
#include "FuzzSupport.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/paging/PageWalker.hpp"

namespace {

constexpr std::size_t MAX_RAM = 64 * 1024;
constexpr std::uint64_t HIGH_RAM = 0x100000000ULL;
constexpr vmi::PagingMode MODES[] = {vmi::PagingMode::Legacy32, vmi::PagingMode::PAE, vmi::PagingMode::IA32e,
                                     vmi::PagingMode::LA57};

bool same(const vmi::Translation& a, const vmi::Translation& b)
{
    return a.ok == b.ok && (!a.ok || a.physical == b.physical);
}

template <typename F>
void attempt(F&& access)
{
    try {
        access();
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    vmi_fuzz::InputReader in(data, size);
    auto flags = in.take<std::uint8_t>();
    vmi::PagingMode mode = MODES[flags & 3];
    auto dtb = in.take<std::uint64_t>();
    std::size_t count = 1 + in.take<std::uint8_t>() % 8;
    std::vector<std::uint64_t> addresses;
    for (std::size_t i = 0; i < count; ++i) addresses.push_back(in.take<std::uint64_t>());
    std::span<const std::uint8_t> ram = in.rest();
    if (ram.size() > MAX_RAM) return -1; // not added to the corpus
    if (ram.empty()) return 0;

    vmi_fuzz::FuzzMemory memory;
    if ((flags & 4) && ram.size() >= 2) {
        memory.add(0, ram.first(ram.size() / 2));
        memory.add(HIGH_RAM, ram.subspan(ram.size() / 2));
    } else {
        memory.add(0, ram);
    }
    vmi::PageWalker walker(memory, mode, dtb);
    vmi::AddressSpace space(memory, mode, dtb);

    // The cache must answer as the walk does, the first time and the second.
    for (std::uint64_t va : addresses) {
        vmi::Translation walked = walker.translate(va);
        if (!same(walked, space.try_translate(va)) || !same(walked, space.try_translate(va)))
            vmi_fuzz::invariant_failed("the translation cache disagrees with the page walk");
        if (walked.ok && (walked.page_size < 4096 || (walked.physical ^ va) & (walked.page_size - 1)))
            vmi_fuzz::invariant_failed("a translation moved the offset within its page");
        if (!walked.ok && walked.problem.empty()) vmi_fuzz::invariant_failed("a failed walk without a problem");
    }
    for (std::uint64_t va : addresses) {
        attempt([&] { (void)space.translate(va); });
        attempt([&] { (void)space.read_pointer(va); });
        attempt([&] { (void)space.read_string(va, 64); });
        // Across the page boundary below va.
        attempt([&] {
            std::uint8_t buffer[32];
            space.read((va & ~0xfffULL) - 16, buffer);
        });
    }
    // A write that succeeds reads back; one that fails changes nothing.
    for (std::uint64_t va : addresses) {
        const std::uint8_t pattern[12] = {0x5a, 0xa5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        std::uint64_t at = va | 0xffa; // crosses into the next page
        std::uint8_t before[sizeof pattern] = {};
        bool readable = false;
        attempt([&] {
            space.read(at, before);
            readable = true;
        });
        bool written = false;
        attempt([&] {
            space.write(at, pattern);
            written = true;
        });
        std::uint8_t after[sizeof pattern] = {};
        bool read_back = false;
        attempt([&] {
            space.read(at, after);
            read_back = true;
        });
        if (written && (!read_back || !std::equal(std::begin(after), std::end(after), pattern)))
            vmi_fuzz::invariant_failed("a write did not read back");
        if (!written && readable && read_back && !std::equal(std::begin(after), std::end(after), before))
            vmi_fuzz::invariant_failed("a failed write changed memory");
    }
    return 0;
}
