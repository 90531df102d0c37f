#include "dump/ElfCoreImage.hpp"

#include <elf.h>

#include "dump/ImageMemory.hpp"
#include "vmi/base/ElfFile.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi {
namespace {

// QEMU's "QEMU" note (target/i386/arch_dump.c, struct QEMUCPUState):
// version, size, 18 general registers, 10 segments of 24 bytes, then cr[5].
constexpr std::size_t QEMU_CPUSTATE_CR_OFFSET = 8 + std::size_t{18} * 8 + std::size_t{10} * 24;
constexpr std::size_t QEMU_CPUSTATE_MIN_SIZE = QEMU_CPUSTATE_CR_OFFSET + std::size_t{5} * 8;

// vCPU 0's registers from the first QEMU CPU-state note of a PT_NOTE segment.
std::optional<CpuRegisters> find_qemu_cpu_state(std::span<const std::uint8_t> notes, std::uint16_t machine)
{
    std::optional<CpuRegisters> found;
    ElfFile::for_each_note(notes, [&](std::string_view name, std::uint32_t, std::span<const std::uint8_t> desc) {
        if (found || name != "QEMU" || desc.size() < QEMU_CPUSTATE_MIN_SIZE) return;
        auto cr = [&](std::size_t n) {
            return load_unaligned<std::uint64_t>(desc.data() + QEMU_CPUSTATE_CR_OFFSET + 8 * n);
        };
        CpuRegisters regs;
        regs.cr0 = cr(0);
        regs.cr3 = cr(3);
        regs.cr4 = cr(4);
        regs.source = "QEMU CPU-state note of the ELF core";
        // QEMU writes an x86-64 core exactly when the vCPU has EFER.LMA set.
        if (machine == EM_X86_64) regs.efer = CpuRegisters::EFER_LMA | CpuRegisters::EFER_LME;
        regs.efer_source = "EFER derived from the ELF machine type (QEMU's note has no EFER)";
        found = regs;
    });
    return found;
}

} // namespace

std::unique_ptr<MemorySource> open_elf_core(std::unique_ptr<MappedFile> file)
{
    const std::string& path = file->path();
    ElfFile elf(file->bytes(), fmt::format("image '{}'", path));
    if (elf.type() != ET_CORE) fail("image '{}' is an ELF file but not a core dump (e_type {})", path, elf.type());
    if (elf.machine() != EM_X86_64 && elf.machine() != EM_386)
        fail("image '{}': ELF core of machine type {}, not x86", path, elf.machine());

    std::vector<ImageSegment> segments;
    std::optional<CpuRegisters> registers;
    std::uint64_t count = elf.program_header_count();
    for (std::uint64_t i = 0; i < count; ++i) {
        ElfFile::ProgramHeader ph = elf.program_header(i);
        if (ph.type != PT_LOAD && ph.type != PT_NOTE) continue;
        if (ph.offset > file->size() || file->size() - ph.offset < ph.filesz)
            fail("image '{}' is truncated: segment {} (physical {:#x}, {} bytes) extends past the end of the file",
                 path, i, ph.paddr, ph.filesz);
        if (ph.type == PT_NOTE) {
            if (!registers) registers = find_qemu_cpu_state(file->bytes().subspan(ph.offset, ph.filesz), elf.machine());
        } else if (ph.filesz > 0) {
            if (ph.paddr + ph.filesz < ph.paddr) fail("image '{}': segment {} wraps around", path, i);
            segments.push_back({{ph.paddr, ph.filesz}, ph.offset});
        }
    }
    if (segments.empty()) fail("image '{}' is an ELF core without memory (no LOAD segments)", path);
    return std::make_unique<ImageMemory>(std::move(file), std::move(segments), std::move(registers), "ELF core");
}

} // namespace vmi
