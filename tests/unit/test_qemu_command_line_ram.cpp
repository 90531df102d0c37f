// The RAM layout of a QEMU command line (a QEMU with no monitor): sizes in
// QEMU's syntax, and the pc and q35 splits below and above 4 GiB.
#include <doctest/doctest.h>

#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuCommandLineRam.hpp"

namespace {

constexpr std::uint64_t MIB = 1ULL << 20, GIB = 1ULL << 30;

vmi::CommandLineRam layout(std::vector<std::string> args)
{
    args.insert(args.begin(), "/usr/bin/qemu-system-x86_64");
    return vmi::ram_layout_on_command_line(args);
}

} // namespace

TEST_CASE("QEMU sizes: MiB by default for -m, any suffix, fractions")
{
    CHECK(vmi::parse_qemu_size("512", MIB) == 512 * MIB);
    CHECK(vmi::parse_qemu_size("4G", MIB) == 4 * GIB);
    CHECK(vmi::parse_qemu_size("1.5g", MIB) == 3 * GIB / 2);
    CHECK(vmi::parse_qemu_size("2048k", 1) == 2 * MIB);
    CHECK(vmi::parse_qemu_size("4096", 1) == 4096);
    CHECK_THROWS_AS(vmi::parse_qemu_size("", MIB), vmi::Error);
    CHECK_THROWS_AS(vmi::parse_qemu_size("4X", MIB), vmi::Error);
    CHECK_THROWS_AS(vmi::parse_qemu_size("1.2.3G", MIB), vmi::Error);
    CHECK_THROWS_AS(vmi::parse_qemu_size("4GB", MIB), vmi::Error);
    CHECK_THROWS_AS(vmi::parse_qemu_size("99999999999E", MIB), vmi::Error);
}

TEST_CASE("pc (i440fx): up to 3.5 GiB below 4 GiB; from 3.5 GiB on, 3 GiB below and the rest above")
{
    vmi::CommandLineRam small = layout({"-m", "512"});
    CHECK(small.machine == "pc");
    CHECK(small.below_4g == 512 * MIB);
    CHECK(small.above_4g == 0);
    REQUIRE(small.regions.size() == 2); // the legacy hole at 640 KiB-1 MiB is no RAM
    CHECK(small.regions[0].start == 0);
    CHECK(small.regions[0].size == 0xa0000);
    CHECK(small.regions[1].start == 0x100000);
    CHECK(small.regions[1].offset == 0x100000);
    CHECK(small.regions[1].size == 512 * MIB - 0x100000);

    CHECK(layout({}).size == 128 * MIB); // QEMU's default
    CHECK(layout({"-m", "3G"}).below_4g == 3 * GIB);
    CHECK(layout({"-m", "3400M"}).above_4g == 0);

    vmi::CommandLineRam big = layout({"-machine", "pc-i440fx-7.2,accel=kvm", "-m", "size=5G,slots=2,maxmem=8G"});
    CHECK(big.below_4g == 3 * GIB);
    CHECK(big.above_4g == 2 * GIB);
    REQUIRE(big.regions.size() == 3);
    CHECK(big.regions[2].start == 4 * GIB);
    CHECK(big.regions[2].offset == 3 * GIB);
    CHECK(big.regions[2].size == 2 * GIB);

    CHECK(layout({"-M", "pc,max-ram-below-4g=2G", "-m", "5G"}).below_4g == 2 * GIB);
}

TEST_CASE("q35: 2 GiB below 4 GiB from 2.75 GiB of RAM on, else up to 2.75 GiB")
{
    vmi::CommandLineRam three = layout({"-machine", "q35", "-m", "3G"});
    CHECK(three.machine == "q35");
    CHECK(three.below_4g == 2 * GIB);
    CHECK(three.above_4g == 1 * GIB);
    CHECK(layout({"-machine", "type=pc-q35-7.2", "-m", "2G"}).below_4g == 2 * GIB);
    CHECK(layout({"-machine", "pc-q35-7.2", "-m", "2800M"}).above_4g == 0);
}

TEST_CASE("a memory backend: its size and kind; what cannot be laid out is an error")
{
    vmi::CommandLineRam memfd = layout(
        {"-object", "memory-backend-memfd,id=ram0,size=6G,share=on", "-machine", "pc,memory-backend=ram0", "-m", "6G"});
    CHECK(memfd.size == 6 * GIB);
    CHECK(memfd.backend == "ram0");
    CHECK(memfd.backend_type == "memory-backend-memfd");
    CHECK(memfd.above_4g == 3 * GIB);
    CHECK_THROWS_WITH_AS(layout({"-machine", "microvm", "-m", "1G"}), doctest::Contains("microvm"), vmi::Error);
    CHECK_THROWS_WITH_AS(layout({"-machine", "pc,memory-backend=nope"}), doctest::Contains("nope"), vmi::Error);
    CHECK_THROWS_AS(layout({"-numa", "node,memdev=a", "-numa", "node,memdev=b"}), vmi::Error);
    // RAM beside -m's: a DIMM (by its driver, or driver=), virtio-mem.
    CHECK_THROWS_WITH_AS(layout({"-m", "2G,slots=2,maxmem=8G", "-object", "memory-backend-ram,id=d0,size=1G", "-device",
                                 "pc-dimm,id=dimm0,memdev=d0"}),
                         doctest::Contains("pc-dimm"), vmi::Error);
    CHECK_THROWS_WITH_AS(layout({"-m", "2G,maxmem=8G", "-device", "driver=virtio-mem-pci,memdev=m0"}),
                         doctest::Contains("virtio-mem-pci"), vmi::Error);
    CHECK(layout({"-m", "2G,slots=2,maxmem=8G", "-device", "virtio-net-pci"}).size == 2 * GIB);
    // Near 1 TiB the part above 4 GiB may start at 1 TiB (AMD hosts): not guessed.
    CHECK(layout({"-m", "900G"}).above_4g == 897 * GIB);
    CHECK_THROWS_WITH_AS(layout({"-m", "1000G"}), doctest::Contains("CPU vendor"), vmi::Error);
}
