#pragma once
// A Linux guest kernel as the tools see it: its symbols (KASLR slide
// applied), its own address space, its structure layout, and its lists of
// tasks and modules. Built on a memory source (or none: symbols only) and
// plain settings; what the settings leave open is found in guest memory:
// the symbols from the kernel's own kallsyms tables (or, for kernels whose
// tables hold text symbols only, from a matching kernel profile), the
// structure layout from the kernel's own .BTF section.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "vmi/base/PagingMode.hpp"
#include "vmi/config/ConfigFile.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/linux/KernelHooks.hpp"
#include "vmi/linux/LinuxKernelLocator.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/linux/LinuxModuleList.hpp"
#include "vmi/linux/LinuxModuleViews.hpp"
#include "vmi/linux/LinuxTaskList.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"
#include "vmi/linux/ModuleCrossView.hpp"
#include "vmi/linux/TaskCrossView.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

class KernelBtf;
struct GivenFilesEntry;

// A matched kernel profile's release and offsets (see KernelProfiles.hpp).
struct KernelProfileOffsets {
    std::string release;
    std::string directory;
    ConfigEntry offsets;
};

struct LinuxSettings {
    std::string sysmap;                    // System.map or a copy of /proc/kallsyms; wins over the entry's
    std::string btf;                       // vmlinux, vmlinuz or raw BTF; wins over the entry's
    std::optional<PagingMode> paging_mode; // wins over the registers and the entry's pagemode
    // The config entry, for sysmap, btf, pagemode, kpgd, linux_kaslr,
    // linux_init_task and the structure offsets (linux_config_keys()).
    std::optional<ConfigEntry> entry;
};

// The config keys this layer reads: LibVMI's (sysmap, pagemode, kpgd,
// linux_tasks, ...) and ours (btf, linux_tgid, ...).
const ConfigKeySet& linux_config_keys();

class LinuxKernel {
public:
    // `memory` may be null (symbols only); it must outlive this object.
    LinuxKernel(MemorySource* memory, LinuxSettings settings);
    ~LinuxKernel();
    LinuxKernel(const LinuxKernel&) = delete;
    LinuxKernel& operator=(const LinuxKernel&) = delete;

    // Does the attach work: finds the kernel and its page tables, loads the
    // symbols and the structure layout. None of it changes while the guest
    // runs, so tools do it before pausing a live guest, and pause only for
    // the list walks.
    void attach();

    bool has_symbols_configured() const { return !sysmap_path_.empty(); }
    // Symbols at the guest's runtime addresses (KASLR slide applied when
    // there is guest memory to find it in). From the guest's kallsyms tables
    // this decodes every name: tools that need a few use find_symbol.
    const SymbolTable& symbols();
    // One symbol by name, without decoding the whole table when it comes
    // from the guest's kallsyms (a look-up in its tables). The pointer stays
    // valid as long as this object.
    const Symbol* find_symbol(std::string_view name);
    const Symbol& require_symbol(std::string_view name);
    // The kernel's address space: paging mode and page-table root from the
    // registers, the config or a search of memory, as --verbose reports.
    AddressSpace& kernel_space();
    // A process's address space (page-table root `dtb`) in the kernel's paging mode.
    AddressSpace process_space(std::uint64_t dtb);
    // The KASLR slide applied to the symbols (0 until the kernel is found).
    std::int64_t kaslr_slide() const { return slide_; }
    // The kernel's BTF from the settings or the entry; nullptr when neither names one.
    const KernelBtf* btf();
    const LinuxLayout& layout();

    TaskListing tasks(const TaskListOptions& options);
    // Walks every view of the tasks (the task list, the PID table, the
    // children lists, the thread groups, the runqueues and, with `scan`, a
    // scan of RAM) and compares them, with the guest's own list when given
    // (TaskCrossView.hpp).
    // On a live guest, scan_for_tasks() first, while the guest runs, and its
    // result as `scanned`: the pause then reads only the places it found
    // (LinuxTaskViews.hpp, task_scan_candidates).
    TaskCrossView check_tasks(const std::optional<std::vector<GuestProcess>>& guest, bool scan = true,
                              std::size_t max_tasks = 1 << 22, const TaskScanCandidates* scanned = nullptr);
    TaskScanCandidates scan_for_tasks(std::size_t max_tasks = 1 << 22);
    ModuleListing modules();
    // Compares the module list, sysfs's module_kset and the module tree
    // (ModuleCrossView.hpp).
    ModuleCrossView check_modules(std::size_t max_modules = 1 << 16);
    // Every kernel hook point (KernelHooks.hpp), with the owner of the code
    // each one reaches: the kernel's text, or a module of check_modules(),
    // listed or hidden.
    KernelHookReport hooks();
    // See LinuxTaskList::command_line.
    std::optional<std::string> command_line(const LinuxTask& task);

private:
    MemorySource& memory();
    const ConfigEntry* entry() const { return settings_.entry ? &*settings_.entry : nullptr; }
    void locate_kernel();
    // Where the symbols come from: --sysmap or the config's sysmap (plus
    // linux_kaslr), else the guest's own kallsyms tables, else a kernel
    // profile whose release the guest's banner names.
    enum class SymbolSource { None, File, Kallsyms, Profile };
    void choose_symbols();
    bool choose_kallsyms();
    bool choose_cached_kernel_build();
    KallsymsReader& kallsyms_reader(); // the tables read (and checked) on first use
    bool layout_is_the_kernels_own() const;
    // Whether the config entry sets any structure offset.
    bool config_sets_layout() const;
    void remember_kernel_build();
    // Writes the kernel build's cache entry (its essential symbols and layout).
    void write_kernel_build_cache();
    // The table the locator checks: the whole one, or the few symbols it and
    // the tools need, looked up in the guest's kallsyms tables or kept from
    // the symbol file by the given-files cache.
    SymbolTable& locator_symbols();
    // The symbol file (--sysmap), parsed whole, at the slide known so far.
    void load_symbol_file();
    // The given-files cache (GivenFilesCache.hpp): its entry for these files,
    // read once; the symbols it keeps as the essentials when it has them all.
    GivenFilesEntry* given_files();
    bool choose_given_files_cache();
    const Symbol* find_file_symbol(std::string_view name);
    // A name looked up in the symbol file, found or not, for the entry.
    void learn_file_symbol(std::string_view name, const Symbol* found);
    void store_given_files() noexcept;
    // The layout as far as it is known without the kernel located: the
    // config, a BTF file and a profile (the locator's init_task anchor;
    // BTF in guest memory needs the kernel found first).
    std::optional<std::uint64_t> offset_known_before_locating(std::string_view key);
    void load_btf_from_memory();
    // init_task: the config's linux_init_task (a System.map address), else the symbol.
    std::uint64_t init_task();
    std::vector<ContentAnchor> content_anchors();
    LinuxTaskList& task_list();
    // The virtual address of physical 0 in the kernel's direct map; 0 when
    // it cannot be found.
    std::uint64_t direct_map();
    LinuxModuleList& module_list();
    // The kernel threads of the task list with their functions; what cannot
    // be read goes to the report's problems.
    std::vector<KernelThread> kernel_threads(KernelHookReport& report);

    MemorySource* memory_;
    LinuxSettings settings_;
    std::string sysmap_path_;
    std::string btf_path_;
    std::optional<std::int64_t> configured_slide_;
    std::int64_t slide_ = 0;
    SymbolSource source_ = SymbolSource::None;
    std::optional<SymbolTable> symbols_;            // the whole table (decoded on demand from kallsyms)
    std::unique_ptr<KallsymsReader> kallsyms_;      // the guest's own tables, when they are the source
    std::unique_ptr<KallsymsReader> text_kallsyms_; // tables of text symbols only, while a profile is matched
    std::optional<SymbolTable>
        kallsyms_essentials_; // the symbols the locator and the tools use (kallsyms, or cached from a file)
    std::map<std::string, Symbol, std::less<>> looked_up_; // further find_symbol answers (names view the keys)
    KallsymsLocation kallsyms_location_;                   // when the source is Kallsyms
    bool from_cache_ = false;
    bool attached_ = false;     // attach() ran to its end: a second call does nothing
    bool scan_all_ram_ = false; // the kallsyms search goes on past unplaced tables
    std::optional<std::string> cached_layout_;
    // The given-files cache: its key and entry (null: none, or not looked for
    // yet), the names it knows (nullopt: absent from the file; addresses as
    // the file has them), and whether this run taught it something.
    bool given_files_looked_for_ = false;
    std::string given_files_key_;
    std::unique_ptr<GivenFilesEntry> given_files_;
    std::map<std::string, std::optional<Symbol>, std::less<>> file_names_;
    std::string file_layout_;
    bool given_files_changed_ = false;
    std::optional<KernelProfileOffsets> profile_;
    bool btf_looked_for_ = false;
    std::unique_ptr<AddressSpace> kernel_;
    std::unique_ptr<KernelBtf> btf_;
    std::optional<LinuxLayout> layout_;
    std::unique_ptr<LinuxTaskList> task_list_;
    std::unique_ptr<LinuxModuleList> module_list_;
};

} // namespace vmi
