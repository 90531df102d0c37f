#include "vmi/LinuxModuleList.hpp"

#include "vmi/Error.hpp"
#include "vmi/KernelListWalk.hpp"

namespace vmi {
namespace {

constexpr std::int64_t MODULE_REF_BASE = 1;
constexpr std::uint32_t MODULE_STATE_UNFORMED = 3;

} // namespace

std::string LinuxModuleList::read_name(std::uint64_t module)
{
    // MODULE_NAME_LEN is 64 - sizeof(unsigned long).
    std::size_t length = layout_.find("linux_module_name_len").value_or(64 - pointer_size(kernel_.mode()));
    std::string name(std::min<std::size_t>(length, 256), '\0');
    kernel_.read(module + layout_.get("linux_module_name"), {reinterpret_cast<std::uint8_t*>(name.data()), name.size()});
    std::size_t end = name.find('\0');
    if (end == std::string::npos) fail("module {:#x} has an unterminated name (no NUL in its {} bytes)", module, name.size());
    return name.substr(0, end);
}

std::vector<std::string> LinuxModuleList::read_users(std::uint64_t module, std::size_t max_modules)
{
    std::vector<std::string> users;
    auto source_list = layout_.find("linux_module_source_list");
    auto use_link = layout_.find("linux_module_use_source_list");
    auto use_source = layout_.find("linux_module_use_source");
    if (!source_list || !use_link || !use_source) return users;
    ListWalkResult result = walk_kernel_list(
        kernel_, module + *source_list, *use_link, max_modules, fmt::format("users of module {:#x}", module),
        [&](std::uint64_t use) -> std::string {
            std::uint64_t source = kernel_.read_pointer(use + *use_source);
            if (!is_kernel_address(kernel_, source)) return fmt::format("module_use {:#x} has a bad source pointer", use);
            users.push_back(read_name(source));
            return {};
        },
        [](std::uint64_t use) { return fmt::format("module_use {:#x}", use); });
    if (!result.complete()) fail("{}", result.problem);
    return users;
}

ModuleListing LinuxModuleList::list(std::uint64_t modules_head, std::size_t max_modules)
{
    ModuleListing listing;
    std::uint64_t link = layout_.get("linux_module_list");
    if (layout_.module_size_offsets().empty())
        layout_.get("linux_module_core_size"); // throws the missing-offset error
    ListWalkResult result = walk_kernel_list(
        kernel_, modules_head, link, max_modules, "module list",
        [&](std::uint64_t address) -> std::string {
            std::uint32_t state = kernel_.read_u32(address + layout_.get("linux_module_state"));
            if (state == MODULE_STATE_UNFORMED) return {}; // /proc/modules skips these too
            LinuxModule module;
            module.address = address;
            module.name = read_name(address);
            for (std::uint64_t offset : layout_.module_size_offsets()) module.size += kernel_.read_u32(address + offset);
            module.refcount = static_cast<std::int32_t>(kernel_.read_u32(address + layout_.get("linux_module_refcnt"))) -
                              MODULE_REF_BASE;
            module.base = kernel_.read_pointer(address + layout_.get("linux_module_core_base"));
            module.state = state == 1 ? "Loading" : state == 2 ? "Unloading" : "Live";
            module.used_by = read_users(address, max_modules);
            listing.modules.push_back(std::move(module));
            return {};
        },
        [this](std::uint64_t address) {
            try {
                return fmt::format("module {:#x} ({})", address, read_name(address));
            } catch (const Error&) {
                return fmt::format("module {:#x}", address);
            }
        });
    if (!result.complete()) listing.problems.push_back(result.problem);
    return listing;
}

} // namespace vmi
