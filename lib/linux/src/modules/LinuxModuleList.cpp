#include "vmi/linux/LinuxModuleList.hpp"

#include <algorithm>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/linux/KernelListWalk.hpp"

namespace vmi {
namespace {

constexpr std::int64_t MODULE_REF_BASE = 1;
constexpr std::uint32_t MODULE_STATE_UNFORMED = 3;

std::string state_name(std::uint32_t state)
{
    switch (state) {
    case 0: return "Live";
    case 1: return "Loading";
    case 2: return "Unloading";
    default: fail("state {} is not a module state", state);
    }
}

} // namespace

bool LinuxModule::bad(std::string_view field) const
{
    return std::any_of(bad_fields.begin(), bad_fields.end(), [&](const auto& bad) { return bad.first == field; });
}

LinuxModuleList::LinuxModuleList(AddressSpace& kernel, const LinuxLayout& layout)
    : kernel_(kernel), layout_(layout), offsets_(layout.module_offsets())
{}

std::string LinuxModuleList::read_name(std::uint64_t module)
{
    // MODULE_NAME_LEN is 64 - sizeof(unsigned long).
    std::size_t length = offsets_.name_length.value_or(64 - pointer_size(kernel_.mode()));
    std::string name(std::min<std::size_t>(length, 256), '\0');
    kernel_.read(module + offsets_.name, {reinterpret_cast<std::uint8_t*>(name.data()), name.size()});
    std::size_t end = name.find('\0');
    if (end == std::string::npos)
        fail("module {:#x} has an unterminated name (no NUL in its {} bytes)", module, name.size());
    return name.substr(0, end);
}

std::vector<std::string> LinuxModuleList::read_users(std::uint64_t module, std::size_t max_modules)
{
    std::vector<std::string> users;
    ListWalkResult result = walk_kernel_list(
        kernel_, module + *offsets_.source_list, *offsets_.use_source_list, max_modules,
        fmt::format("users of module {:#x}", module),
        [&](std::uint64_t use) -> std::string {
            std::uint64_t source = kernel_.read_pointer(use + *offsets_.use_source);
            if (!is_kernel_address(kernel_, source))
                return fmt::format("module_use {:#x} has a bad source pointer", use);
            users.push_back(read_name(source));
            return {};
        },
        [](std::uint64_t use) { return fmt::format("module_use {:#x}", use); });
    if (!result.complete()) fail("{}", result.problem);
    return users;
}

LinuxModule LinuxModuleList::read_module(std::uint64_t address, std::size_t max_modules)
{
    const ModuleOffsets& o = offsets_;
    LinuxModule module;
    module.address = address;
    auto field = [&](std::string_view name, auto&& read) {
        try {
            read();
        } catch (const Error& e) {
            module.bad_fields.emplace_back(name, e.what());
        }
    };
    field("name", [&] { module.name = read_name(address); });
    if (!o.size_fields.empty())
        field("size", [&] {
            std::uint64_t size = 0;
            for (std::uint64_t offset : o.size_fields) size += kernel_.read_u32(address + offset);
            module.size = size;
        });
    if (o.refcnt)
        field("refcount", [&] {
            module.refcount = static_cast<std::int32_t>(kernel_.read_u32(address + *o.refcnt)) - MODULE_REF_BASE;
        });
    if (o.core_base) field("address", [&] { module.base = kernel_.read_pointer(address + *o.core_base); });
    if (o.code_size) field("code_size", [&] { module.code_size = kernel_.read_u32(address + *o.code_size); });
    if (o.state) field("state", [&] { module.state = state_name(kernel_.read_u32(address + *o.state)); });
    if (o.source_list && o.use_source_list && o.use_source)
        field("used_by", [&] { module.used_by = read_users(address, max_modules); });
    return module;
}

std::vector<ModuleSymbol> LinuxModuleList::functions(std::uint64_t module)
{
    const ModuleOffsets& o = offsets_;
    if (!o.kallsyms || !o.kallsyms_symtab || !o.kallsyms_num_symtab || !o.kallsyms_strtab) return {};
    // A module's symbols are hundreds; its names are KSYM_NAME_LEN at most.
    constexpr std::uint32_t MAX_SYMBOLS = 1 << 16;
    constexpr std::size_t MAX_NAME = 512;
    constexpr std::uint8_t STT_FUNC = 2;
    std::uint64_t kallsyms = kernel_.read_pointer(module + *o.kallsyms);
    if (!is_kernel_address(kernel_, kallsyms))
        fail("module {:#x}: kallsyms pointer {:#x} is not a kernel address", module, kallsyms);
    std::uint64_t symtab = kernel_.read_pointer(kallsyms + *o.kallsyms_symtab);
    std::uint32_t count = kernel_.read_u32(kallsyms + *o.kallsyms_num_symtab);
    std::uint64_t strtab = kernel_.read_pointer(kallsyms + *o.kallsyms_strtab);
    if (count > MAX_SYMBOLS) fail("module {:#x} claims {} symbols", module, count);
    if (count == 0) return {};
    if (!is_kernel_address(kernel_, symtab) || !is_kernel_address(kernel_, strtab))
        fail("module {:#x}: symtab {:#x} or strtab {:#x} is not a kernel address", module, symtab, strtab);
    // Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64;
    // Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16.
    bool wide = pointer_size(kernel_.mode()) == 8;
    std::size_t entry = wide ? 24 : 16;
    std::vector<std::uint8_t> table(count * entry);
    kernel_.read(symtab, table);
    std::vector<ModuleSymbol> out;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint8_t* e = table.data() + i * entry;
        auto u32 = [](const std::uint8_t* p) { return load_unaligned<std::uint32_t>(p); };
        std::uint8_t info = e[wide ? 4 : 12];
        if ((info & 0xf) != STT_FUNC) continue;
        std::uint64_t value = wide ? load_unaligned<std::uint64_t>(e + 8) : u32(e + 4);
        std::uint64_t size = wide ? load_unaligned<std::uint64_t>(e + 16) : u32(e + 8);
        std::string name = kernel_.read_string(strtab + u32(e), MAX_NAME);
        if (value != 0 && !name.empty()) out.push_back({value, size, std::move(name)});
    }
    std::sort(out.begin(), out.end(),
              [](const ModuleSymbol& a, const ModuleSymbol& b) { return a.address < b.address; });
    return out;
}

ModuleListing LinuxModuleList::list(std::uint64_t modules_head, std::size_t max_modules)
{
    ModuleListing listing;
    ListWalkResult result = walk_kernel_list(
        kernel_, modules_head, offsets_.list, max_modules, "module list",
        [&](std::uint64_t address) -> std::string {
            // /proc/modules skips modules still being set up; so do we.
            if (offsets_.state && kernel_.read_u32(address + *offsets_.state) == MODULE_STATE_UNFORMED) return {};
            listing.modules.push_back(read_module(address, max_modules));
            for (const auto& [field, why] : listing.modules.back().bad_fields)
                listing.problems.push_back({WalkProblem::Kind::field_unreadable, address, std::string(field),
                                            fmt::format("module {:#x}: {} unreadable: {}", address, field, why)});
            return {};
        },
        [this](std::uint64_t address) {
            try {
                return fmt::format("module {:#x} ({})", address, read_name(address));
            } catch (const Error&) {
                return fmt::format("module {:#x}", address);
            }
        });
    listing.complete = result.complete();
    add_walk_problems(result, listing.problems);
    return listing;
}

} // namespace vmi
