// ELF cores through open_image_file: LOAD segments as RAM ranges with holes,
// QEMU's CPU-state note as registers, truncation and foreign ELF files.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ImageFileBuilder.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/DumpFile.hpp"

using namespace vmi_test;

namespace {

constexpr std::uint64_t HIGH = 0x100000000ULL; // RAM above 4 GiB
constexpr std::uint64_t CR0 = 0x80050033ULL;
constexpr std::uint64_t CR3 = 0x000000010a2e4000ULL;
constexpr std::uint64_t CR4 = 0x3506f0ULL;

// QEMU-style x86-64 core: a note segment ("CORE" prstatus, then "QEMU" CPU
// state), RAM at [0, 0x3000) and [4 GiB, 4 GiB + 0x2000), a hole between.
ElfSpec qemu_x86_64_core()
{
    ElfSpec spec;
    std::string notes =
        elf_note("CORE", NT_PRSTATUS, std::string(336, '\x5a')) + elf_note("QEMU", 0, qemu_cpu_state(CR0, CR3, CR4));
    spec.segments.push_back({PT_NOTE, 0, notes, 0});
    spec.segments.push_back({PT_LOAD, 0, pattern(0x3000, 0x11), 0});
    spec.segments.push_back({PT_LOAD, HIGH, pattern(0x2000, 0x22), 0});
    return spec;
}

} // namespace

TEST_CASE("elf core: x86-64 core with RAM below and above 4 GiB and a hole between")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string path = dir.write("guest.elf", build_elf_core(spec));
    auto memory = vmi::open_image_file(path, false);
    REQUIRE(memory);

    const auto& ranges = memory->ranges();
    REQUIRE(ranges.size() == 2);
    CHECK(ranges[0].start == 0);
    CHECK(ranges[0].size == 0x3000);
    CHECK(ranges[1].start == HIGH);
    CHECK(ranges[1].size == 0x2000);
    CHECK_FALSE(memory->writable());
    CHECK(memory->describe() == "ELF core '" + path + "' (2 RAM ranges, 0 MiB)");

    // Reads inside each segment come from that segment's file data.
    CHECK(read_phys(*memory, 0, 16) == spec.segments[1].data.substr(0, 16));
    CHECK(read_phys(*memory, 0x2ff0, 16) == spec.segments[1].data.substr(0x2ff0, 16));
    CHECK(read_phys(*memory, HIGH, 16) == spec.segments[2].data.substr(0, 16));
    CHECK(read_phys(*memory, HIGH + 0x1234, 100) == spec.segments[2].data.substr(0x1234, 100));
    CHECK(read_phys(*memory, HIGH + 0x1fff, 1) == spec.segments[2].data.substr(0x1fff, 1));

    CHECK(memory->is_ram(0x2fff));
    CHECK_FALSE(memory->is_ram(0x3000));
    CHECK_FALSE(memory->is_ram(0x2ff0, 0x20));
    CHECK(memory->is_ram(HIGH, 0x2000));
    CHECK_FALSE(memory->is_ram(HIGH, 0x2001));
    CHECK_FALSE(memory->is_ram(HIGH - 1));
}

TEST_CASE("elf core: reads in the hole, across into it, and past the end name the address")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string path = dir.write("guest.elf", build_elf_core(spec));
    auto memory = vmi::open_image_file(path, false);
    std::string out(16, '\0');
    auto buffer = [&] { return std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()); };
    CHECK_THROWS_WITH_AS(memory->read(0x80000000ULL, buffer()),
                         "physical address 0x80000000 is not in guest RAM (hole or past the end of the image)",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(memory->read(0x2ff8, buffer()),
                         "physical address 0x3000 is not in guest RAM (hole or past the end of the image)", vmi::Error);
    CHECK_THROWS_WITH_AS(memory->read(HIGH - 8, buffer()),
                         "physical address 0xfffffff8 is not in guest RAM (hole or past the end of the image)",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(memory->read(HIGH + 0x2000, buffer()),
                         "physical address 0x100002000 is not in guest RAM (hole or past the end of the image)",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(memory->read(HIGH + 0x1ff8, buffer()),
                         "physical address 0x100002000 is not in guest RAM (hole or past the end of the image)",
                         vmi::Error);
    CHECK_THROWS_AS(memory->read(0xfffffffffffffff8ULL, buffer()), vmi::Error);
}

TEST_CASE("elf core: QEMU CPU-state note gives cr0/cr3/cr4 and EFER.LMA for x86-64")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string path = dir.write("guest.elf", build_elf_core(spec));
    auto memory = vmi::open_image_file(path, false);
    auto regs = memory->registers();
    REQUIRE(regs.has_value());
    CHECK(regs->cr0 == CR0);
    CHECK(regs->cr3 == CR3);
    CHECK(regs->cr4 == CR4);
    CHECK(regs->efer == (vmi::CpuRegisters::EFER_LMA | vmi::CpuRegisters::EFER_LME));
    CHECK(regs->source == "QEMU CPU-state note of the ELF core");
    CHECK(regs->efer_source == "EFER derived from the ELF machine type (QEMU's note has no EFER)");
    CHECK(regs->paging_mode() == vmi::PagingMode::IA32e);
    CHECK(regs->dtb(vmi::PagingMode::IA32e) == CR3);
}

TEST_CASE("elf core: LA57 is seen through CR4 of the note")
{
    TempDir dir;
    ElfSpec spec;
    spec.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, qemu_cpu_state(CR0, 0x7000, CR4 | 0x1000)), 0});
    spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
    auto memory = vmi::open_image_file(dir.write("la57.elf", build_elf_core(spec)), false);
    REQUIRE(memory->registers());
    CHECK(memory->registers()->paging_mode() == vmi::PagingMode::LA57);
}

TEST_CASE("elf core: 32-bit (EM_386) core")
{
    TempDir dir;
    ElfSpec spec;
    spec.is64 = false;
    spec.machine = EM_386;
    spec.segments.push_back({PT_NOTE, 0,
                             elf_note("CORE", NT_PRSTATUS, std::string(144, '\x33')) +
                                 elf_note("QEMU", 0, qemu_cpu_state(0x80050033, 0x01a3c020, 0x6f0)),
                             0});
    spec.segments.push_back({PT_LOAD, 0, pattern(0x2000, 0x44), 0});
    spec.segments.push_back({PT_LOAD, 0x100000, pattern(0x1000, 0x55), 0});
    std::string path = dir.write("guest32.elf", build_elf_core(spec));
    auto memory = vmi::open_image_file(path, false);

    REQUIRE(memory->ranges().size() == 2);
    CHECK(memory->ranges()[0].start == 0);
    CHECK(memory->ranges()[0].size == 0x2000);
    CHECK(memory->ranges()[1].start == 0x100000);
    CHECK(memory->ranges()[1].size == 0x1000);
    CHECK(read_phys(*memory, 0x1ffc, 4) == spec.segments[1].data.substr(0x1ffc, 4));
    CHECK(read_phys(*memory, 0x100800, 8) == spec.segments[2].data.substr(0x800, 8));
    CHECK_THROWS_WITH_AS(read_phys(*memory, 0x2000, 1),
                         "physical address 0x2000 is not in guest RAM (hole or past the end of the image)", vmi::Error);

    auto regs = memory->registers();
    REQUIRE(regs);
    CHECK(regs->cr0 == 0x80050033u);
    CHECK(regs->cr3 == 0x01a3c020u);
    CHECK(regs->cr4 == 0x6f0u);
    CHECK(regs->efer == 0); // no long mode in a 32-bit core
    CHECK(regs->paging_mode() == vmi::PagingMode::PAE);
    CHECK(regs->dtb(vmi::PagingMode::PAE) == 0x01a3c020u);
}

TEST_CASE("elf core: without a QEMU note there are no registers")
{
    TempDir dir;
    SUBCASE("no note segment")
    {
        ElfSpec spec;
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        auto memory = vmi::open_image_file(dir.write("a.elf", build_elf_core(spec)), false);
        CHECK_FALSE(memory->registers().has_value());
    }
    SUBCASE("only a CORE note")
    {
        ElfSpec spec;
        spec.segments.push_back({PT_NOTE, 0, elf_note("CORE", NT_PRSTATUS, std::string(336, 'x')), 0});
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        auto memory = vmi::open_image_file(dir.write("b.elf", build_elf_core(spec)), false);
        CHECK_FALSE(memory->registers().has_value());
    }
    SUBCASE("a QEMU note too short to hold cr[4]")
    {
        std::string state = qemu_cpu_state(CR0, CR3, CR4).substr(0, 8 + 18 * 8 + 10 * 24 + 4 * 8);
        ElfSpec spec;
        spec.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, state), 0});
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        auto memory = vmi::open_image_file(dir.write("c.elf", build_elf_core(spec)), false);
        CHECK_FALSE(memory->registers().has_value());
    }
    SUBCASE("a malformed note (descsz past the segment) ends the walk without a crash")
    {
        std::string note = elf_note("QEMU", 0, qemu_cpu_state(CR0, CR3, CR4));
        patch<std::uint32_t>(note, 4, 0xfffffff0u); // descsz
        ElfSpec spec;
        spec.segments.push_back({PT_NOTE, 0, note, 0});
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        auto memory = vmi::open_image_file(dir.write("d.elf", build_elf_core(spec)), false);
        CHECK_FALSE(memory->registers().has_value());
        CHECK(memory->ranges().size() == 1);
    }
}

TEST_CASE("elf core: the first vCPU's note wins")
{
    TempDir dir;
    ElfSpec spec;
    spec.segments.push_back(
        {PT_NOTE, 0,
         elf_note("QEMU", 0, qemu_cpu_state(CR0, 0x1000, CR4)) + elf_note("QEMU", 0, qemu_cpu_state(CR0, 0x2000, CR4)),
         0});
    spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
    auto memory = vmi::open_image_file(dir.write("smp.elf", build_elf_core(spec)), false);
    REQUIRE(memory->registers());
    CHECK(memory->registers()->cr3 == 0x1000u);
}

TEST_CASE("elf core: a later note segment does not replace registers found in an earlier one")
{
    TempDir dir;
    ElfSpec spec;
    spec.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, qemu_cpu_state(CR0, 0x1000, CR4)), 0});
    spec.segments.push_back({PT_NOTE, 0, elf_note("CORE", NT_PRSTATUS, std::string(336, 'x')), 0});
    spec.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, qemu_cpu_state(CR0, 0x3000, CR4)), 0});
    spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
    auto memory = vmi::open_image_file(dir.write("notes.elf", build_elf_core(spec)), false);
    REQUIRE(memory->registers());
    CHECK(memory->registers()->cr3 == 0x1000u);
}

TEST_CASE("elf core: adjacent LOAD segments form one range even when stored out of order")
{
    TempDir dir;
    ElfSpec spec;
    spec.reverse_data = true;
    spec.segments.push_back({PT_LOAD, 0x1000, pattern(0x1000, 0xa0), 0});
    spec.segments.push_back({PT_LOAD, 0x0, pattern(0x1000, 0xb0), 0}); // listed second, lower address
    spec.segments.push_back({PT_LOAD, 0x2000, pattern(0x1000, 0xc0), 0});
    std::string path = dir.write("adjacent.elf", build_elf_core(spec));
    auto memory = vmi::open_image_file(path, false);
    REQUIRE(memory->ranges().size() == 1);
    CHECK(memory->ranges()[0].start == 0);
    CHECK(memory->ranges()[0].size == 0x3000);
    CHECK(memory->describe() == "ELF core '" + path + "' (1 RAM range, 0 MiB)");
    // A read across both junctions.
    std::string expected =
        spec.segments[1].data.substr(0xff8) + spec.segments[0].data + spec.segments[2].data.substr(0, 8);
    CHECK(read_phys(*memory, 0xff8, expected.size()) == expected);
}

TEST_CASE("elf core: overlapping or wrapping LOAD segments are rejected")
{
    TempDir dir;
    {
        ElfSpec spec;
        spec.segments.push_back({PT_LOAD, 0, pattern(0x2000, 1), 0});
        spec.segments.push_back({PT_LOAD, 0x1000, pattern(0x1000, 2), 0});
        std::string path = dir.write("overlap.elf", build_elf_core(spec));
        CHECK(open_error(path) == "ELF core '" + path + "': memory segments overlap at physical address 0x1000");
    }
    {
        ElfSpec spec;
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        spec.segments.push_back({PT_LOAD, 0xfffffffffffff800ULL, pattern(0x1000, 2), 0});
        std::string path = dir.write("wrap.elf", build_elf_core(spec));
        CHECK(open_error(path) == "image '" + path + "': segment 1 wraps around");
    }
}

TEST_CASE("elf core: empty LOAD segments are skipped; a core without memory is rejected")
{
    TempDir dir;
    {
        ElfSpec spec;
        spec.segments.push_back({PT_LOAD, 0x5000, "", 0});
        spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        auto memory = vmi::open_image_file(dir.write("empty-seg.elf", build_elf_core(spec)), false);
        REQUIRE(memory->ranges().size() == 1);
        CHECK(memory->ranges()[0].size == 0x1000);
    }
    {
        ElfSpec spec;
        spec.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, qemu_cpu_state(CR0, CR3, CR4)), 0});
        std::string path = dir.write("nomem.elf", build_elf_core(spec));
        CHECK(open_error(path) == "image '" + path + "' is an ELF core without memory (no LOAD segments)");
    }
}

TEST_CASE("elf core: truncated files fail with 'truncated'")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    const std::string full = build_elf_core(spec);

    SUBCASE("ELF header cut")
    {
        for (std::size_t size : {std::size_t{8}, std::size_t{20}, sizeof(Elf64_Ehdr) - 1}) {
            INFO(size);
            std::string path = dir.write("cut-header.elf", full.substr(0, size));
            CHECK(open_error(path) == "image '" + path + "' is truncated: ELF header incomplete");
        }
    }
    SUBCASE("program headers cut")
    {
        std::size_t size = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 10;
        std::string path = dir.write("cut-phdr.elf", full.substr(0, size));
        CHECK(open_error(path) == "image '" + path + "' is truncated: program headers extend past the end of the file");
    }
    SUBCASE("segment data cut")
    {
        std::string path = dir.write("cut-data.elf", full.substr(0, full.size() - 1));
        CHECK(open_error(path) == "image '" + path +
                                      "' is truncated: segment 2 (physical 0x100000000, 8192 bytes) extends past the "
                                      "end of the file");
        std::size_t in_low = spec.segments[1].file_offset + 0x100;
        path = dir.write("cut-data2.elf", full.substr(0, in_low));
        CHECK(open_error(path) ==
              "image '" + path +
                  "' is truncated: segment 1 (physical 0x0, 12288 bytes) extends past the end of the file");
    }
    SUBCASE("note segment cut")
    {
        std::string path = dir.write("cut-note.elf", full.substr(0, spec.segments[0].file_offset + 20));
        CHECK(open_error(path).find("' is truncated: segment 0 (physical 0x0, ") != std::string::npos);
    }
    SUBCASE("32-bit header cut")
    {
        ElfSpec spec32;
        spec32.is64 = false;
        spec32.machine = EM_386;
        spec32.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
        std::string full32 = build_elf_core(spec32);
        std::string path = dir.write("cut32.elf", full32.substr(0, sizeof(Elf32_Ehdr) - 4));
        CHECK(open_error(path) == "image '" + path + "' is truncated: ELF header incomplete");
        path = dir.write("cut32-data.elf", full32.substr(0, full32.size() - 0x800));
        CHECK(open_error(path) ==
              "image '" + path +
                  "' is truncated: segment 0 (physical 0x0, 4096 bytes) extends past the end of the file");
    }
}

TEST_CASE("elf core: program header offset far past the end of the file")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string bytes = build_elf_core(spec);
    patch<Elf64_Off>(bytes, offsetof(Elf64_Ehdr, e_phoff), 0xffffffffffff0000ULL);
    std::string path = dir.write("phoff.elf", bytes);
    CHECK(open_error(path) == "image '" + path + "' is truncated: program headers extend past the end of the file");
}

TEST_CASE("elf core: segment offset far past the end of the file")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string bytes = build_elf_core(spec);
    patch<Elf64_Off>(bytes, sizeof(Elf64_Ehdr) + 1 * sizeof(Elf64_Phdr) + offsetof(Elf64_Phdr, p_offset),
                     0xfffffffffffff000ULL);
    std::string path = dir.write("segoff.elf", bytes);
    CHECK(open_error(path) ==
          "image '" + path + "' is truncated: segment 1 (physical 0x0, 12288 bytes) extends past the end of the file");
}

TEST_CASE("elf core: more than 0xfffe segments: the count comes from section header 0 (PN_XNUM)")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    std::string bytes = build_elf_core(spec);
    // Append section header 0 holding the real count, point e_shoff at it.
    Elf64_Shdr sh0{};
    sh0.sh_info = 3;
    std::uint64_t shoff = bytes.size();
    append_pod(bytes, sh0);
    patch<Elf64_Half>(bytes, offsetof(Elf64_Ehdr, e_phnum), PN_XNUM);
    patch<Elf64_Off>(bytes, offsetof(Elf64_Ehdr, e_shoff), shoff);
    patch<Elf64_Half>(bytes, offsetof(Elf64_Ehdr, e_shentsize), sizeof(Elf64_Shdr));
    patch<Elf64_Half>(bytes, offsetof(Elf64_Ehdr, e_shnum), 0);
    std::string path = dir.write("xnum.elf", bytes);
    auto memory = vmi::open_image_file(path, false);
    CHECK(memory->ranges().size() == 2);
    CHECK(memory->registers().has_value());

    // The same file cut before section header 0.
    path = dir.write("xnum-cut.elf", bytes.substr(0, shoff + 8));
    CHECK(open_error(path) == "image '" + path + "' is truncated: section header 0 (segment count) missing");
}

TEST_CASE("elf core: ELF files that are not x86 core dumps are rejected")
{
    TempDir dir;
    SUBCASE("ET_EXEC")
    {
        ElfSpec spec = qemu_x86_64_core();
        spec.type = ET_EXEC;
        std::string path = dir.write("vmlinux", build_elf_core(spec));
        CHECK(open_error(path) == "image '" + path + "' is an ELF file but not a core dump (e_type 2)");
    }
    SUBCASE("ET_DYN")
    {
        ElfSpec spec = qemu_x86_64_core();
        spec.type = ET_DYN;
        std::string path = dir.write("lib.so", build_elf_core(spec));
        CHECK(open_error(path) == "image '" + path + "' is an ELF file but not a core dump (e_type 3)");
    }
    SUBCASE("another machine")
    {
        ElfSpec spec = qemu_x86_64_core();
        spec.machine = EM_AARCH64;
        std::string path = dir.write("arm.elf", build_elf_core(spec));
        CHECK(open_error(path) == "image '" + path + "': ELF core of machine type 183, not x86");
    }
    SUBCASE("big-endian")
    {
        ElfSpec spec = qemu_x86_64_core();
        std::string bytes = build_elf_core(spec);
        bytes[EI_DATA] = ELFDATA2MSB;
        std::string path = dir.write("be.elf", bytes);
        CHECK(open_error(path) == "image '" + path + "': not a little-endian ELF file (not x86)");
    }
    SUBCASE("unknown class")
    {
        ElfSpec spec = qemu_x86_64_core();
        std::string bytes = build_elf_core(spec);
        bytes[EI_CLASS] = 3;
        std::string path = dir.write("class.elf", bytes);
        CHECK(open_error(path) == "image '" + path + "': unknown ELF class 3");
    }
    SUBCASE("wrong program header size")
    {
        ElfSpec spec = qemu_x86_64_core();
        std::string bytes = build_elf_core(spec);
        patch<Elf64_Half>(bytes, offsetof(Elf64_Ehdr, e_phentsize), 32);
        std::string path = dir.write("phent.elf", bytes);
        CHECK(open_error(path) == "image '" + path + "': unexpected program header size 32");
    }
}

TEST_CASE("elf core: writes are refused on a read-only image and change nothing")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    const std::string original = build_elf_core(spec);
    std::string path = dir.write("ro.elf", original);
    auto memory = vmi::open_image_file(path, false);
    CHECK_FALSE(memory->writable());
    CHECK_THROWS_WITH_AS(
        write_phys(*memory, HIGH + 0x10, "PATCHED"),
        ("ELF core '" + path + "' is open read-only (writing to a dump needs --writable-image)").c_str(), vmi::Error);
    memory.reset();
    CHECK(read_file_bytes(path) == original);
}

TEST_CASE("elf core: writes on a writable image land in the right segment and persist in the file")
{
    TempDir dir;
    ElfSpec spec = qemu_x86_64_core();
    const std::string original = build_elf_core(spec);
    std::string path = dir.write("rw.elf", original);
    auto memory = vmi::open_image_file(path, true);
    CHECK(memory->writable());
    CHECK(memory->describe() == "ELF core '" + path + "' (2 RAM ranges, 0 MiB, writable)");
    write_phys(*memory, HIGH + 0x10, "PATCHED");
    write_phys(*memory, 0x2ffe, "ok");
    CHECK(read_phys(*memory, HIGH + 0x10, 7) == "PATCHED");
    CHECK(read_phys(*memory, 0x2ffe, 2) == "ok");

    // A write into or across the hole fails and changes nothing.
    CHECK_THROWS_WITH_AS(write_phys(*memory, 0x2ffc, "12345678"),
                         "physical range 0x2ffc..0x3004 is not entirely guest RAM", vmi::Error);
    CHECK_THROWS_WITH_AS(write_phys(*memory, HIGH - 4, "12345678"),
                         "physical range 0xfffffffc..0x100000004 is not entirely guest RAM", vmi::Error);
    CHECK(read_phys(*memory, 0x2ffc, 4) == spec.segments[1].data.substr(0x2ffc, 2) + "ok");
    memory.reset();

    std::string expected = original;
    expected.replace(spec.segments[2].file_offset + 0x10, 7, "PATCHED");
    expected.replace(spec.segments[1].file_offset + 0x2ffe, 2, "ok");
    CHECK(read_file_bytes(path) == expected);

    // Reopened read-only, the change is there.
    auto again = vmi::open_image_file(path, false);
    CHECK(read_phys(*again, HIGH + 0x10, 7) == "PATCHED");
}

TEST_CASE("elf core: a write across adjacent segments stored apart in the file")
{
    TempDir dir;
    ElfSpec spec;
    spec.reverse_data = true;
    spec.segments.push_back({PT_LOAD, 0, pattern(0x1000, 1), 0});
    spec.segments.push_back({PT_LOAD, 0x1000, pattern(0x1000, 2), 0});
    std::string path = dir.write("split.elf", build_elf_core(spec));
    {
        auto memory = vmi::open_image_file(path, true);
        write_phys(*memory, 0xffc, "ABCDEFGH");
        CHECK(read_phys(*memory, 0xffc, 8) == "ABCDEFGH");
    }
    std::string bytes = read_file_bytes(path);
    CHECK(bytes.substr(spec.segments[0].file_offset + 0xffc, 4) == "ABCD");
    CHECK(bytes.substr(spec.segments[1].file_offset, 4) == "EFGH");
}
