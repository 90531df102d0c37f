#pragma once
// Linux kernel modules: the `modules` list head links every struct module
// through module.list, as /proc/modules walks it.
#include <cstdint>
#include <string>
#include <vector>

#include "vmi/AddressSpace.hpp"
#include "vmi/LinuxLayout.hpp"

namespace vmi {

struct LinuxModule {
    std::uint64_t address = 0; // the struct module
    std::string name;
    std::uint64_t size = 0;    // as /proc/modules adds it up
    std::int64_t refcount = 0; // module_refcount(): refcnt - MODULE_REF_BASE
    std::uint64_t base = 0;    // where its code starts
    std::string state;         // Live, Loading, Unloading
    std::vector<std::string> used_by;
};

struct ModuleListing {
    std::vector<LinuxModule> modules;
    std::vector<std::string> problems;
};

class LinuxModuleList {
public:
    LinuxModuleList(AddressSpace& kernel, const LinuxLayout& layout) : kernel_(kernel), layout_(layout) {}

    // `modules_head` is the address of the kernel's `modules` symbol.
    ModuleListing list(std::uint64_t modules_head, std::size_t max_modules = 1 << 16);

private:
    std::string read_name(std::uint64_t module);
    std::vector<std::string> read_users(std::uint64_t module, std::size_t max_modules);

    AddressSpace& kernel_;
    const LinuxLayout& layout_;
};

} // namespace vmi
