#pragma once
// Synthetic kernels for the KernelImage and KernelBtf tests: a small BTF
// blob made with libbpf, a vmlinux-like ELF that carries it in .BTF, the
// real Debian compressors run with the kernel build's own options, and a
// minimal bzImage header around the result.
#include <bpf/btf.h>
#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "ImageFileBuilder.hpp"
#include "vmi/types/KernelImage.hpp"

namespace vmi_test {

using Bytes = std::vector<std::uint8_t>;

inline std::string guest_dir()
{
    const char* dir = std::getenv("VMI_GUEST_DIR");
    if (dir && *dir) return dir;
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + "/.cache/vmitools/guests";
}

// The amd64-4level test guest's kernel, read by the "real Debian kernel" cases. They
// run as the ctest entry unit-tests-guest-kernels, after the build-guests fixture has
// built the guests: a missing kernel is a failure there, not a skip.
inline std::string guest_kernel_path() { return guest_dir() + "/amd64-4level/vmlinuz"; }

inline std::string missing_guest_kernel()
{
    return "no guest kernel at " + guest_kernel_path() +
           ": tests/guests/build-guests.sh builds it (ctest runs it first, as the build-guests fixture)";
}

inline Bytes read_bytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const Bytes& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Bytes that compress a little (text) followed by bytes that do not (random,
// so lzop stores some blocks as they are): every compressor takes both paths.
inline Bytes filler(std::size_t size, std::uint32_t seed = 1)
{
    Bytes out(size);
    std::mt19937 random(seed);
    const char* text = "struct task_struct *next_task = list_entry(p->tasks.next); ";
    std::size_t text_len = std::strlen(text);
    for (std::size_t i = 0; i < size; ++i)
        out[i] = i < size / 2 ? static_cast<std::uint8_t>(text[i % text_len]) : static_cast<std::uint8_t>(random());
    return out;
}

// A vmlinux stand-in: ELF header, a .data section of `data`, the .BTF
// section, the section name table and, last (where corruption near the end
// of a stream lands), the section headers.
template <bool Is64>
Bytes elf_with_btf(const Bytes& btf, const Bytes& data)
{
    using Ehdr = std::conditional_t<Is64, Elf64_Ehdr, Elf32_Ehdr>;
    using Shdr = std::conditional_t<Is64, Elf64_Shdr, Elf32_Shdr>;
    const std::string names("\0.data\0.BTF\0.shstrtab\0", 23);
    Bytes out(sizeof(Ehdr));
    auto append = [&](const void* p, std::size_t n) {
        // resize + memcpy rather than insert: GCC 12 warns falsely (-Warray-bounds) on the latter.
        std::size_t at = out.size();
        out.resize(at + n);
        if (n) std::memcpy(out.data() + at, p, n);
    };
    std::size_t data_at = out.size();
    append(data.data(), data.size());
    std::size_t btf_at = out.size();
    append(btf.data(), btf.size());
    std::size_t names_at = out.size();
    append(names.data(), names.size());
    while (out.size() % 8) out.push_back(0);
    std::size_t headers_at = out.size();

    Shdr sections[4]{};
    sections[1].sh_name = 1, sections[1].sh_type = SHT_PROGBITS, sections[1].sh_offset = data_at,
    sections[1].sh_size = data.size();
    sections[2].sh_name = 7, sections[2].sh_type = SHT_PROGBITS, sections[2].sh_offset = btf_at,
    sections[2].sh_size = btf.size();
    sections[3].sh_name = 12, sections[3].sh_type = SHT_STRTAB, sections[3].sh_offset = names_at,
    sections[3].sh_size = names.size();
    append(sections, sizeof sections);

    Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = Is64 ? ELFCLASS64 : ELFCLASS32;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = Is64 ? EM_X86_64 : EM_386;
    header.e_version = EV_CURRENT;
    header.e_ehsize = sizeof(Ehdr);
    header.e_shoff = headers_at;
    header.e_shentsize = sizeof(Shdr);
    header.e_shnum = 4;
    header.e_shstrndx = 3;
    std::memcpy(out.data(), &header, sizeof header);
    return out;
}

// The layout questions the tests ask, as a tiny BTF:
//   struct list_head { struct list_head *next, *prev; };                    16
//   struct mod_mem { void *base; unsigned int size; };                      16
//   struct layout  { void *base; unsigned int size; unsigned int text; };   16
//   typedef unsigned int u32;
//   struct demo {                                                          120
//       u32 state;                                                           0
//       union { struct list_head tasks;                                      8
//               struct { int pad; int pid; union { int tgid; long tg; }; };  8, 12, 16
//       };
//       char comm[16];                                                      32
//       struct layout core_layout;                                          48
//       struct mod_mem mem[3];                                              64
//       unsigned int flag:1; unsigned int other:3;                          112 (bits 0, 1)
//   };
//   struct demo_fwd {};  struct demo_fwd { int real; };   (the empty one first)
//   enum mod_mem_type { MOD_TEXT = 0, MOD_DATA = 1, MOD_MEM_NUM_TYPES = 3 };
//   enum signed_enum { NEGATIVE = -5 };
inline Bytes demo_btf()
{
    struct btf* btf = btf__new_empty();
    if (!btf) throw std::runtime_error("btf__new_empty failed");
    int uint_id = btf__add_int(btf, "unsigned int", 4, 0);
    int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
    int long_id = btf__add_int(btf, "long", 8, BTF_INT_SIGNED);
    int char_id = btf__add_int(btf, "char", 1, BTF_INT_CHAR);
    int u32_id = btf__add_typedef(btf, "u32", uint_id);
    int void_ptr = btf__add_ptr(btf, 0);

    // Fields must follow their struct directly, so the self-pointer comes
    // first, pointing at the id the struct is about to get.
    int list_ptr = btf__add_ptr(btf, static_cast<int>(btf__type_cnt(btf)) + 1);
    int list_head = btf__add_struct(btf, "list_head", 16);
    btf__add_field(btf, "next", list_ptr, 0, 0);
    btf__add_field(btf, "prev", list_ptr, 64, 0);

    int mod_mem = btf__add_struct(btf, "mod_mem", 16);
    btf__add_field(btf, "base", void_ptr, 0, 0);
    btf__add_field(btf, "size", uint_id, 64, 0);

    int layout = btf__add_struct(btf, "layout", 16);
    btf__add_field(btf, "base", void_ptr, 0, 0);
    btf__add_field(btf, "size", uint_id, 64, 0);
    btf__add_field(btf, "text", uint_id, 96, 0);

    int tgid_union = btf__add_union(btf, nullptr, 8);
    btf__add_field(btf, "tgid", int_id, 0, 0);
    btf__add_field(btf, "tg", long_id, 0, 0);
    int pid_struct = btf__add_struct(btf, nullptr, 16);
    btf__add_field(btf, "pad", int_id, 0, 0);
    btf__add_field(btf, "pid", int_id, 32, 0);
    btf__add_field(btf, nullptr, tgid_union, 64, 0);
    int tasks_union = btf__add_union(btf, nullptr, 16);
    btf__add_field(btf, "tasks", list_head, 0, 0);
    btf__add_field(btf, nullptr, pid_struct, 0, 0);

    int comm = btf__add_array(btf, uint_id, char_id, 16);
    int mem = btf__add_array(btf, uint_id, mod_mem, 3);

    btf__add_struct(btf, "demo", 120);
    btf__add_field(btf, "state", u32_id, 0, 0);
    btf__add_field(btf, nullptr, tasks_union, 64, 0);
    btf__add_field(btf, "comm", comm, 256, 0);
    btf__add_field(btf, "core_layout", layout, 384, 0);
    btf__add_field(btf, "mem", mem, 512, 0);
    btf__add_field(btf, "flag", uint_id, 896, 1);
    btf__add_field(btf, "other", uint_id, 897, 3);

    btf__add_struct(btf, "demo_fwd", 0);
    btf__add_struct(btf, "demo_fwd", 4);
    btf__add_field(btf, "real", int_id, 0, 0);

    btf__add_enum(btf, "mod_mem_type", 4);
    btf__add_enum_value(btf, "MOD_TEXT", 0);
    btf__add_enum_value(btf, "MOD_DATA", 1);
    btf__add_enum_value(btf, "MOD_MEM_NUM_TYPES", 3);
    btf__add_enum(btf, "signed_enum", 4);
    btf__add_enum_value(btf, "NEGATIVE", -5);

    std::uint32_t size = 0;
    auto raw = static_cast<const std::uint8_t*>(btf__raw_data(btf, &size));
    Bytes out(raw, raw + size);
    btf__free(btf);
    return out;
}

inline Bytes demo_vmlinux(std::size_t data_size = 600 * 1024)
{
    return elf_with_btf<true>(demo_btf(), filler(data_size));
}

// The Debian tool and the options the kernel's build uses for each compression
// (scripts/Makefile.lib, scripts/xz_wrap.sh), reading stdin, writing stdout.
inline const char* compressor_command(vmi::KernelCompression compression)
{
    switch (compression) {
    case vmi::KernelCompression::gzip: return "gzip -n -9";
    case vmi::KernelCompression::bzip2: return "bzip2 -9";
    case vmi::KernelCompression::lzma: return "xz --format=lzma -9";
    case vmi::KernelCompression::xz: return "xz --check=crc32 --x86 --lzma2=dict=1MiB";
    case vmi::KernelCompression::lzo: return "lzop -9";
    case vmi::KernelCompression::lz4: return "lz4 -l -9 -q";
    case vmi::KernelCompression::zstd: return "zstd -19 -q";
    }
    return "false";
}

inline constexpr vmi::KernelCompression ALL_COMPRESSIONS[] = {
    vmi::KernelCompression::gzip, vmi::KernelCompression::bzip2, vmi::KernelCompression::lzma,
    vmi::KernelCompression::xz,   vmi::KernelCompression::lzo,   vmi::KernelCompression::lz4,
    vmi::KernelCompression::zstd,
};

// nullopt when the compressor is not installed (scripts/install-deps.sh --test installs them).
// A missing compressor fails the test that asked for it (scripts/install-deps.sh --test
// installs them all): skipping would leave that decompressor untested, and ctest green.
inline Bytes compress(vmi::KernelCompression compression, const Bytes& input, const TempDir& dir)
{
    std::string command = compressor_command(compression);
    std::string tool = command.substr(0, command.find(' '));
    if (std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) != 0)
        throw std::runtime_error("no '" + tool + "' to compress with " +
                                 std::string(vmi::compression_name(compression)) +
                                 ": scripts/install-deps.sh --test installs it");
    std::string in = dir.file("plain"), out = dir.file("packed");
    write_bytes(in, input);
    std::string run = command + " < '" + in + "' > '" + out + "'";
    if (std::system(run.c_str()) != 0) throw std::runtime_error("compressor failed: " + run);
    return read_bytes(out);
}

// What the kernel's build puts after the compressed stream (size_append).
inline Bytes with_size_appended(Bytes payload, std::uint32_t size)
{
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<std::uint8_t>(size >> (8 * i)));
    return payload;
}

// A bzImage as far as the boot protocol's header goes: `setup_sects` sectors
// of real-mode setup after the boot sector, then the protected-mode code with
// the payload `payload_offset` bytes into it.
inline Bytes fake_bzimage(const Bytes& payload, std::uint8_t setup_sects = 3, std::uint32_t payload_offset = 0x2cc,
                          std::uint16_t version = 0x20f)
{
    std::size_t start = (setup_sects ? setup_sects + 1u : 5u) * 512 + payload_offset;
    Bytes image(start, 0xcc);
    image.insert(image.end(), payload.begin(), payload.end());
    image.resize(image.size() + 4096, 0); // whatever follows the payload in the real image
    image[0x1f1] = setup_sects;
    std::memcpy(image.data() + 0x202, "HdrS", 4);
    image[0x206] = static_cast<std::uint8_t>(version), image[0x207] = static_cast<std::uint8_t>(version >> 8);
    auto put32 = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) image[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put32(0x248, payload_offset);
    put32(0x24c, static_cast<std::uint32_t>(payload.size()));
    return image;
}

} // namespace vmi_test
