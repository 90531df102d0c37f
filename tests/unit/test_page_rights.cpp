// PageWalker: the access rights of a walk (R/W, U/S, XD), combined over the
// levels as the CPU combines them, in every paging mode.
#include <doctest/doctest.h>

#include <cstdint>

#include "FakeMemory.hpp"
#include "PageTableBuilder.hpp"
#include "vmi/paging/PageWalker.hpp"

using vmi::PageWalker;
using vmi::PagingMode;
using vmi::Translation;
using namespace vmi_test;

namespace {

struct Rights {
    bool writable, user, no_execute;
};

void check_rights(const Translation& t, Rights want)
{
    INFO("problem: " << t.problem);
    REQUIRE(t.ok);
    CHECK(t.writable == want.writable);
    CHECK(t.user == want.user);
    CHECK(t.no_execute == want.no_execute);
}

} // namespace

TEST_CASE("rights: ia32e leaf bits, by hand-computed entries")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0x0000_7f00_0000_1000: PML4 0xfe, PDPT 0, PD 0, PT 1.
    std::uint64_t va = 0x00007f0000001000ULL;
    mem.put64(0x1000 + 0xfe * 8, 0x2000 | P | RW | US);
    mem.put64(0x2000, 0x3000 | P | RW | US);
    mem.put64(0x3000, 0x4000 | P | RW | US);
    PageWalker walker(mem, PagingMode::IA32e, 0x1000);

    mem.put64(0x4000 + 8, 0x9000 | P | RW | US);
    check_rights(walker.translate(va), {true, true, false});
    mem.put64(0x4000 + 8, 0x9000 | P | US);
    check_rights(walker.translate(va), {false, true, false});
    mem.put64(0x4000 + 8, 0x9000 | P | RW);
    check_rights(walker.translate(va), {true, false, false});
    mem.put64(0x4000 + 8, 0x9000 | P | RW | NX);
    check_rights(walker.translate(va), {true, false, true});
}

TEST_CASE("rights: ia32e R/W and U/S clear at any level take them away; XD at any level sets it")
{
    FakeMemory mem({{0, 0x100000}});
    std::uint64_t va = 0x00007f0000001000ULL;
    const std::uint64_t entries[] = {0x1000 + 0xfe * 8, 0x2000, 0x3000, 0x4000 + 8};
    const std::uint64_t targets[] = {0x2000, 0x3000, 0x4000, 0x9000};
    PageWalker walker(mem, PagingMode::IA32e, 0x1000);
    for (int level = 0; level < 4; ++level) {
        CAPTURE(level);
        for (int i = 0; i < 4; ++i) mem.put64(entries[i], targets[i] | P | RW | US);
        mem.put64(entries[level], targets[level] | P | US);
        check_rights(walker.translate(va), {false, true, false});
        mem.put64(entries[level], targets[level] | P | RW);
        check_rights(walker.translate(va), {true, false, false});
        mem.put64(entries[level], targets[level] | P | RW | US | NX);
        check_rights(walker.translate(va), {true, true, true});
    }
}

TEST_CASE("rights: large pages stop at their level; the rights above still count")
{
    FakeMemory mem({{0, 0x400000}});
    PageTableBuilder tables(mem, PagingMode::IA32e, 0x1000, 0x10000);
    tables.map(0xffff888000200000ULL, 0x200000, 0x200000, P | NX);   // kernel, read-only, no-exec
    tables.map(0x0000000040000000ULL, 0x0, 0x40000000, P | RW | US); // user 1 GiB page
    PageWalker walker(mem, PagingMode::IA32e, 0x1000);
    check_rights(walker.translate(0xffff888000212345ULL), {false, false, true});
    check_rights(walker.translate(0x0000000040001000ULL), {true, true, false});
    // Take U/S away from the PML4E above the 1 GiB page.
    std::uint64_t pml4e = tables.entry_address(0x40000000, 0);
    tables.put(pml4e, tables.get(pml4e) & ~US);
    check_rights(walker.translate(0x0000000040001000ULL), {true, false, false});
}

TEST_CASE("rights: la57 counts the PML5E")
{
    FakeMemory mem({{0, 0x100000}});
    PageTableBuilder tables(mem, PagingMode::LA57, 0x1000, 0x10000);
    std::uint64_t va = 0x0000123456789000ULL;
    tables.map(va, 0x8000, 0x1000, P | RW | US);
    PageWalker walker(mem, PagingMode::LA57, 0x1000);
    check_rights(walker.translate(va), {true, true, false});
    std::uint64_t pml5e = tables.entry_address(va, 0);
    tables.put(pml5e, tables.get(pml5e) | NX);
    check_rights(walker.translate(va), {true, true, true});
    tables.put(pml5e, tables.get(pml5e) & ~RW);
    check_rights(walker.translate(va), {false, true, true});
}

TEST_CASE("rights: pae PDPTEs carry no R/W, U/S or XD; PDE and PTE do")
{
    FakeMemory mem({{0, 0x100000}});
    // va 0xc0101000: PDPTE 3, PDE 0, PTE 0x101.
    mem.put64(0x1000 + 3 * 8, 0x2000 | P); // no RW, no US: reserved here, not "read-only"
    mem.put64(0x2000, 0x3000 | P | RW | US);
    mem.put64(0x3000 + 0x101 * 8, 0x5000 | P | RW | US);
    PageWalker walker(mem, PagingMode::PAE, 0x1000);
    check_rights(walker.translate(0xc0101000), {true, true, false});
    mem.put64(0x3000 + 0x101 * 8, 0x5000 | P | NX);
    check_rights(walker.translate(0xc0101000), {false, false, true});
    mem.put64(0x3000 + 0x101 * 8, 0x5000 | P | RW | US);
    mem.put64(0x2000, 0x3000 | P | US | NX);
    check_rights(walker.translate(0xc0101000), {false, true, true});
}

TEST_CASE("rights: legacy32 has R/W and U/S at both levels and no XD")
{
    FakeMemory mem({{0, 0x100000}});
    mem.put32(0x1000 + 0x20 * 4, 0x2000 | P | RW | US);
    mem.put32(0x2000 + 0x48 * 4, 0x5000 | P | US);
    mem.put32(0x1000 + 0x300 * 4, 0x00400000 | PS | P | RW);
    PageWalker walker(mem, PagingMode::Legacy32, 0x1000);
    check_rights(walker.translate(0x08048000), {false, true, false});
    check_rights(walker.translate(0xc0000000), {true, false, false});
    mem.put32(0x1000 + 0x20 * 4, 0x2000 | P | US);
    mem.put32(0x2000 + 0x48 * 4, 0x5000 | P | RW | US);
    check_rights(walker.translate(0x08048000), {false, true, false});
}

TEST_CASE("rights: a failed walk grants nothing")
{
    FakeMemory mem({{0, 0x100000}});
    PageWalker walker(mem, PagingMode::IA32e, 0x1000);
    Translation t = walker.translate(0x1000);
    CHECK_FALSE(t.ok);
    CHECK_FALSE(t.writable);
    CHECK_FALSE(t.user);
}
