// PageWalker: one x86 page-table walk in every paging mode, on hand-built
// tables in a fake guest RAM.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "FakeMemory.hpp"
#include "PageTableBuilder.hpp"
#include "vmi/paging/PageWalker.hpp"

using vmi::PageWalker;
using vmi::PagingMode;
using vmi::Translation;
using namespace vmi_test;

namespace {

constexpr std::uint64_t KiB4 = 0x1000;
constexpr std::uint64_t MiB2 = 0x200000;
constexpr std::uint64_t MiB4 = 0x400000;
constexpr std::uint64_t GiB1 = 0x40000000;

void check_ok(const Translation& t, std::uint64_t physical, std::uint64_t page_size)
{
    INFO("problem: " << t.problem);
    CHECK(t.ok);
    CHECK(t.physical == physical);
    CHECK(t.page_size == page_size);
    CHECK(t.problem.empty());
}

void check_fails(const Translation& t, const std::string& problem)
{
    CHECK_FALSE(t.ok);
    CHECK(t.problem == problem);
    CHECK(t.physical == 0);
    // Only a not-present entry says how much it leaves unmapped.
    if (problem.find("not present") == std::string::npos) CHECK(t.unmapped_span == 0);
}

// A not-present entry, and the size of the virtual range it leaves unmapped.
void check_unmapped(const Translation& t, const std::string& problem, std::uint64_t span)
{
    check_fails(t, problem);
    CHECK(t.unmapped_span == span);
}

} // namespace

// ---------------------------------------------------------------------------
// Legacy 32-bit paging: 4-byte entries, 10+10+12 bits, 4 MiB pages, PSE-36.

TEST_CASE("legacy32: 4 KiB page via hand-computed PDE/PTE addresses")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0x08048123: PDE index 0x20, PTE index 0x48, offset 0x123.
    mem.put32(0x1000 + 0x20 * 4, 0x2000 | 0xf67); // P RW US A D + ignored bits 8..11, no PS
    mem.put32(0x2000 + 0x48 * 4, 0x5000 | 0xfff); // every flag bit set, incl. PAT (bit 7) and G
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_ok(walker.translate(0x08048123), 0x5123, KiB4);
    check_ok(walker.translate(0x08048000), 0x5000, KiB4);
    check_ok(walker.translate(0x08048fff), 0x5fff, KiB4);
    CHECK(walker.mode() == PagingMode::Legacy32);
    CHECK(walker.dtb() == 0x1000);
}

TEST_CASE("legacy32: entries are 4 bytes, the neighbouring entry is not read as the high half")
{
    FakeMemory mem({{0, 0x100000}});
    // PTEs 0x48 and 0x49 are adjacent 4-byte entries; an 8-byte read of
    // entry 0x48 would pull 0x9000|P into bits 32..63.
    mem.put32(0x1000 + 0x20 * 4, 0x2000 | P);
    mem.put32(0x2000 + 0x48 * 4, 0x5000 | P);
    mem.put32(0x2000 + 0x49 * 4, 0x9000 | P);
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_ok(walker.translate(0x08048010), 0x5010, KiB4);
    check_ok(walker.translate(0x08049010), 0x9010, KiB4);
}

TEST_CASE("legacy32: 4 MiB page keeps the 22-bit offset; PAT and flag bits do not leak")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xc0123456: PDE index 0x300.
    mem.put32(0x1000 + 0x300 * 4, 0x00400000 | PS | P | RW | ACCESSED | DIRTY | GLOBAL | PAT_LARGE | 0xe00);
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_ok(walker.translate(0xc0123456), 0x00523456, MiB4);
    check_ok(walker.translate(0xc0000000), 0x00400000, MiB4);
    check_ok(walker.translate(0xc03fffff), 0x007fffff, MiB4);
}

TEST_CASE("legacy32: PSE-36 puts PDE bits 13..20 into physical bits 32..39")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xc0800010: PDE index 0x302; 4 MiB page at physical 0x12_0080_0000.
    mem.put32(0x1000 + 0x302 * 4, 0x00800000 | (0x12u << 13) | PS | P);
    // va 0xc0c00000: PDE index 0x303; highest PSE-36 frame, with PAT set.
    mem.put32(0x1000 + 0x303 * 4, 0xffc00000u | (0xffu << 13) | PAT_LARGE | PS | P);
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_ok(walker.translate(0xc0800010), 0x1200800010ULL, MiB4);
    check_ok(walker.translate(0xc0c00000 + 0x3abcde), 0xffffc00000ULL + 0x3abcde, MiB4);
}

TEST_CASE("legacy32: not-present entries name their level")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put32(0x1000 + 0x20 * 4, 0x2000 | P);
    mem.put32(0x2000 + 0x48 * 4, 0x5000 | P);
    mem.put32(0x2000 + 0x4a * 4, 0x6000 | RW | US); // everything but P
    mem.put32(0x1000 + 0x21 * 4, 0x00400000 | PS);  // large, not present
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_unmapped(walker.translate(0x40000000), "PDE not present", MiB4);
    check_unmapped(walker.translate(0x08049000), "PTE not present", KiB4);
    check_unmapped(walker.translate(0x0804a000), "PTE not present", KiB4);
    check_unmapped(walker.translate(0x08400000), "PDE not present", MiB4);
}

TEST_CASE("legacy32: addresses above 4 GiB are rejected before any read")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put32(0x1000, 0x00000000 | PS | P); // va 0 -> 4 MiB page at 0: would map 0x100000000 if truncated
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_fails(walker.translate(0x100000000ULL), "address does not fit in 32 bits");
    check_fails(walker.translate(0xffffffff00000000ULL), "address does not fit in 32 bits");
    check_fails(walker.translate(~0ULL), "address does not fit in 32 bits");
    CHECK(mem.reads == 0);
    check_ok(walker.translate(0x00001234), 0x1234, MiB4);
    CHECK(walker.is_canonical(0xffffffffULL));
    CHECK_FALSE(walker.is_canonical(0x100000000ULL));
}

TEST_CASE("legacy32: tables outside guest RAM fail cleanly")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put32(0x1000 + 0x200 * 4, 0x70000000u | P); // PDE -> page table at 0x70000000: not RAM
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_fails(walker.translate(0x80000000), "PTE at physical 0x70000000 is outside guest RAM");
    check_fails(walker.translate(0x80005000), "PTE at physical 0x70000014 is outside guest RAM");

    PageWalker bad_root(mem, PagingMode::Legacy32, 0x80000000);
    check_fails(bad_root.translate(0x00000000), "PDE at physical 0x80000000 is outside guest RAM");
    check_fails(bad_root.translate(0x00400000), "PDE at physical 0x80000004 is outside guest RAM");
}

// ---------------------------------------------------------------------------
// PAE: 8-byte entries, 2+9+9+12 bits, CR3 32-byte aligned.

TEST_CASE("pae: 4 KiB page through a 32-byte aligned PDPT; NX and high flag bits do not leak")
{
    FakeMemory mem({{0, 0x100000}});
    // Decoy PDPT at the page start: a walker that page-aligns the root
    // would find these and fail with "PDE not present".
    for (int i = 0; i < 4; ++i) mem.put64(0x3000 + i * 8, 0x9000 | P);
    // va 0xc0201234: PDPTE index 3, PDE index 1, PTE index 1.
    mem.put64(0x3020 + 3 * 8, 0x4000 | P);
    mem.put64(0x4000 + 1 * 8, 0x5000 | P | RW | US | ACCESSED);
    mem.put64(0x5000 + 1 * 8, 0x123456000ULL | ALL_FLAGS_64);
    PageWalker walker(mem, PagingMode::PAE, 0x3020);
    check_ok(walker.translate(0xc0201234), 0x123456234ULL, KiB4);
    CHECK(walker.dtb() == 0x3020);
}

TEST_CASE("pae: 2 MiB page keeps the 21-bit offset; PAT bit 12 and NX do not leak")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0x00612345: PDPTE index 0, PDE index 3.
    mem.put64(0x3020 + 0 * 8, 0x6000 | P);
    mem.put64(0x6000 + 3 * 8, 0x400200000ULL | PS | P | RW | PAT_LARGE | NX | (0x7ffULL << 52));
    PageWalker walker(mem, PagingMode::PAE, 0x3020);
    check_ok(walker.translate(0x00612345), 0x400212345ULL, MiB2);
    check_ok(walker.translate(0x00600000), 0x400200000ULL, MiB2);
    check_ok(walker.translate(0x007fffff), 0x4003fffffULL, MiB2);
}

TEST_CASE("pae: a PS bit in a PDPTE does not make a 1 GiB page")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put64(0x3020 + 2 * 8, 0x7000 | PS | P); // bit 7 is reserved in a PAE PDPTE
    mem.put64(0x7000 + 0 * 8, 0x8000 | P);
    mem.put64(0x8000 + 5 * 8, 0xabc000 | P);
    PageWalker walker(mem, PagingMode::PAE, 0x3020);
    check_ok(walker.translate(0x80005678), 0xabc678, KiB4);
}

TEST_CASE("pae: not-present entries name their level")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put64(0x3020 + 3 * 8, 0x4000 | P);
    mem.put64(0x4000 + 1 * 8, 0x5000 | P);
    mem.put64(0x5000 + 1 * 8, 0x123456000ULL | P);
    mem.put64(0x3020 + 1 * 8, 0x4000 | RW); // not present
    PageWalker walker(mem, PagingMode::PAE, 0x3020);
    check_unmapped(walker.translate(0x00000000), "PDPTE not present", GiB1);
    check_unmapped(walker.translate(0x40000000), "PDPTE not present", GiB1);
    check_unmapped(walker.translate(0xc0400000), "PDE not present", MiB2);
    check_unmapped(walker.translate(0xc0202000), "PTE not present", KiB4);
}

TEST_CASE("pae: addresses above 4 GiB are rejected; tables outside RAM fail cleanly")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put64(0x3020 + 2 * 8, 0x80000000ULL | P);
    PageWalker walker(mem, PagingMode::PAE, 0x3020);
    check_fails(walker.translate(0x100000000ULL), "address does not fit in 32 bits");
    check_fails(walker.translate(0xffffffff80000000ULL), "address does not fit in 32 bits");
    check_fails(walker.translate(0x80000000), "PDE at physical 0x80000000 is outside guest RAM");
    check_fails(walker.translate(0x80200000), "PDE at physical 0x80000008 is outside guest RAM");

    PageWalker bad_root(mem, PagingMode::PAE, 0xfffff000);
    check_fails(bad_root.translate(0xc0000000), "PDPTE at physical 0xfffff018 is outside guest RAM");
}

// ---------------------------------------------------------------------------
// IA-32e 4-level paging.

TEST_CASE("ia32e: 4 KiB page via hand-computed entry addresses")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xffffffff81234567: PML4 0x1ff, PDPT 0x1fe, PD 0x9, PT 0x34.
    mem.put64(0x10000 + 0x1ff * 8, 0x11000 | P | RW);
    mem.put64(0x11000 + 0x1fe * 8, 0x12000 | P | RW);
    mem.put64(0x12000 + 0x9 * 8, 0x13000 | P | RW | NX);
    mem.put64(0x13000 + 0x34 * 8, 0x000fedcba9876000ULL | ALL_FLAGS_64);
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_ok(walker.translate(0xffffffff81234567ULL), 0x000fedcba9876567ULL, KiB4);
}

TEST_CASE("ia32e: 2 MiB page via hand-computed entry addresses")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0x00007f0000345678: PML4 0xfe, PDPT 0, PD 1.
    mem.put64(0x10000 + 0xfe * 8, 0x14000 | P);
    mem.put64(0x14000 + 0 * 8, 0x15000 | P);
    mem.put64(0x15000 + 1 * 8, 0x123400000ULL | PS | P | PAT_LARGE | NX | (0x7ffULL << 52));
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_ok(walker.translate(0x00007f0000345678ULL), 0x123545678ULL, MiB2);
}

TEST_CASE("ia32e: 1 GiB page via hand-computed entry addresses")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xffff888023456789: PML4 0x111, PDPT 0.
    mem.put64(0x10000 + 0x111 * 8, 0x16000 | P);
    mem.put64(0x16000 + 0 * 8, 0x140000000ULL | PS | P | RW | PAT_LARGE | NX);
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_ok(walker.translate(0xffff888023456789ULL), 0x163456789ULL, GiB1);
    check_ok(walker.translate(0xffff888000000000ULL), 0x140000000ULL, GiB1);
    check_ok(walker.translate(0xffff88803fffffffULL), 0x17fffffffULL, GiB1);
}

TEST_CASE("ia32e: not-present entries name their level")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::IA32e, 0x10000, 0x20000);
    pt.map(0xffffffff81000000ULL, 0x200000, KiB4);
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_ok(walker.translate(0xffffffff81000abcULL), 0x200abc, KiB4);
    check_unmapped(walker.translate(0x0000000000001000ULL), "PML4E not present", 1ULL << 39);
    check_unmapped(walker.translate(0xffffffff00000000ULL), "PDPTE not present", GiB1);
    check_unmapped(walker.translate(0xffffffff80000000ULL), "PDE not present", MiB2);
    check_unmapped(walker.translate(0xffffffff81001000ULL), "PTE not present", KiB4);
    // Every bit but P set: still not present.
    pt.put(pt.entry_address(0xffffffff81001000ULL, 3), 0x300000 | (ALL_FLAGS_64 & ~P));
    check_unmapped(walker.translate(0xffffffff81001000ULL), "PTE not present", KiB4);
}

TEST_CASE("ia32e: non-canonical addresses are rejected before any read")
{
    FakeMemory mem({{0, 0x100000}});
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    for (std::uint64_t va : {0x0000800000000000ULL, 0xffff7fffffffffffULL, 0x0001000000000000ULL, 0x8000000000000000ULL,
                             0x7fffffffffffffffULL, 0xfffe800000000000ULL}) {
        INFO(std::hex << va);
        CHECK_FALSE(walker.is_canonical(va));
        check_fails(walker.translate(va), "address is not canonical");
    }
    CHECK(mem.reads == 0);
    for (std::uint64_t va : {0x0ULL, 0x00007fffffffffffULL, 0xffff800000000000ULL, 0xffffffffffffffffULL})
        CHECK(walker.is_canonical(va));
}

TEST_CASE("ia32e: tables outside guest RAM fail cleanly at every level")
{
    FakeMemory mem({{0, 0x100000}, {0x200000, 0x1000}});
    mem.put64(0x10000 + 1 * 8, 0x7f000000ULL | P); // PML4E -> PDPT not in RAM
    mem.put64(0x10000 + 2 * 8, 0x11000 | P);
    mem.put64(0x11000 + 0 * 8, 0x00fffffff000ULL | P); // PDPTE -> PD not in RAM
    mem.put64(0x11000 + 1 * 8, 0x12000 | P);
    mem.put64(0x12000 + 0 * 8, 0x100000 | P);         // PDE -> PT in the hole
    mem.put64(0x12000 + 1 * 8, 0x200000 | P);         // PDE -> PT in the second range
    mem.put64(0x200000 + 3 * 8, 0xdead000000ULL | P); // PTE -> page not in RAM: a translation still
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_fails(walker.translate(0x0000008000000000ULL + 0x18 * GiB1),
                "PDPTE at physical 0x7f0000c0 is outside guest RAM");
    check_fails(walker.translate(0x0000010000000000ULL + 0x1000), "PDE at physical 0xfffffff000 is outside guest RAM");
    check_fails(walker.translate(0x0000010040000000ULL + 0x3000), "PTE at physical 0x100018 is outside guest RAM");
    // The data page itself is not checked by the walker: reads of it fail later.
    check_ok(walker.translate(0x0000010040200000ULL + 0x3000 + 0x10), 0xdead000010ULL, KiB4);

    PageWalker bad_root(mem, PagingMode::IA32e, 0x40000000);
    check_fails(bad_root.translate(0xffffffff81000000ULL), "PML4E at physical 0x40000ff8 is outside guest RAM");
}

TEST_CASE("ia32e: a table straddling the end of a RAM range is only read where it is RAM")
{
    // RAM ends at 0x11800: entries 0..255 of the table at 0x11000 are RAM, 256.. are not.
    FakeMemory mem({{0, 0x11800}});
    mem.put64(0x10000 + 0 * 8, 0x11000 | P);
    mem.put64(0x11000 + 0xff * 8, 0x40000000ULL | PS | P);
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    check_ok(walker.translate(0xffULL * GiB1 + 5), 0x40000005ULL, GiB1);
    check_fails(walker.translate(0x100ULL * GiB1), "PDPTE at physical 0x11800 is outside guest RAM");
}

TEST_CASE("ia32e: an entry only partly in RAM is outside RAM, not a read error")
{
    // RAM ends 4 bytes into entry 0x100 of the PDPT at 0x11000.
    FakeMemory mem({{0, 0x11804}});
    mem.put64(0x10000 + 0 * 8, 0x11000 | P);
    PageWalker walker(mem, PagingMode::IA32e, 0x10000);
    Translation t;
    CHECK_NOTHROW(t = walker.translate(0x100ULL * GiB1));
    check_fails(t, "PDPTE at physical 0x11800 is outside guest RAM");
}

TEST_CASE("legacy32: a 4-byte entry ending exactly at the end of RAM is read")
{
    FakeMemory mem({{0, 0x2000}});
    mem.put32(0x1000 + 0x3ff * 4, 0x00400000 | PS | P); // last PDE, last 4 bytes of RAM
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_ok(walker.translate(0xffc00123), 0x00400123, MiB4);
}

// ---------------------------------------------------------------------------
// LA57 5-level paging.

TEST_CASE("la57: 4 KiB, 2 MiB and 1 GiB pages via hand-computed entry addresses")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xff11223344556677: PML5 0x111, PML4 0x44, PDPT 0xcd, PD 0x22, PT 0x156.
    mem.put64(0x10000 + 0x111 * 8, 0x11000 | P);
    mem.put64(0x11000 + 0x44 * 8, 0x12000 | P);
    mem.put64(0x12000 + 0xcd * 8, 0x13000 | P);
    mem.put64(0x13000 + 0x22 * 8, 0x14000 | P);
    mem.put64(0x14000 + 0x156 * 8, 0x0008000000042000ULL | ALL_FLAGS_64);
    PageWalker walker(mem, PagingMode::LA57, 0x10000);
    check_ok(walker.translate(0xff11223344556677ULL), 0x0008000000042677ULL, KiB4);

    // Same PD, entry 0x23 (va +2 MiB) is a 2 MiB page.
    mem.put64(0x13000 + 0x23 * 8, 0x000abcdefe00000ULL | PS | P | NX | PAT_LARGE);
    check_ok(walker.translate(0xff11223344556677ULL + MiB2), 0x000abcdefe00000ULL + 0x156677, MiB2);

    // Same PDPT, entry 0xce (va +1 GiB) is a 1 GiB page.
    mem.put64(0x12000 + 0xce * 8, 0x0000040000000000ULL | PS | P | NX | PAT_LARGE);
    check_ok(walker.translate(0xff11223344556677ULL + GiB1), 0x0000040000000000ULL + 0x04556677, GiB1);
}

TEST_CASE("la57: a 48-bit non-canonical address is canonical and translatable with 5 levels")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0x0000800000001000: PML5 0, PML4 0x100, PDPT 0, PD 0, PT 1.
    mem.put64(0x10000 + 0 * 8, 0x11000 | P);
    mem.put64(0x11000 + 0x100 * 8, 0x12000 | P);
    mem.put64(0x12000 + 0 * 8, 0x13000 | P);
    mem.put64(0x13000 + 0 * 8, 0x14000 | P);
    mem.put64(0x14000 + 1 * 8, 0x77000 | P);
    PageWalker walker(mem, PagingMode::LA57, 0x10000);
    check_ok(walker.translate(0x0000800000001234ULL), 0x77234, KiB4);
    PageWalker four_level(mem, PagingMode::IA32e, 0x10000);
    check_fails(four_level.translate(0x0000800000001234ULL), "address is not canonical");
}

TEST_CASE("la57: non-canonical addresses (57-bit rule) are rejected")
{
    FakeMemory mem({{0, 0x100000}});
    PageWalker walker(mem, PagingMode::LA57, 0x10000);
    for (std::uint64_t va : {0x0100000000000000ULL, 0xfeffffffffffffffULL, 0x8000000000000000ULL, 0x7fffffffffffffffULL,
                             0xff00000000000000ULL - 1}) {
        INFO(std::hex << va);
        CHECK_FALSE(walker.is_canonical(va));
        check_fails(walker.translate(va), "address is not canonical");
    }
    CHECK(mem.reads == 0);
    for (std::uint64_t va : {0x0ULL, 0x00ffffffffffffffULL, 0xff00000000000000ULL, 0xffffffffffffffffULL,
                             0x0000800000000000ULL, 0xffff7fffffffffffULL})
        CHECK(walker.is_canonical(va));
}

TEST_CASE("la57: not-present entries name every level, PML5E included")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::LA57, 0x10000, 0x20000);
    const std::uint64_t va = 0xff11223344556000ULL;
    pt.map(va, 0x300000, KiB4);
    PageWalker walker(mem, PagingMode::LA57, 0x10000);
    check_ok(walker.translate(va + 0x10), 0x300010, KiB4);
    check_unmapped(walker.translate(0x0000000000000000ULL), "PML5E not present", 1ULL << 48);
    check_unmapped(walker.translate(va ^ (1ULL << 39)), "PML4E not present", 1ULL << 39);
    check_unmapped(walker.translate(va ^ (1ULL << 30)), "PDPTE not present", GiB1);
    check_unmapped(walker.translate(va ^ (1ULL << 21)), "PDE not present", MiB2);
    check_unmapped(walker.translate(va ^ (1ULL << 12)), "PTE not present", KiB4);

    mem.put64(0x10000 + 0x1 * 8, 0x100000000ULL | P); // PML5E -> PML4 table outside RAM
    check_fails(walker.translate(1ULL << 48), "PML4E at physical 0x100000000 is outside guest RAM");
}

// ---------------------------------------------------------------------------
// Every mode and page size through the builder, at the first, a middle and
// the last byte of the page.

TEST_CASE("every mode and page size maps first, middle and last byte")
{
    struct Case {
        PagingMode mode;
        std::uint64_t root;
        std::uint64_t va;       // page-aligned
        std::uint64_t physical; // page-aligned
        std::uint64_t size;
    };
    const Case cases[] = {
        {PagingMode::Legacy32, 0x1000, 0xc1000000, 0x7654000, KiB4},
        {PagingMode::Legacy32, 0x1000, 0xc1400000, 0x3c00000, MiB4},
        {PagingMode::Legacy32, 0x1000, 0xff800000, 0xab00400000ULL, MiB4}, // PSE-36
        {PagingMode::PAE, 0x1fe0, 0xc1000000, 0xf00007654000ULL, KiB4},
        {PagingMode::PAE, 0x1fe0, 0xffe00000, 0x7fffe00000ULL, MiB2},
        {PagingMode::IA32e, 0x1000, 0xffffffff81000000ULL, 0x1000000, KiB4},
        {PagingMode::IA32e, 0x1000, 0x00007ffffe000000ULL, 0x000ffffffe000000ULL, MiB2},
        {PagingMode::IA32e, 0x1000, 0xffff888000000000ULL, 0x000fffffc0000000ULL, GiB1},
        {PagingMode::LA57, 0x1000, 0xff5f000000001000ULL, 0x2000, KiB4},
        {PagingMode::LA57, 0x1000, 0x00fffffffee00000ULL, 0x000aaaaaaaa00000ULL, MiB2},
        {PagingMode::LA57, 0x1000, 0xff00000040000000ULL, 0x0000000080000000ULL, GiB1},
    };
    for (const Case& c : cases) {
        INFO("mode " << vmi::name(c.mode) << " va 0x" << std::hex << c.va << " size 0x" << c.size);
        FakeMemory mem({{0, 0x100000}});
        PageTableBuilder pt(mem, c.mode, c.root, 0x10000);
        pt.map(c.va, c.physical, c.size, P | RW | ACCESSED | DIRTY | (c.mode == PagingMode::Legacy32 ? 0 : NX));
        PageWalker walker(mem, c.mode, c.root);
        check_ok(walker.translate(c.va), c.physical, c.size);
        check_ok(walker.translate(c.va + c.size / 2 + 0x123), c.physical + c.size / 2 + 0x123, c.size);
        check_ok(walker.translate(c.va + c.size - 1), c.physical + c.size - 1, c.size);
        // The neighbouring pages are not mapped.
        CHECK_FALSE(walker.translate(c.va + c.size).ok);
        CHECK_FALSE(walker.translate(c.va - 1).ok);
    }
}

TEST_CASE("the walker reads only the entries it needs")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder pt(mem, PagingMode::IA32e, 0x1000, 0x10000);
    pt.map(0xffffffff81000000ULL, 0x5000, KiB4);
    pt.map(0xffff888000000000ULL, 0x40000000, GiB1);
    PageWalker walker(mem, PagingMode::IA32e, 0x1000);
    mem.reads = 0;
    CHECK(walker.translate(0xffffffff81000000ULL).ok);
    CHECK(mem.reads == 4);
    mem.reads = 0;
    CHECK(walker.translate(0xffff888000000000ULL).ok);
    CHECK(mem.reads == 2);
    mem.reads = 0;
    CHECK_FALSE(walker.translate(0x1000).ok);
    CHECK(mem.reads == 1);
}
