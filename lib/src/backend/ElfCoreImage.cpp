#include "backend/ElfCoreImage.hpp"

#include <cstring>
#include <elf.h>

#include "backend/ImageMemory.hpp"
#include "vmi/Error.hpp"

namespace vmi {
namespace {

// QEMU's "QEMU" note (target/i386/arch_dump.c, struct QEMUCPUState):
// version, size, 18 general registers, 10 segments of 24 bytes, then cr[5].
constexpr std::size_t QEMU_CPUSTATE_CR_OFFSET = 8 + 18 * 8 + 10 * 24;
constexpr std::size_t QEMU_CPUSTATE_MIN_SIZE = QEMU_CPUSTATE_CR_OFFSET + 5 * 8;

template <typename T>
T load(std::span<const std::uint8_t> bytes, std::uint64_t offset)
{
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

struct ElfLayout {
    bool is64 = false;
    std::uint16_t machine = 0;
    std::uint64_t phoff = 0;
    std::uint64_t phnum = 0;
};

struct ProgramHeader {
    std::uint32_t type = 0;
    std::uint64_t offset = 0;
    std::uint64_t paddr = 0;
    std::uint64_t filesz = 0;
};

ElfLayout read_header(const MappedFile& file)
{
    auto bytes = file.bytes();
    const std::string& path = file.path();
    if (bytes.size() < EI_NIDENT) fail("image '{}' is truncated: ELF header incomplete", path);
    int cls = bytes[EI_CLASS];
    if (cls != ELFCLASS32 && cls != ELFCLASS64) fail("image '{}': unknown ELF class {}", path, cls);
    if (bytes[EI_DATA] != ELFDATA2LSB) fail("image '{}': not a little-endian ELF file (not an x86 dump)", path);

    ElfLayout layout;
    layout.is64 = cls == ELFCLASS64;
    std::size_t header_size = layout.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if (bytes.size() < header_size) fail("image '{}' is truncated: ELF header incomplete", path);

    std::uint16_t type, phentsize, shentsize;
    std::uint64_t shoff;
    if (layout.is64) {
        auto h = load<Elf64_Ehdr>(bytes, 0);
        type = h.e_type, layout.machine = h.e_machine, layout.phoff = h.e_phoff, layout.phnum = h.e_phnum;
        phentsize = h.e_phentsize, shoff = h.e_shoff, shentsize = h.e_shentsize;
    } else {
        auto h = load<Elf32_Ehdr>(bytes, 0);
        type = h.e_type, layout.machine = h.e_machine, layout.phoff = h.e_phoff, layout.phnum = h.e_phnum;
        phentsize = h.e_phentsize, shoff = h.e_shoff, shentsize = h.e_shentsize;
    }
    if (type != ET_CORE) fail("image '{}' is an ELF file but not a core dump (e_type {})", path, type);
    if (layout.machine != EM_X86_64 && layout.machine != EM_386)
        fail("image '{}': ELF core of machine type {}, not x86", path, layout.machine);
    std::size_t expected_phent = layout.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (phentsize != expected_phent) fail("image '{}': unexpected program header size {}", path, phentsize);

    // With more than 0xfffe segments the count lives in section header 0.
    if (layout.phnum == PN_XNUM) {
        std::size_t shdr_size = layout.is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
        if (shentsize != shdr_size || shoff > bytes.size() || bytes.size() - shoff < shdr_size)
            fail("image '{}' is truncated: section header 0 (segment count) missing", path);
        layout.phnum = layout.is64 ? load<Elf64_Shdr>(bytes, shoff).sh_info : load<Elf32_Shdr>(bytes, shoff).sh_info;
    }
    if (layout.phoff > bytes.size() || (bytes.size() - layout.phoff) / expected_phent < layout.phnum)
        fail("image '{}' is truncated: program headers extend past the end of the file", path);
    return layout;
}

ProgramHeader read_program_header(const MappedFile& file, const ElfLayout& layout, std::uint64_t index)
{
    auto bytes = file.bytes();
    if (layout.is64) {
        auto p = load<Elf64_Phdr>(bytes, layout.phoff + index * sizeof(Elf64_Phdr));
        return {p.p_type, p.p_offset, p.p_paddr, p.p_filesz};
    }
    auto p = load<Elf32_Phdr>(bytes, layout.phoff + index * sizeof(Elf32_Phdr));
    return {p.p_type, p.p_offset, p.p_paddr, p.p_filesz};
}

// Walks the notes of one PT_NOTE segment; returns vCPU 0's registers from the
// first QEMU CPU-state note.
std::optional<CpuRegisters> find_qemu_cpu_state(const MappedFile& file, const ProgramHeader& note_segment,
                                                const ElfLayout& layout)
{
    auto bytes = file.bytes().subspan(note_segment.offset, note_segment.filesz);
    std::uint64_t at = 0;
    auto align4 = [](std::uint64_t n) { return (n + 3) & ~std::uint64_t{3}; };
    while (bytes.size() - at >= 12) {
        auto namesz = load<std::uint32_t>(bytes, at);
        auto descsz = load<std::uint32_t>(bytes, at + 4);
        std::uint64_t name_at = at + 12;
        std::uint64_t desc_at = name_at + align4(namesz);
        std::uint64_t next = desc_at + align4(descsz);
        if (next > bytes.size()) break; // a malformed note ends the walk
        bool is_qemu = namesz >= 4 && std::memcmp(bytes.data() + name_at, "QEMU", 4) == 0;
        if (is_qemu && descsz >= QEMU_CPUSTATE_MIN_SIZE) {
            CpuRegisters regs;
            auto cr = [&](int n) { return load<std::uint64_t>(bytes, desc_at + QEMU_CPUSTATE_CR_OFFSET + 8 * n); };
            regs.cr0 = cr(0);
            regs.cr3 = cr(3);
            regs.cr4 = cr(4);
            regs.source = "QEMU CPU-state note of the ELF core";
            // QEMU writes an x86-64 core exactly when the vCPU has EFER.LMA set.
            if (layout.machine == EM_X86_64) regs.efer = CpuRegisters::EFER_LMA | CpuRegisters::EFER_LME;
            regs.efer_source = "EFER derived from the ELF machine type (QEMU's note has no EFER)";
            return regs;
        }
        at = next;
    }
    return std::nullopt;
}

} // namespace

std::unique_ptr<PhysicalMemory> open_elf_core(std::unique_ptr<MappedFile> file)
{
    ElfLayout layout = read_header(*file);
    std::vector<ImageSegment> segments;
    std::optional<CpuRegisters> registers;
    for (std::uint64_t i = 0; i < layout.phnum; ++i) {
        ProgramHeader ph = read_program_header(*file, layout, i);
        if (ph.type != PT_LOAD && ph.type != PT_NOTE) continue;
        if (ph.offset > file->size() || file->size() - ph.offset < ph.filesz)
            fail("image '{}' is truncated: segment {} (physical {:#x}, {} bytes) extends past the end of the file",
                 file->path(), i, ph.paddr, ph.filesz);
        if (ph.type == PT_NOTE) {
            if (!registers) registers = find_qemu_cpu_state(*file, ph, layout);
        } else if (ph.filesz > 0) {
            if (ph.paddr + ph.filesz < ph.paddr) fail("image '{}': segment {} wraps around", file->path(), i);
            segments.push_back({{ph.paddr, ph.filesz}, ph.offset});
        }
    }
    if (segments.empty()) fail("image '{}' is an ELF core without memory (no LOAD segments)", file->path());
    return std::make_unique<ImageMemory>(std::move(file), std::move(segments), std::move(registers), "ELF core");
}

} // namespace vmi
