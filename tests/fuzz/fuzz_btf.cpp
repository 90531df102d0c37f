// Kernel BTF: KernelBtf::from_buffer on raw BTF or a vmlinux ELF (compressed
// kernels are fuzz_decompress's), then the layout questions the tools ask:
// every structure offset of the Linux layer, and member paths made from the
// names the input itself declares (found with libbpf, as KernelBtf does).
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "FuzzSupport.hpp"
#include "vmi/base/ElfFile.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/types/KernelBtf.hpp"

namespace {

constexpr std::size_t MAX_STRUCTS = 32;
constexpr std::size_t MAX_MEMBERS = 8;
constexpr std::size_t MAX_ENUMERATORS = 16;

struct BtfFree {
    void operator()(struct btf* btf) const { btf__free(btf); }
};

// Each question may be refused with a vmi::Error (a bitfield, a malformed or
// corrupt path); anything else escapes.
template <typename F>
void ask(F&& question)
{
    try {
        question();
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
}

void ask_member(const vmi::KernelBtf& btf, const std::string& type, const std::string& path)
{
    ask([&] { (void)btf.member_offset(type, path); });
    ask([&] { (void)btf.member_size(type, path); });
    ask([&] { (void)btf.array_length(type, path); });
}

// Callers ask about C identifiers; a name with a line break would only put
// that line break into the error message quoting the question.
bool plain_name(const char* name)
{
    if (!name || !*name) return false;
    for (; *name; ++name)
        if (*name < 0x20 || *name == 0x7f) return false;
    return true;
}

// Paths from the names the input declares: "m", "m[0]", "m[1]", "m.n".
void ask_declared_names(const vmi::KernelBtf& btf, std::span<const std::uint8_t> raw)
{
    libbpf_print_fn_t previous = libbpf_set_print(nullptr);
    std::unique_ptr<struct btf, BtfFree> parsed(btf__new(raw.data(), static_cast<std::uint32_t>(raw.size())));
    libbpf_set_print(previous);
    if (!parsed) return;
    const struct btf* b = parsed.get();
    std::size_t structs = 0, enumerators = 0;
    for (std::uint32_t id = 1; id < btf__type_cnt(b); ++id) {
        const btf_type* t = btf__type_by_id(b, id);
        if (!t) continue;
        const char* type_name = btf__name_by_offset(b, t->name_off);
        if (btf_is_any_enum(t)) {
            for (std::uint32_t i = 0; i < btf_vlen(t) && enumerators < MAX_ENUMERATORS; ++i, ++enumerators) {
                std::uint32_t name_off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
                if (const char* name = btf__name_by_offset(b, name_off)) (void)btf.enum_value(name);
            }
            continue;
        }
        if (!btf_is_composite(t) || !plain_name(type_name) || structs++ >= MAX_STRUCTS) continue;
        std::string type(type_name);
        (void)btf.struct_size(type);
        const btf_member* members = btf_members(t);
        for (std::uint32_t i = 0; i < btf_vlen(t) && i < MAX_MEMBERS; ++i) {
            const char* member = btf__name_by_offset(b, members[i].name_off);
            if (!plain_name(member)) continue;
            std::string path(member);
            ask_member(btf, type, path);
            ask_member(btf, type, path + "[0]");
            ask_member(btf, type, path + "[1]");
            // One level down, through the member's own type.
            int inner_id = btf__resolve_type(b, members[i].type);
            const btf_type* inner = inner_id > 0 ? btf__type_by_id(b, inner_id) : nullptr;
            if (inner && btf_is_array(inner)) {
                inner_id = btf__resolve_type(b, btf_array(inner)->type);
                inner = inner_id > 0 ? btf__type_by_id(b, inner_id) : nullptr;
                path += "[0]";
            }
            if (!inner || !btf_is_composite(inner) || btf_vlen(inner) == 0) continue;
            const char* first = btf__name_by_offset(b, btf_members(inner)[0].name_off);
            if (plain_name(first)) ask_member(btf, type, path + "." + first);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::span<const std::uint8_t> bytes(data, size);
    bool raw = size >= 2 && ((data[0] == 0x9f && data[1] == 0xeb) || (data[0] == 0xeb && data[1] == 0x9f));
    bool elf = size >= 4 && std::memcmp(data,
                                        "\x7f"
                                        "ELF",
                                        4) == 0;
    // Anything else is taken for a compressed kernel, which may unpack to 1 GiB.
    if (!raw && !elf) return 0;
    try {
        vmi::KernelBtf btf = vmi::KernelBtf::from_buffer(bytes, "fuzz.btf");
        (void)btf.describe();
        // Every structure offset the Linux layer reads, as resolved from BTF.
        ask([&] {
            vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(nullptr, &btf);
            for (const vmi::LayoutFieldSpec& field : vmi::linux_layout_fields()) (void)layout.find(field.key);
        });
        ask_member(btf, "task_struct", "tasks");
        ask_member(btf, "module", "mem[2].size");
        ask_member(btf, "module", "core_layout..size");
        std::span<const std::uint8_t> section = bytes;
        if (elf) section = vmi::ElfFile(bytes, "fuzz.btf").section(".BTF").value_or(bytes.first(0));
        if (!section.empty()) ask_declared_names(btf, section);
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
