#pragma once
// Everything a tool works on, opened from the shared options: the config
// entry, the memory source, the symbols and the kernel's address space.
// Symbols and the kernel address space are found on first use, so a tool that
// reads physical memory never needs a System.map.
#include <memory>
#include <optional>
#include <string>

#include "vmi/AddressSpace.hpp"
#include "vmi/Config.hpp"
#include "vmi/PhysicalMemory.hpp"
#include "vmi/SessionOptions.hpp"
#include "vmi/SymbolTable.hpp"

namespace vmi {

class KernelBtf;

class Session {
public:
    // Opens the config entry and memory source the options name. With
    // `memory_optional`, a session with neither VM nor --image is allowed
    // (symbols only, e.g. vmi-ksym --sysmap FILE).
    static Session open(const SessionOptions& options, bool memory_optional = false);

    // Whether options.vm names an entry of the config file in use (-c, or the
    // first file of the search path). False when there is no config file.
    static bool config_names_entry(const SessionOptions& options);

    bool has_memory() const { return memory_ != nullptr; }
    PhysicalMemory& memory();

    bool has_symbols_configured() const { return !sysmap_path_.empty(); }
    // Symbols at the guest's runtime addresses (KASLR slide applied when
    // there is guest memory to find it in).
    const SymbolTable& symbols();

    // The kernel's address space: paging mode and page-table root from the
    // registers, the config or a search of memory, as --verbose reports.
    AddressSpace& kernel();
    // Another address space (a process's) under the kernel's paging mode.
    AddressSpace address_space(std::uint64_t dtb);

    // The kernel's BTF from --btf or the config's btf key; nullptr when
    // neither is given.
    const KernelBtf* btf();
    // The KASLR slide applied to the symbols (0 until the kernel is found).
    std::int64_t kaslr_slide() const { return slide_; }

    const ConfigEntry* config_entry() const { return entry_ ? &*entry_ : nullptr; }

private:
    Session() = default;
    // The guest's memory source from the flags and the entry: a dump, a QMP
    // socket or a libvirt domain (also for a VM name with no config entry).
    static std::unique_ptr<PhysicalMemory> open_memory(const SessionOptions& options,
                                                       const std::optional<ConfigEntry>& entry,
                                                       const std::string& missing_entry, bool memory_optional);
    void locate_kernel();
    SymbolTable& load_symbols(); // as the file says, plus linux_kaslr

    std::optional<ConfigEntry> entry_;
    std::unique_ptr<PhysicalMemory> memory_;
    std::string sysmap_path_;
    std::string btf_path_;
    std::shared_ptr<KernelBtf> btf_;
    std::int64_t slide_ = 0;
    std::optional<std::int64_t> kaslr_slide_;
    std::string pagemode_flag_;
    std::optional<SymbolTable> symbols_;
    std::unique_ptr<AddressSpace> kernel_;
};

} // namespace vmi
