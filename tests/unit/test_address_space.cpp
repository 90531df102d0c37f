// AddressSpace: translation with a cache, and reads/writes/strings that cross
// page boundaries into differently mapped pages.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "FakeMemory.hpp"
#include "PageTableBuilder.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/paging/AddressSpace.hpp"

using vmi::AddressSpace;
using vmi::PagingMode;
using namespace vmi_test;

namespace {

std::span<std::uint8_t> bytes_of(std::string& s) { return {reinterpret_cast<std::uint8_t*>(s.data()), s.size()}; }
std::span<const std::uint8_t> bytes_of(std::string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string read_text(AddressSpace& space, std::uint64_t va, std::size_t size)
{
    std::string out(size, '\0');
    space.read(va, bytes_of(out));
    return out;
}

// A 64-bit kernel-style layout: two adjacent virtual pages mapped to
// physical pages in reverse order, the page after them unmapped, and a
// mapped page whose frame is outside RAM.
struct Layout {
    static constexpr std::uint64_t VA = 0xffffffff81000000ULL;
    static constexpr std::uint64_t PHYS_A = 0x80000; // backs VA
    static constexpr std::uint64_t PHYS_B = 0x40000; // backs VA + 0x1000
    static constexpr std::uint64_t VA_UNMAPPED = VA + 0x2000;
    static constexpr std::uint64_t VA_NOT_RAM = VA + 0x4000; // mapped, frame outside RAM
    static constexpr std::uint64_t VA_BEFORE_NOT_RAM = VA + 0x3000;

    FakeMemory mem{{{0, 0x100000}}};
    PageTableBuilder pt{mem, PagingMode::IA32e, 0x1000, 0x10000};

    Layout()
    {
        pt.map(VA, PHYS_A, 0x1000, P | RW | NX);
        pt.map(VA + 0x1000, PHYS_B, 0x1000, P | RW | NX);
        pt.map(VA_BEFORE_NOT_RAM, 0x90000, 0x1000);
        pt.map(VA_NOT_RAM, 0x7000000000ULL, 0x1000);
    }
};

} // namespace

TEST_CASE("translate returns the physical address and throws naming the problem when unmapped")
{
    Layout l;
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK(space.mode() == PagingMode::IA32e);
    CHECK(space.dtb() == 0x1000);
    CHECK(&space.memory() == &l.mem);
    CHECK(space.translate(Layout::VA + 0x123) == Layout::PHYS_A + 0x123);
    CHECK(space.translate(Layout::VA + 0x1fff) == Layout::PHYS_B + 0xfff);
    CHECK_THROWS_WITH_AS(
        space.translate(Layout::VA_UNMAPPED + 8),
        "virtual address 0xffffffff81002008 is not mapped (PTE not present; ia32e page tables at 0x1000)", vmi::Error);
    CHECK_THROWS_WITH_AS(space.translate(0x0000800000000000ULL),
                         "virtual address 0x800000000000 is not mapped (address is not canonical; ia32e page tables "
                         "at 0x1000)",
                         vmi::Error);
    auto t = space.try_translate(Layout::VA_UNMAPPED);
    CHECK_FALSE(t.ok);
    CHECK(t.problem == "PTE not present");
}

TEST_CASE("a read crossing a page boundary joins two differently mapped pages")
{
    Layout l;
    l.mem.put_bytes(Layout::PHYS_A + 0xffa, "ABCDEF");
    l.mem.put_bytes(Layout::PHYS_B, "ghijkl");
    l.mem.put_bytes(Layout::PHYS_A + 0x1000, "XXXXXX"); // physically adjacent, not virtually
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK(read_text(space, Layout::VA + 0xffa, 12) == "ABCDEFghijkl");
    CHECK(read_text(space, Layout::VA + 0xfff, 2) == "Fg");
    CHECK(read_text(space, Layout::VA + 0x1000, 3) == "ghi");
}

TEST_CASE("a read spanning whole pages gets every page's bytes in order")
{
    Layout l;
    std::string a(0x1000, 'a'), b(0x1000, 'b');
    l.mem.put_bytes(Layout::PHYS_A, a);
    l.mem.put_bytes(Layout::PHYS_B, b);
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK(read_text(space, Layout::VA, 0x2000) == a + b);
    CHECK(read_text(space, Layout::VA, 0) == "");
}

TEST_CASE("a read into an unmapped page throws")
{
    Layout l;
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    std::string out(16, '\0');
    CHECK_THROWS_WITH_AS(
        space.read(Layout::VA + 0x1ff8, bytes_of(out)),
        "virtual address 0xffffffff81002000 is not mapped (PTE not present; ia32e page tables at 0x1000)", vmi::Error);
    // A mapped page whose frame is not RAM: the memory's error comes through.
    CHECK_THROWS_AS(space.read(Layout::VA_NOT_RAM, bytes_of(out)), vmi::Error);
}

TEST_CASE("a write crossing a page boundary lands in both physical pages")
{
    Layout l;
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    space.write(Layout::VA + 0xffc, bytes_of("01234567"));
    CHECK(l.mem.get_bytes(Layout::PHYS_A + 0xffc, 4) == "0123");
    CHECK(l.mem.get_bytes(Layout::PHYS_B, 4) == "4567");
    CHECK(l.mem.get_bytes(Layout::PHYS_A + 0x1000, 4) == std::string(4, '\0'));
    CHECK(read_text(space, Layout::VA + 0xffc, 8) == "01234567");
}

TEST_CASE("a write that would cross into an unmapped page changes nothing")
{
    Layout l;
    l.mem.put_bytes(Layout::PHYS_B + 0xff8, "original");
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    std::size_t writes_before = l.mem.writes;
    CHECK_THROWS_WITH_AS(
        space.write(Layout::VA + 0x1ff8, bytes_of("replaced-and-more")),
        "virtual address 0xffffffff81002000 is not mapped (PTE not present; ia32e page tables at 0x1000)", vmi::Error);
    CHECK(l.mem.get_bytes(Layout::PHYS_B + 0xff8, 8) == "original");
    CHECK(l.mem.writes == writes_before);
}

TEST_CASE("a write that would cross into a page whose frame is not RAM changes nothing")
{
    Layout l;
    l.mem.put_bytes(0x90000 + 0xffc, "keep");
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK_THROWS_WITH_AS(space.write(Layout::VA_NOT_RAM - 4, bytes_of("overwrite")),
                         "physical address 0x7000000000 is not in guest RAM", vmi::Error);
    CHECK(l.mem.get_bytes(0x90000 + 0xffc, 4) == "keep");
    CHECK(l.mem.writes == 0);
}

TEST_CASE("read_u32, read_u64 and read_pointer are little-endian and sized by mode")
{
    Layout l;
    l.mem.put64(Layout::PHYS_A + 0x10, 0x1122334455667788ULL);
    // A u64 straddling the page boundary: low half in PHYS_A, high half in PHYS_B.
    l.mem.put32(Layout::PHYS_A + 0xffc, 0xdeadbeef);
    l.mem.put32(Layout::PHYS_B, 0xcafef00d);
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK(space.read_u64(Layout::VA + 0x10) == 0x1122334455667788ULL);
    CHECK(space.read_u32(Layout::VA + 0x10) == 0x55667788u);
    CHECK(space.read_u32(Layout::VA + 0x14) == 0x11223344u);
    CHECK(space.read_pointer(Layout::VA + 0x10) == 0x1122334455667788ULL);
    CHECK(space.read_u64(Layout::VA + 0xffc) == 0xcafef00ddeadbeefULL);
}

TEST_CASE("read_pointer reads 4 bytes in 32-bit modes")
{
    for (PagingMode mode : {PagingMode::Legacy32, PagingMode::PAE}) {
        INFO(vmi::name(mode));
        FakeMemory mem({{0, 0x100000}});
        PageTableBuilder pt(mem, mode, 0x1000, 0x10000);
        pt.map(0xc0000000, 0x50000, 0x1000);
        pt.map(0xfffff000, 0x51000, 0x1000);
        pt.map(0x00000000, 0x52000, 0x1000);
        mem.put64(0x50000 + 0x20, 0xffffffffc1234567ULL);
        AddressSpace space(mem, mode, 0x1000);
        CHECK(space.read_pointer(0xc0000020) == 0xc1234567u);
        CHECK(space.read_pointer(0xc0000024) == 0xffffffffu);
        CHECK(space.read_u32(0xfffffffc) == 0);
        // The top of the 32-bit space is the end: no wrap to page 0.
        CHECK_THROWS_WITH_AS(
            space.read_u64(0xfffffffc),
            doctest::Contains("virtual address 0x100000000 is not mapped (address does not fit in 32 bits"),
            vmi::Error);
    }
    for (PagingMode mode : {PagingMode::IA32e, PagingMode::LA57}) {
        FakeMemory mem({{0, 0x100000}});
        PageTableBuilder pt(mem, mode, 0x1000, 0x10000);
        pt.map(0xffffffff80000000ULL, 0x50000, 0x1000);
        mem.put64(0x50000 + 0x20, 0xffffffffc1234567ULL);
        AddressSpace space(mem, mode, 0x1000);
        CHECK(space.read_pointer(0xffffffff80000020ULL) == 0xffffffffc1234567ULL);
    }
}

TEST_CASE("translation cache: warm hits give the same result without page-table reads")
{
    Layout l;
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    l.mem.reads = 0;
    CHECK(space.translate(Layout::VA + 0x10) == Layout::PHYS_A + 0x10);
    CHECK(l.mem.reads == 4);
    l.mem.reads = 0;
    // Same page, other offsets: no walk.
    CHECK(space.translate(Layout::VA + 0x10) == Layout::PHYS_A + 0x10);
    CHECK(space.translate(Layout::VA + 0xfff) == Layout::PHYS_A + 0xfff);
    auto hit = space.try_translate(Layout::VA);
    CHECK(hit.ok);
    CHECK(hit.physical == Layout::PHYS_A);
    CHECK(l.mem.reads == 0);
    // The next page is a separate entry.
    CHECK(space.translate(Layout::VA + 0x1000) == Layout::PHYS_B);
    CHECK(l.mem.reads == 4);
}

TEST_CASE("translation cache: stale until clear_cache; failures are not cached")
{
    Layout l;
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    CHECK(space.translate(Layout::VA) == Layout::PHYS_A);
    CHECK_FALSE(space.try_translate(Layout::VA_UNMAPPED).ok);

    // The guest changes its page tables.
    l.pt.map(Layout::VA, 0x60000, 0x1000);
    l.pt.map(Layout::VA_UNMAPPED, 0x61000, 0x1000);
    CHECK(space.translate(Layout::VA) == Layout::PHYS_A);   // cached
    CHECK(space.translate(Layout::VA_UNMAPPED) == 0x61000); // failure was not cached
    space.clear_cache();
    CHECK(space.translate(Layout::VA) == 0x60000);
    CHECK(space.translate(Layout::VA + 0x42) == 0x60042);
}

TEST_CASE("translation cache: large pages are cached per 4 KiB piece, each piece correct")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::IA32e, 0x1000, 0x10000);
    pt.map(0xffff888000000000ULL, 0x240000000ULL, 0x40000000);
    pt.map(0xffffffff81000000ULL, 0x1000000, 0x200000);
    AddressSpace space(mem, PagingMode::IA32e, 0x1000);
    for (int round = 0; round < 2; ++round) {
        CHECK(space.translate(0xffff888000000000ULL) == 0x240000000ULL);
        CHECK(space.translate(0xffff888012345678ULL) == 0x252345678ULL);
        CHECK(space.translate(0xffff88803fffffffULL) == 0x27fffffffULL);
        CHECK(space.translate(0xffffffff81000abcULL) == 0x1000abc);
        CHECK(space.translate(0xffffffff811fffffULL) == 0x11fffff);
    }
}

// A cache hit must answer what the walk answered, page size included
// (vmi-read -v reports it): the cache keeps the page size per entry.
TEST_CASE("translation cache: page_size is the same before and after the cache is warm")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::IA32e, 0x1000, 0x10000);
    pt.map(0xffffffff81000000ULL, 0x1000000, 0x200000);
    pt.map(0xffff888000000000ULL, 0x240000000ULL, 0x40000000);
    pt.map(0xffffc90000000000ULL, 0x5000, 0x1000);
    AddressSpace space(mem, PagingMode::IA32e, 0x1000);
    for (auto [va, size] : {std::pair{0xffffffff81000010ULL, 0x200000ULL},
                            {0xffffffff811ff010ULL, 0x200000ULL},
                            {0xffff888012345678ULL, 0x40000000ULL},
                            {0xffffc90000000123ULL, 0x1000ULL}}) {
        CAPTURE(va);
        auto cold = space.try_translate(va);
        auto warm = space.try_translate(va);
        CHECK(cold.ok);
        CHECK(cold.page_size == size);
        CHECK(warm.ok);
        CHECK(warm.physical == cold.physical);
        CHECK(warm.page_size == cold.page_size);
    }
    // Another 4 KiB piece of the same 1 GiB page: cached as a piece of its own,
    // it too answers with the large page's size when warm.
    auto next = space.try_translate(0xffff888012346000ULL);
    auto again = space.try_translate(0xffff888012346000ULL);
    CHECK(next.physical == 0x252346000ULL);
    CHECK(again.page_size == 0x40000000ULL);
}

TEST_CASE("read_string: stops at NUL, reports termination, honours the cap")
{
    Layout l;
    l.mem.put_bytes(Layout::PHYS_A + 0x100, std::string("swapper/0\0junk", 14));
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    bool terminated = false;
    CHECK(space.read_string(Layout::VA + 0x100, 64, &terminated) == "swapper/0");
    CHECK(terminated);
    // The cap cuts before the NUL.
    terminated = true;
    CHECK(space.read_string(Layout::VA + 0x100, 4, &terminated) == "swap");
    CHECK_FALSE(terminated);
    // NUL exactly one past the cap is not "within the cap".
    terminated = true;
    CHECK(space.read_string(Layout::VA + 0x100, 9, &terminated) == "swapper/0");
    CHECK_FALSE(terminated);
    // NUL at the last allowed byte.
    CHECK(space.read_string(Layout::VA + 0x100, 10, &terminated) == "swapper/0");
    CHECK(terminated);
    // Empty string, zero cap, no out-parameter.
    CHECK(space.read_string(Layout::VA + 0x109, 10, &terminated) == "");
    CHECK(terminated);
    CHECK(space.read_string(Layout::VA + 0x100, 0, &terminated) == "");
    CHECK_FALSE(terminated);
    CHECK(space.read_string(Layout::VA + 0x100, 64) == "swapper/0");
}

TEST_CASE("read_string: continues across a page boundary into a differently mapped page")
{
    Layout l;
    l.mem.put_bytes(Layout::PHYS_A + 0xffc, "kwor");
    l.mem.put_bytes(Layout::PHYS_B, std::string("ker/0:1\0", 8));
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    bool terminated = false;
    CHECK(space.read_string(Layout::VA + 0xffc, 100, &terminated) == "kworker/0:1");
    CHECK(terminated);
    CHECK(space.read_string(Layout::VA + 0xffc, 6, &terminated) == "kworke");
    CHECK_FALSE(terminated);
}

TEST_CASE("read_string: does not touch the next page when the NUL or the cap comes first")
{
    Layout l;
    // Last mapped page before an unmapped one: VA + 0x1000 (PHYS_B); VA + 0x2000 is unmapped.
    l.mem.put_bytes(Layout::PHYS_B + 0xff0, std::string("init\0", 5));
    l.mem.put_bytes(Layout::PHYS_B + 0xff8, "12345678"); // runs to the page end, no NUL
    AddressSpace space(l.mem, PagingMode::IA32e, 0x1000);
    bool terminated = false;
    CHECK(space.read_string(Layout::VA + 0x1ff0, 4096, &terminated) == "init");
    CHECK(terminated);
    CHECK(space.read_string(Layout::VA + 0x1ff8, 8, &terminated) == "12345678");
    CHECK_FALSE(terminated);
    // With a larger cap the string runs into the unmapped page: an error, not garbage.
    CHECK_THROWS_AS(space.read_string(Layout::VA + 0x1ff8, 9, &terminated), vmi::Error);
}

TEST_CASE("read_string: a long string over several pages, capped exactly")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::LA57, 0x1000, 0x10000);
    // Three virtual pages backed by scattered physical pages.
    pt.map(0xff00000000000000ULL, 0x70000, 0x1000);
    pt.map(0xff00000000001000ULL, 0x50000, 0x1000);
    pt.map(0xff00000000002000ULL, 0x60000, 0x1000);
    mem.put_bytes(0x70000, std::string(0x1000, 'x'));
    mem.put_bytes(0x50000, std::string(0x1000, 'y'));
    mem.put_bytes(0x60000, std::string(0x10, 'z'));
    AddressSpace space(mem, PagingMode::LA57, 0x1000);
    bool terminated = false;
    std::string s = space.read_string(0xff00000000000000ULL, 0x3000, &terminated);
    CHECK(terminated);
    CHECK(s == std::string(0x1000, 'x') + std::string(0x1000, 'y') + std::string(0x10, 'z'));
    s = space.read_string(0xff00000000000800ULL, 0x1000, &terminated);
    CHECK_FALSE(terminated);
    CHECK(s == std::string(0x800, 'x') + std::string(0x800, 'y'));
}

TEST_CASE("every mode: reads and writes across a page boundary, also from a large page into a 4 KiB one")
{
    struct Case {
        PagingMode mode;
        std::uint64_t va;         // start of the first virtual page
        std::uint64_t first_size; // its size; the page after it is 4 KiB
        std::uint64_t first_physical;
    };
    const Case cases[] = {
        {PagingMode::Legacy32, 0xc0000000, 0x1000, 0x80000},
        {PagingMode::Legacy32, 0xc0000000, 0x400000, 0x400000},
        {PagingMode::PAE, 0xc0000000, 0x1000, 0x80000},
        {PagingMode::PAE, 0xc0000000, 0x200000, 0x200000},
        {PagingMode::IA32e, 0xffffffff80000000ULL, 0x1000, 0x80000},
        {PagingMode::IA32e, 0xffffffff80000000ULL, 0x200000, 0x200000},
        {PagingMode::IA32e, 0xffffffff40000000ULL, 0x40000000, 0x40000000},
        {PagingMode::LA57, 0xff00000000000000ULL, 0x1000, 0x80000},
        {PagingMode::LA57, 0xff00000000000000ULL, 0x200000, 0x200000},
        {PagingMode::LA57, 0xff00000000000000ULL, 0x40000000, 0x40000000},
    };
    constexpr std::uint64_t SECOND_PHYSICAL = 0x50000; // below the first page: order differs
    for (const Case& c : cases) {
        INFO("mode " << vmi::name(c.mode) << " first page size 0x" << std::hex << c.first_size);
        // RAM for the tables, and for the last 4 KiB of the first page.
        std::vector<vmi::PhysicalRange> ram{{0, 0x100000}};
        std::uint64_t first_tail = c.first_physical + c.first_size - 0x1000;
        if (first_tail >= 0x100000) ram.push_back({first_tail, 0x1000});
        FakeMemory mem(ram);
        PageTableBuilder pt(mem, c.mode, 0x1000, 0x10000);
        pt.map(c.va, c.first_physical, c.first_size);
        pt.map(c.va + c.first_size, SECOND_PHYSICAL, 0x1000);
        AddressSpace space(mem, c.mode, 0x1000);

        const std::uint64_t boundary = c.va + c.first_size;
        space.write(boundary - 8, bytes_of("0123456789ABCDEF"));
        CHECK(mem.get_bytes(c.first_physical + c.first_size - 8, 8) == "01234567");
        CHECK(mem.get_bytes(SECOND_PHYSICAL, 8) == "89ABCDEF");
        CHECK(read_text(space, boundary - 8, 16) == "0123456789ABCDEF");
        CHECK(space.read_u64(boundary - 4) == 0x4241393837363534ULL); // "4567" "89AB"
        bool terminated = false;
        CHECK(space.read_string(boundary - 8, 64, &terminated) == "0123456789ABCDEF");
        CHECK(terminated);

        // The page after the second is unmapped: a write into it changes nothing.
        const std::uint64_t end = boundary + 0x1000;
        CHECK_THROWS_AS(space.write(end - 4, bytes_of("wxyz1234")), vmi::Error);
        CHECK(mem.get_bytes(SECOND_PHYSICAL + 0xffc, 4) == std::string(4, '\0'));
        CHECK(mem.get_bytes(SECOND_PHYSICAL, 8) == "89ABCDEF");
    }
}
