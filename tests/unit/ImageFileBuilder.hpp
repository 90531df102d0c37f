#pragma once
// Synthetic memory-dump files for the image tests: ELF cores laid out as
// QEMU's dump-guest-memory writes them (a PT_NOTE with the CPU state, then
// one PT_LOAD per RAM range), and a scratch directory that cleans up.
#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/memory/DumpFile.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi_test {

class TempDir {
public:
    TempDir()
    {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("vmi-unit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string write(const std::string& name, std::string_view bytes) const
    {
        std::string p = file(name);
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return p;
    }

private:
    std::filesystem::path path_;
};

inline std::string read_file_bytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
void append_pod(std::string& out, const T& value)
{
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Overwrites sizeof(T) bytes of `bytes` at `offset` (header fields).
template <typename T>
void patch(std::string& bytes, std::size_t offset, T value)
{
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

inline void pad4(std::string& out)
{
    while (out.size() % 4) out.push_back('\0');
}

// One ELF note: namesz counts the NUL, name and desc padded to 4 bytes.
inline std::string elf_note(std::string_view name, std::uint32_t type, std::string_view desc)
{
    std::string out;
    append_pod(out, static_cast<std::uint32_t>(name.size() + 1));
    append_pod(out, static_cast<std::uint32_t>(desc.size()));
    append_pod(out, type);
    out.append(name);
    out.push_back('\0');
    pad4(out);
    out.append(desc);
    pad4(out);
    return out;
}

// QEMU's struct QEMUCPUState (target/i386/arch_dump.c): u32 version, u32
// size, 18 u64 registers (rax..r15, rip, rflags), 10 segments of 24 bytes
// (cs ds es fs gs ss ldt tr gdt idt), u64 cr[5], u64 kernel_gs_base.
// Everything that is not a control register holds a distinct decoy value.
inline std::string qemu_cpu_state(std::uint64_t cr0, std::uint64_t cr3, std::uint64_t cr4)
{
    std::string out;
    append_pod(out, std::uint32_t{1});
    append_pod(out, std::uint32_t{8 + 18 * 8 + 10 * 24 + 5 * 8 + 8});
    for (std::uint64_t i = 0; i < 18; ++i) append_pod(out, 0x1111111111111111ULL * ((i % 15) + 1));
    for (std::uint32_t i = 0; i < 10; ++i) {
        append_pod(out, std::uint32_t{0x10 + i * 8});              // selector
        append_pod(out, std::uint32_t{0xffffffff});                // limit
        append_pod(out, std::uint32_t{0xa09b00});                  // flags
        append_pod(out, std::uint32_t{0});                         // pad
        append_pod(out, std::uint64_t{0xfffffe0000000000ULL + i}); // base
    }
    append_pod(out, cr0);
    append_pod(out, std::uint64_t{0x0badc0de0badc0deULL}); // cr1
    append_pod(out, std::uint64_t{0x00007f1234567000ULL}); // cr2
    append_pod(out, cr3);
    append_pod(out, cr4);
    append_pod(out, std::uint64_t{0xffff88807fc00000ULL}); // kernel_gs_base
    return out;
}

struct SegmentSpec {
    std::uint32_t type = PT_LOAD;
    std::uint64_t paddr = 0;
    std::string data;
    // Where the data went in the file (filled in by build_elf_core).
    std::uint64_t file_offset = 0;
};

struct ElfSpec {
    bool is64 = true;
    std::uint16_t type = ET_CORE;
    std::uint16_t machine = EM_X86_64;
    std::vector<SegmentSpec> segments;
    // Lay segment data out in reverse order in the file (physical order and
    // file order need not agree).
    bool reverse_data = false;
};

// Builds the file; fills in each segment's file_offset.
inline std::string build_elf_core(ElfSpec& spec)
{
    const std::size_t ehsize = spec.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    const std::size_t phentsize = spec.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    std::uint64_t offset = ehsize + phentsize * spec.segments.size();
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < spec.segments.size(); ++i) order.push_back(i);
    if (spec.reverse_data) std::reverse(order.begin(), order.end());
    for (std::size_t i : order) {
        offset = (offset + 15) & ~std::uint64_t{15};
        spec.segments[i].file_offset = offset;
        offset += spec.segments[i].data.size();
    }

    std::string out;
    if (spec.is64) {
        Elf64_Ehdr h{};
        std::memcpy(h.e_ident, ELFMAG, SELFMAG);
        h.e_ident[EI_CLASS] = ELFCLASS64;
        h.e_ident[EI_DATA] = ELFDATA2LSB;
        h.e_ident[EI_VERSION] = EV_CURRENT;
        h.e_type = spec.type;
        h.e_machine = spec.machine;
        h.e_version = EV_CURRENT;
        h.e_phoff = ehsize;
        h.e_ehsize = static_cast<Elf64_Half>(ehsize);
        h.e_phentsize = static_cast<Elf64_Half>(phentsize);
        h.e_phnum = static_cast<Elf64_Half>(spec.segments.size());
        append_pod(out, h);
        for (const SegmentSpec& s : spec.segments) {
            Elf64_Phdr p{};
            p.p_type = s.type;
            p.p_offset = s.file_offset;
            p.p_paddr = s.paddr;
            p.p_vaddr = s.type == PT_LOAD ? 0xffff888000000000ULL + s.paddr : 0;
            p.p_filesz = s.data.size();
            p.p_memsz = s.data.size();
            p.p_align = s.type == PT_LOAD ? 4096 : 1;
            append_pod(out, p);
        }
    } else {
        Elf32_Ehdr h{};
        std::memcpy(h.e_ident, ELFMAG, SELFMAG);
        h.e_ident[EI_CLASS] = ELFCLASS32;
        h.e_ident[EI_DATA] = ELFDATA2LSB;
        h.e_ident[EI_VERSION] = EV_CURRENT;
        h.e_type = spec.type;
        h.e_machine = spec.machine;
        h.e_version = EV_CURRENT;
        h.e_phoff = static_cast<Elf32_Off>(ehsize);
        h.e_ehsize = static_cast<Elf32_Half>(ehsize);
        h.e_phentsize = static_cast<Elf32_Half>(phentsize);
        h.e_phnum = static_cast<Elf32_Half>(spec.segments.size());
        append_pod(out, h);
        for (const SegmentSpec& s : spec.segments) {
            Elf32_Phdr p{};
            p.p_type = s.type;
            p.p_offset = static_cast<Elf32_Off>(s.file_offset);
            p.p_paddr = static_cast<Elf32_Addr>(s.paddr);
            p.p_vaddr = s.type == PT_LOAD ? static_cast<Elf32_Addr>(0xc0000000u + s.paddr) : 0;
            p.p_filesz = static_cast<Elf32_Word>(s.data.size());
            p.p_memsz = static_cast<Elf32_Word>(s.data.size());
            p.p_align = s.type == PT_LOAD ? 4096 : 1;
            append_pod(out, p);
        }
    }
    for (std::size_t i : order) {
        out.resize(spec.segments[i].file_offset, '\0');
        out += spec.segments[i].data;
    }
    return out;
}

// `size` bytes where byte i is `tag` xor'ed with i's low bits, so every
// offset of every segment is distinguishable.
inline std::string pattern(std::size_t size, std::uint8_t tag)
{
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(tag ^ (i & 0xff) ^ ((i >> 8) & 0xff));
    return out;
}

// Reads and writes of guest-physical bytes as strings, and the error opening a file gives.
inline std::string read_phys(vmi::MemorySource& memory, std::uint64_t address, std::size_t size)
{
    std::string out(size, '\0');
    memory.read(address, {reinterpret_cast<std::uint8_t*>(out.data()), size});
    return out;
}

inline void write_phys(vmi::MemorySource& memory, std::uint64_t address, std::string_view data)
{
    memory.write(address, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
}

inline std::string open_error(const std::string& path, bool writable = false)
{
    try {
        vmi::open_image_file(path, writable);
    } catch (const vmi::Error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace vmi_test
