// PageWalker with a memory source whose page-table entries hold machine
// frames (a Xen PV guest): every address taken from an entry goes through
// MemorySource::table_page_to_physical, the root does not.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>

#include "FakeMemory.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/paging/PageWalker.hpp"

using vmi::PageWalker;
using vmi::PagingMode;
using namespace vmi_test;

namespace {

// Guest-physical pages are backed by scattered "machine" pages: the tables
// name machine pages, the walk must come out guest-physical.
class MachineFrameMemory : public FakeMemory {
public:
    MachineFrameMemory() : FakeMemory({{0, 0x400000}}) {}

    void back(std::uint64_t physical_page, std::uint64_t machine_page) { m2p_[machine_page] = physical_page; }
    std::uint64_t machine(std::uint64_t physical_page) const
    {
        for (const auto& [m, p] : m2p_)
            if (p == physical_page) return m;
        return 0;
    }

    std::optional<std::uint64_t> table_page_to_physical(std::uint64_t page) const override
    {
        ++translations;
        auto found = m2p_.find(page);
        if (found == m2p_.end()) return std::nullopt;
        return found->second;
    }

    mutable int translations = 0;

private:
    std::map<std::uint64_t, std::uint64_t> m2p_;
};

constexpr std::uint64_t VA = 0xffffffff81000123ULL; // PML4 511, PDPT 510, PD 8, PT 0

} // namespace

TEST_CASE("machine frames in 4-level tables: walked through the source's frame translation")
{
    MachineFrameMemory mem;
    // Guest-physical pages 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD), 0x4000 (PT), 0x5000 (data),
    // backed by machine pages far away and out of order.
    std::uint64_t pml4 = 0x1000, pdpt = 0x2000, pd = 0x3000, pt = 0x4000, data = 0x5000;
    mem.back(pdpt, 0x7b0002000ULL);
    mem.back(pd, 0x7a0001000ULL);
    mem.back(pt, 0x7c0009000ULL);
    mem.back(data, 0x7d0005000ULL);
    mem.put64(pml4 + 511 * 8, mem.machine(pdpt) | P | RW);
    mem.put64(pdpt + 510 * 8, mem.machine(pd) | P | RW);
    mem.put64(pd + 8 * 8, mem.machine(pt) | P | RW);
    mem.put64(pt + 0 * 8, mem.machine(data) | P | RW | NX);
    mem.put_bytes(data + 0x123, "found");

    PageWalker walker(mem, PagingMode::IA32e, pml4);
    vmi::Translation t = walker.translate(VA);
    INFO("problem: " << t.problem);
    CHECK(t.ok);
    CHECK(t.physical == data + 0x123);
    CHECK(t.page_size == 0x1000);
    CHECK(mem.translations == 4); // PDPT, PD, PT, the page; not the root

    vmi::AddressSpace space(mem, PagingMode::IA32e, pml4);
    CHECK(space.read_string(VA, 16) == "found");
}

TEST_CASE("machine frames: a large page is translated by its 4 KiB piece")
{
    MachineFrameMemory mem;
    std::uint64_t pml4 = 0x1000, pdpt = 0x2000, pd = 0x3000;
    mem.back(pdpt, 0x900002000ULL);
    mem.back(pd, 0x900003000ULL);
    // A 2 MiB machine-contiguous page whose 4 KiB pieces are not contiguous guest-physically.
    std::uint64_t large = 0xa00000000ULL;
    mem.back(0x8000, large + 0x0000);
    mem.back(0x6000, large + 0x1000);
    mem.put64(pml4 + 511 * 8, mem.machine(pdpt) | P | RW);
    mem.put64(pdpt + 510 * 8, mem.machine(pd) | P | RW);
    mem.put64(pd + 8 * 8, large | P | RW | PS);

    PageWalker walker(mem, PagingMode::IA32e, pml4);
    vmi::Translation first = walker.translate(0xffffffff81000010ULL);
    vmi::Translation second = walker.translate(0xffffffff81001010ULL);
    CHECK(first.ok);
    CHECK(first.physical == 0x8010);
    CHECK(first.page_size == 0x200000);
    CHECK(second.ok);
    CHECK(second.physical == 0x6010);
}

TEST_CASE("machine frames: an entry naming a frame that is not the guest's fails the walk")
{
    MachineFrameMemory mem;
    std::uint64_t pml4 = 0x1000, pdpt = 0x2000;
    mem.back(pdpt, 0x7b0002000ULL);
    mem.put64(pml4 + 511 * 8, mem.machine(pdpt) | P | RW);
    mem.put64(pdpt + 510 * 8, 0x123456000ULL | P | RW); // not in the m2p: e.g. Xen's own

    PageWalker walker(mem, PagingMode::IA32e, pml4);
    vmi::Translation t = walker.translate(VA);
    CHECK_FALSE(t.ok);
    CHECK(t.problem == "PDPTE names frame 0x123456, which is not the guest's");
}

TEST_CASE("every other source: table frames are guest-physical as they are")
{
    FakeMemory mem({{0, 0x10000}});
    CHECK(mem.table_page_to_physical(0x5000) == 0x5000);
    CHECK(mem.table_page_to_physical(0x123456789000ULL) == 0x123456789000ULL);
}
