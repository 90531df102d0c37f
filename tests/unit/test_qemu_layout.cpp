// Parsing what QEMU 7.2's human monitor printed for a real guest (captured
// from `info mtree -f`, `info registers`, `gpa2hva` and `xp`), and what it
// prints when things go wrong.
#include <doctest/doctest.h>

#include <string>

#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuLayout.hpp"

namespace {

const char* MTREE = R"(FlatView #0
 AS "cpu-smm-0", root: memory
 Root memory region: memory
  0000000000000000-00000000000bffff (prio 0, ram): ram0
  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram

FlatView #1
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): ram0
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000000c0000-00000000000cafff (prio 0, rom): ram0 @00000000000c0000
  00000000000cb000-00000000000cdfff (prio 0, ram): ram0 @00000000000cb000
  00000000000ce000-00000000000e7fff (prio 0, rom): ram0 @00000000000ce000
  00000000000e8000-00000000000effff (prio 0, ram): ram0 @00000000000e8000
  00000000000f0000-00000000000fffff (prio 0, rom): ram0 @00000000000f0000
  0000000000100000-00000000bfffffff (prio 0, ram): ram0 @0000000000100000
  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram
  00000000febc0000-00000000febdffff (prio 1, i/o): e1000-mmio
  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios
  0000000100000000-000000013fffffff (prio 0, ram): ram0 @00000000c0000000

FlatView #2
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
)";

} // namespace

TEST_CASE("info mtree -f: RAM and ROM of address space \"memory\", pieces of one block merged, RAM above 4 GiB")
{
    std::vector<vmi::QemuRamRegion> regions = vmi::parse_qemu_mtree(MTREE);
    REQUIRE(regions.size() == 5);
    CHECK(regions[0].start == 0);
    CHECK(regions[0].size == 0xa0000);
    CHECK(regions[1].start == 0xc0000); // ROM and RAM pieces of ram0 at consecutive offsets
    CHECK(regions[1].size == 0xc0000000 - 0xc0000);
    CHECK(regions[1].offset == 0xc0000);
    CHECK(regions[2].name == "vga.vram");
    CHECK(regions[3].name == "pc.bios");
    CHECK(regions[4].start == 0x100000000ULL);
    CHECK(regions[4].offset == 0xc0000000ULL);
    CHECK(regions[4].size == 0x40000000ULL);

    CHECK_THROWS_WITH_AS(vmi::parse_qemu_mtree("FlatView #0\n AS \"I/O\", root: io\n"),
                         "QEMU monitor: 'info mtree -f' shows no flat view of address space \"memory\"", vmi::Error);
}

TEST_CASE("info registers: CR0, CR3, CR4 and EFER of the first CPU")
{
    const char* text = "CPU#0\nRAX=0000000000000030 RBX=ffffffff8408cb20\n"
                       "CR0=80050033 CR2=00007f5d8112b000 CR3=000000000644a000 CR4=000006f0\n"
                       "EFER=0000000000000d01\nCPU#1\nCR0=0 CR3=1234000 CR4=0\n";
    vmi::CpuRegisters registers = vmi::parse_qemu_registers(text);
    CHECK(registers.cr0 == 0x80050033);
    CHECK(registers.cr3 == 0x644a000);
    CHECK(registers.cr4 == 0x6f0);
    CHECK(registers.efer == 0xd01);
    CHECK(registers.paging_mode() == vmi::PagingMode::IA32e);

    vmi::CpuRegisters i386 = vmi::parse_qemu_registers("CR0=80050033 CR2=0 CR3=01a2b000 CR4=00000690\n");
    CHECK(i386.efer == 0);
    CHECK_FALSE(i386.efer_source.empty());
    CHECK_THROWS_AS(vmi::parse_qemu_registers("R0=0 R1=0\n"), vmi::Error);
}

TEST_CASE("gpa2hva and xp")
{
    CHECK(vmi::parse_qemu_gpa2hva("Host virtual address for 0x100000 (ram0) is 0x7f82f40ff000\r\n") ==
          0x7f82f40ff000ULL);
    CHECK_THROWS_WITH_AS(vmi::parse_qemu_gpa2hva("Memory at address 0xa0000 is not RAM\r\n"),
                         "QEMU monitor: gpa2hva: Memory at address 0xa0000 is not RAM", vmi::Error);

    std::vector<std::uint8_t> bytes =
        vmi::parse_qemu_xp("0000000000001000: 0x0807060504030201 0x00000000000000ff\r\n", 2);
    REQUIRE(bytes.size() == 16);
    CHECK(bytes[0] == 1);
    CHECK(bytes[7] == 8);
    CHECK(bytes[8] == 0xff);
    CHECK_THROWS_AS(vmi::parse_qemu_xp("0000000000001000: 0x01\r\n", 2), vmi::Error);
    CHECK_THROWS_AS(vmi::parse_qemu_xp("Cannot access memory\r\n", 1), vmi::Error);
}
