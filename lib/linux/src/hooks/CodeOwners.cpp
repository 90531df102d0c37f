#include "vmi/linux/CodeOwners.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A module's text is megabytes at most; a size past this is not one.
constexpr std::uint64_t MAX_MODULE_CODE = 1ULL << 30;

} // namespace

std::string CodeOwner::name() const
{
    switch (kind) {
    case Kind::core: return "core";
    case Kind::module: return module;
    case Kind::none: return {};
    }
    return {};
}

bool CodeOwners::add_module(const LinuxModule& module, bool hidden)
{
    if (!module.base || !module.code_size || *module.code_size == 0 || *module.code_size > MAX_MODULE_CODE ||
        *module.base + *module.code_size < *module.base)
        return false;
    modules_.push_back({CodeOwner::Kind::module, module.name, module.address, *module.base, hidden});
    ends_.push_back(*module.base + *module.code_size);
    return true;
}

CodeOwner CodeOwners::owner_of(std::uint64_t address) const
{
    if (in_core(address)) return {CodeOwner::Kind::core, {}, 0, core_start_, false};
    // Listed modules were added first: a hidden copy of a listed module's
    // range (the scan found its struct again) does not take its code.
    for (std::size_t i = 0; i < modules_.size(); ++i)
        if (address >= modules_[i].base && address < ends_[i]) return modules_[i];
    return {};
}

std::string CodeOwners::module_function(const CodeOwner& owner, std::uint64_t address) const
{
    if (owner.kind != CodeOwner::Kind::module || !read_functions_) return {};
    auto [at, fresh] = functions_.try_emplace(owner.module_address);
    if (fresh) {
        try {
            at->second = read_functions_(owner.module_address);
        } catch (const Error&) {
            // no names for this module: its hooks show as MODULE+0xOFF
        }
    }
    const std::vector<ModuleSymbol>& functions = at->second;
    auto above = std::upper_bound(functions.begin(), functions.end(), address,
                                  [](std::uint64_t a, const ModuleSymbol& s) { return a < s.address; });
    if (above == functions.begin()) return {};
    const ModuleSymbol& function = *(above - 1);
    std::uint64_t offset = address - function.address;
    // Past the function's end (when its size is known) is not in it.
    if (function.size != 0 && offset >= function.size) return {};
    return offset == 0 ? function.name : fmt::format("{}+{:#x}", function.name, offset);
}

} // namespace vmi
