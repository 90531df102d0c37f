#pragma once
// The guest kernel's BTF (BPF Type Format): the compact type information every
// modern distribution kernel carries, from which structure offsets are read
// instead of being written by hand per kernel build.
//
// Accepted inputs: a vmlinux ELF (its .BTF section), a compressed kernel
// (bzImage/vmlinuz or a bare vmlinux.gz/.xz/..., see KernelImage), or a raw
// BTF blob such as a copy of the guest's /sys/kernel/btf/vmlinux.
// Parsing is libbpf's. KernelBtf finds the BTF in whatever holds it and
// answers questions about structure layouts and enumerators.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct btf; // libbpf

namespace vmi {

class KernelBtf {
public:
    // Detects ELF / bzImage / bare compressed stream / raw BTF by content.
    static KernelBtf load(const std::string& path);
    // The same from bytes already in memory; `origin` names them in errors.
    static KernelBtf from_buffer(std::span<const std::uint8_t> bytes, const std::string& origin);

    // Byte offset of a member path inside a struct or union: "tasks",
    // "core_layout.size", "mem[2].size". Members of anonymous structs and
    // unions count as direct members, as in C. nullopt when the struct or a
    // member on the path does not exist (or an index is out of range); throws
    // for a bitfield, which has no byte offset, and for a malformed path.
    std::optional<std::uint64_t> member_offset(std::string_view struct_name, std::string_view path) const;
    // Size in bytes of the member's type.
    std::optional<std::uint64_t> member_size(std::string_view struct_name, std::string_view path) const;
    // Element count of an array member (task_struct.comm: 16); throws when
    // the member is not an array.
    std::optional<std::uint64_t> array_length(std::string_view struct_name, std::string_view path) const;
    std::optional<std::uint64_t> struct_size(std::string_view struct_name) const;
    // Value of an enumerator of any enum ("MOD_TEXT", "TASK_COMM_LEN").
    std::optional<std::int64_t> enum_value(std::string_view enumerator) const;

    const std::string& origin() const { return origin_; }
    // "BTF of 'vmlinuz-6.1.0-50-amd64' (bzImage, xz-compressed), 123456 types".
    std::string describe() const;
    std::size_t type_count() const;

    KernelBtf(KernelBtf&&) noexcept;
    KernelBtf& operator=(KernelBtf&&) noexcept;
    ~KernelBtf();

private:
    struct BtfFree {
        void operator()(struct btf* btf) const;
    };
    struct Member; // where a path leads: type id and offset

    KernelBtf(std::unique_ptr<struct btf, BtfFree> btf, std::string origin, std::string container);
    std::optional<std::uint32_t> find_composite(std::string_view name) const;
    std::optional<Member> resolve_path(std::string_view struct_name, std::string_view path) const;

    std::unique_ptr<struct btf, BtfFree> btf_;
    std::string origin_;
    std::string container_; // "raw BTF", "ELF .BTF section", "bzImage, xz-compressed"
    // Names point into libbpf's string section, which lives as long as btf_.
    std::unordered_map<std::string_view, std::uint32_t> composites_;
};

} // namespace vmi
