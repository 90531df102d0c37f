#pragma once
// Who owns the code at a kernel address: the kernel image's text, a module
// (listed, or hidden from the module list and found by another view), or
// nothing anyone accounts for. A hook that points at code of no module, or
// of a hidden one, is a rootkit's.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "vmi/linux/LinuxModuleList.hpp"

namespace vmi {

struct CodeOwner {
    enum class Kind { core, module, none };
    Kind kind = Kind::none;
    std::string module;               // with Kind::module: its name
    std::uint64_t module_address = 0; // its struct module
    std::uint64_t base = 0;           // where its code starts (the offsets in names count from here)
    bool hidden = false;              // a module some view that must hold it does not

    // "core", the module's name, or "" for none.
    std::string name() const;
};

class CodeOwners {
public:
    // The kernel image's text: [_stext, _etext).
    CodeOwners(std::uint64_t core_start, std::uint64_t core_end) : core_start_(core_start), core_end_(core_end) {}

    // A module's code: [base, base + code_size). Returns false (and adds
    // nothing) when the module's struct gave no such range.
    bool add_module(const LinuxModule& module, bool hidden);

    CodeOwner owner_of(std::uint64_t address) const;

    // Where a module's own function symbols come from (read on first use, once
    // per module; a module whose table cannot be read has none).
    using FunctionReader = std::function<std::vector<ModuleSymbol>(std::uint64_t module_address)>;
    void set_function_reader(FunctionReader reader) { read_functions_ = std::move(reader); }
    // The function of `owner` (a module) at `address` by the module's own
    // symbols, as NAME or NAME+0xOFF; "" when they do not name it.
    std::string module_function(const CodeOwner& owner, std::uint64_t address) const;
    bool in_core(std::uint64_t address) const { return address >= core_start_ && address < core_end_; }

private:
    std::uint64_t core_start_, core_end_;
    std::vector<CodeOwner> modules_;
    std::vector<std::uint64_t> ends_; // per module, where its code ends
    FunctionReader read_functions_;
    mutable std::map<std::uint64_t, std::vector<ModuleSymbol>> functions_; // by struct module
};

} // namespace vmi
