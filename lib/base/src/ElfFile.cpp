#include "vmi/base/ElfFile.hpp"

#include <cstring>
#include <elf.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi {
namespace {

bool fits(std::span<const std::uint8_t> bytes, std::uint64_t offset, std::uint64_t size)
{
    return offset <= bytes.size() && size <= bytes.size() - offset;
}

} // namespace

ElfFile::ElfFile(std::span<const std::uint8_t> bytes, std::string origin) : bytes_(bytes), origin_(std::move(origin))
{
    if (bytes.size() < EI_NIDENT || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0)
        fail("{} is truncated: ELF header incomplete", origin_);
    int cls = bytes[EI_CLASS];
    if (cls != ELFCLASS32 && cls != ELFCLASS64) fail("{}: unknown ELF class {}", origin_, cls);
    if (bytes[EI_DATA] != ELFDATA2LSB) fail("{}: not a little-endian ELF file (not x86)", origin_);
    is64_ = cls == ELFCLASS64;
    if (bytes.size() < (is64_ ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
        fail("{} is truncated: ELF header incomplete", origin_);
    auto take = [&](const auto& h) {
        type_ = h.e_type, machine_ = h.e_machine, phoff_ = h.e_phoff, phnum_ = h.e_phnum;
        phentsize_ = h.e_phentsize, shoff_ = h.e_shoff, shnum_ = h.e_shnum, shentsize_ = h.e_shentsize;
        shstrndx_ = h.e_shstrndx;
    };
    if (is64_) take(load_unaligned<Elf64_Ehdr>(bytes.data()));
    else take(load_unaligned<Elf32_Ehdr>(bytes.data()));
}

ElfFile::SectionHeader ElfFile::section_header(std::uint64_t index) const
{
    std::size_t size = is64_ ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    if (shentsize_ < size) fail("{}: ELF section header size {} is too small", origin_, shentsize_);
    std::uint64_t at = shoff_ + index * shentsize_;
    if (index > bytes_.size() || !fits(bytes_, at, size))
        fail("{}: ELF section headers lie outside the file: truncated?", origin_);
    auto take = [](const auto& s) {
        return SectionHeader{s.sh_name, s.sh_type, s.sh_offset, s.sh_size, s.sh_link, s.sh_info};
    };
    return is64_ ? take(load_unaligned<Elf64_Shdr>(bytes_.data() + at))
                 : take(load_unaligned<Elf32_Shdr>(bytes_.data() + at));
}

std::uint64_t ElfFile::program_header_count() const
{
    std::size_t size = is64_ ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (phentsize_ != size) fail("{}: unexpected program header size {}", origin_, phentsize_);
    // With more than 0xfffe segments the count lives in section header 0.
    std::uint64_t count = phnum_;
    if (phnum_ == PN_XNUM) {
        if (shoff_ == 0 || !fits(bytes_, shoff_, is64_ ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
            fail("{} is truncated: section header 0 (segment count) missing", origin_);
        count = section_header(0).info;
    }
    if (phoff_ > bytes_.size() || (bytes_.size() - phoff_) / size < count)
        fail("{} is truncated: program headers extend past the end of the file", origin_);
    return count;
}

ElfFile::ProgramHeader ElfFile::program_header(std::uint64_t index) const
{
    if (is64_) {
        auto p = load_unaligned<Elf64_Phdr>(bytes_.data() + phoff_ + index * sizeof(Elf64_Phdr));
        return {p.p_type, p.p_offset, p.p_paddr, p.p_vaddr, p.p_filesz};
    }
    auto p = load_unaligned<Elf32_Phdr>(bytes_.data() + phoff_ + index * sizeof(Elf32_Phdr));
    return {p.p_type, p.p_offset, p.p_paddr, p.p_vaddr, p.p_filesz};
}

std::optional<std::span<const std::uint8_t>> ElfFile::section(std::string_view name) const
{
    if (shoff_ == 0) return std::nullopt;
    // Extended numbering: past 0xff00 sections the real counts sit in section 0.
    std::uint64_t count = shnum_ ? shnum_ : section_header(0).size;
    std::uint64_t names_index = shstrndx_ == SHN_XINDEX ? section_header(0).link : shstrndx_;
    if (count > bytes_.size() / (is64_ ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
        fail("{}: ELF claims {} sections: corrupt", origin_, count);
    if (names_index >= count) fail("{}: ELF section name table index {} out of range", origin_, names_index);
    SectionHeader names = section_header(names_index);
    if (!fits(bytes_, names.offset, names.size)) fail("{}: ELF section names lie outside the file", origin_);
    std::span<const std::uint8_t> name_table = bytes_.subspan(names.offset, names.size);

    for (std::uint64_t i = 1; i < count; ++i) {
        SectionHeader s = section_header(i);
        if (s.name >= name_table.size()) continue;
        const char* start = reinterpret_cast<const char*>(name_table.data() + s.name);
        if (std::string_view(start, strnlen(start, name_table.size() - s.name)) != name) continue;
        if (s.type == SHT_NOBITS || !fits(bytes_, s.offset, s.size))
            fail("{}: ELF section {} lies outside the file: truncated?", origin_, name);
        return bytes_.subspan(s.offset, s.size);
    }
    return std::nullopt;
}

void ElfFile::for_each_note(
    std::span<const std::uint8_t> notes,
    const std::function<void(std::string_view, std::uint32_t, std::span<const std::uint8_t>)>& visit)
{
    auto align4 = [](std::uint64_t n) { return (n + 3) & ~std::uint64_t{3}; };
    std::uint64_t at = 0;
    while (notes.size() - at >= 12) {
        auto namesz = load_unaligned<std::uint32_t>(notes.data() + at);
        auto descsz = load_unaligned<std::uint32_t>(notes.data() + at + 4);
        auto type = load_unaligned<std::uint32_t>(notes.data() + at + 8);
        std::uint64_t name_at = at + 12;
        std::uint64_t desc_at = name_at + align4(namesz);
        std::uint64_t next = desc_at + align4(descsz);
        if (next > notes.size()) return;
        const char* name = reinterpret_cast<const char*>(notes.data() + name_at);
        visit(std::string_view(name, strnlen(name, namesz)), type, notes.subspan(desc_at, descsz));
        at = next;
    }
}

} // namespace vmi
