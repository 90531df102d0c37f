#pragma once
// Linux kernel modules: the `modules` list head links every struct module
// through module.list, as /proc/modules walks it. As with tasks, a walk that
// cannot go on ends with a problem naming the entry, while a field of one
// module that cannot be read is marked bad and the walk goes on.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/linux/WalkProblem.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

struct LinuxModule {
    std::uint64_t address = 0; // the struct module
    std::string name;
    std::optional<std::uint64_t> size;      // as /proc/modules adds it up
    std::optional<std::int64_t> refcount;   // module_refcount(): refcnt - MODULE_REF_BASE
    std::optional<std::uint64_t> base;      // where its code starts
    std::optional<std::uint64_t> code_size; // bytes of code (and, before 6.4, data) at base
    std::optional<std::string> state;       // Live, Loading, Unloading
    std::optional<std::vector<std::string>> used_by;
    // Fields that could not be read, each with why.
    std::vector<std::pair<std::string_view, std::string>> bad_fields;

    bool bad(std::string_view field) const;
};

// A function in a module's own symbol table (its ELF symtab as loaded).
struct ModuleSymbol {
    std::uint64_t address = 0;
    std::uint64_t size = 0;
    std::string name;
};

struct ModuleListing {
    std::vector<LinuxModule> modules;
    std::vector<WalkProblem> problems;
    bool complete = true; // the module list's walk went round to its head
};

class LinuxModuleList {
public:
    LinuxModuleList(AddressSpace& kernel, const LinuxLayout& layout);

    // `modules_head` is the address of the kernel's `modules` symbol.
    ModuleListing list(std::uint64_t modules_head, std::size_t max_modules = 1 << 16);

    // Reads one struct module; fields that cannot be read are marked bad.
    LinuxModule read(std::uint64_t address) { return read_module(address, 1 << 16); }

    // The functions of the module at `module` by its own symbol table
    // (module.kallsyms), by address; empty when the layout lacks its offsets.
    // Throws vmi::Error when the table cannot be read.
    std::vector<ModuleSymbol> functions(std::uint64_t module);

private:
    std::string read_name(std::uint64_t module);
    std::vector<std::string> read_users(std::uint64_t module, std::size_t max_modules);
    LinuxModule read_module(std::uint64_t address, std::size_t max_modules);

    AddressSpace& kernel_;
    const LinuxLayout& layout_;
    ModuleOffsets offsets_;
};

} // namespace vmi
