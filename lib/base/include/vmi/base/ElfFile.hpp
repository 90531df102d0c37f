#pragma once
// An ELF file in memory (a dump's ELF core, a vmlinux), read without trusting
// it: every header, table and section is bounds-checked against the bytes.
// 32- and 64-bit, little-endian only (x86). Errors start with `origin`:
// "image 'x.elf' is truncated: ...", "'vmlinux': ELF section ...".
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vmi {

class ElfFile {
public:
    struct ProgramHeader {
        std::uint32_t type = 0;
        std::uint64_t offset = 0;
        std::uint64_t paddr = 0;
        std::uint64_t vaddr = 0;
        std::uint64_t filesz = 0;
    };

    ElfFile(std::span<const std::uint8_t> bytes, std::string origin);

    bool is64() const { return is64_; }
    std::uint16_t type() const { return type_; }
    std::uint16_t machine() const { return machine_; }
    std::span<const std::uint8_t> bytes() const { return bytes_; }

    // The count handles extended numbering (PN_XNUM); the table is checked
    // to lie inside the file.
    std::uint64_t program_header_count() const;
    ProgramHeader program_header(std::uint64_t index) const;

    // The contents of the section named `name`; nullopt when there is none.
    std::optional<std::span<const std::uint8_t>> section(std::string_view name) const;

    // Calls `visit(name, type, desc)` for each note in a PT_NOTE segment's
    // bytes; a malformed note ends the walk.
    static void for_each_note(std::span<const std::uint8_t> notes,
                              const std::function<void(std::string_view name, std::uint32_t type,
                                                       std::span<const std::uint8_t> desc)>& visit);

private:
    struct SectionHeader {
        std::uint32_t name = 0;
        std::uint32_t type = 0;
        std::uint64_t offset = 0;
        std::uint64_t size = 0;
        std::uint32_t link = 0;
        std::uint32_t info = 0;
    };
    SectionHeader section_header(std::uint64_t index) const;

    std::span<const std::uint8_t> bytes_;
    std::string origin_;
    bool is64_ = false;
    std::uint16_t type_ = 0;
    std::uint16_t machine_ = 0;
    std::uint64_t phoff_ = 0;
    std::uint16_t phnum_ = 0;
    std::uint16_t phentsize_ = 0;
    std::uint64_t shoff_ = 0;
    std::uint16_t shnum_ = 0;
    std::uint16_t shentsize_ = 0;
    std::uint16_t shstrndx_ = 0;
};

} // namespace vmi
