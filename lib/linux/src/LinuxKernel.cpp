#include "vmi/linux/LinuxKernel.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <fmt/ranges.h>

#include "discovery/GivenFilesCache.hpp"
#include "discovery/KernelBuildCache.hpp"
#include "discovery/KernelProfiles.hpp"
#include "discovery/RamLayoutCheck.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/linux/LinuxKernelLocator.hpp"
#include "vmi/symbols/SymbolTableBuilder.hpp"
#include "vmi/types/KernelBtf.hpp"

namespace vmi {
namespace {

// What the locator and the tools look up in the guest's kallsyms tables up
// front (one batch): the kernel's top-level table and image start under
// their names over the years, the banner, the lists' heads and the BTF
// section. Others are looked up when asked for.
constexpr std::string_view ESSENTIAL_SYMBOLS[] = {
    "init_top_pgt", "init_level4_pgt", "swapper_pg_dir", "_text",   "_stext",      "startup_64",
    "startup_32",   "linux_banner",    "init_task",      "modules", "__start_BTF", "__stop_BTF",
};
constexpr const char* KALLSYMS_ORIGIN = "the kernel's kallsyms tables in guest memory";
// A kernel's .BTF section is a few MiB (Debian 6.1: 5 MiB, 7.x: 7 MiB).
constexpr std::uint64_t MAX_BTF_SECTION = std::uint64_t{64} << 20;

} // namespace

const ConfigKeySet& linux_config_keys()
{
    static const ConfigKeySet keys = [] {
        constexpr auto N = ConfigValueKind::Number;
        constexpr auto T = ConfigValueKind::Text;
        auto check_pagemode = [](std::string_view text) -> std::optional<std::string> {
            if (parse_paging_mode(text)) return std::nullopt;
            return fmt::format("unknown pagemode '{}' (expected legacy, pae, ia32e or la57)", text);
        };
        ConfigKeySet set{
            {"sysmap", T, false},      {"pagemode", T, false, check_pagemode}, {"kpgd", N, false},
            {"linux_kaslr", N, false}, {"linux_init_task", N, false},          {"btf", T, true},
        };
        for (const LayoutFieldSpec& field : linux_layout_fields()) set.add({{field.key, N, !field.libvmi_key}});
        return set;
    }();
    return keys;
}

LinuxKernel::LinuxKernel(MemorySource* memory, LinuxSettings settings) : memory_(memory), settings_(std::move(settings))
{
    const ConfigEntry* entry = this->entry();
    sysmap_path_ = settings_.sysmap;
    if (sysmap_path_.empty() && entry) sysmap_path_ = entry->text("sysmap").value_or("");
    btf_path_ = settings_.btf;
    if (btf_path_.empty() && entry) btf_path_ = entry->text("btf").value_or("");
    if (entry) {
        if (auto slide = entry->number("linux_kaslr")) configured_slide_ = static_cast<std::int64_t>(*slide);
    }
}

LinuxKernel::~LinuxKernel() { store_given_files(); }

MemorySource& LinuxKernel::memory()
{
    if (!memory_) fail("no guest memory: name a VM from the config file or give --image FILE");
    return *memory_;
}

void LinuxKernel::attach()
{
    if (attached_) return;
    kernel_space(); // finds the symbols and the KASLR slide too
    layout();
    remember_kernel_build();
    attached_ = true;
}

bool LinuxKernel::config_sets_layout() const
{
    if (const ConfigEntry* entry = this->entry())
        for (const LayoutFieldSpec& field : linux_layout_fields())
            if (entry->number(field.key)) return true;
    return false;
}

// Whether the layout is the kernel's own (BTF in its memory), untouched by
// config keys: what a cache entry may hold and give back.
bool LinuxKernel::layout_is_the_kernels_own() const { return btf_path_.empty() && !config_sets_layout(); }

// After a zero-configuration attach that had to scan: keep what was found
// for the next run on this kernel build (see KernelBuildCache.hpp).
void LinuxKernel::remember_kernel_build()
{
    if (source_ != SymbolSource::Kallsyms || from_cache_ || !btf_ || !layout_is_the_kernels_own()) return;
    write_kernel_build_cache();
}

void LinuxKernel::write_kernel_build_cache()
{
    if (!kallsyms_essentials_ || !layout_) return;
    CachedKernelBuild entry;
    entry.location = kallsyms_location_;
    for (const Symbol& symbol : kallsyms_essentials_->symbols())
        entry.symbols.push_back(
            {std::string(symbol.name), symbol.address - static_cast<std::uint64_t>(slide_), symbol.type});
    entry.layout = layout_->serialize();
    std::string banner;
    if (const Symbol* symbol = find_symbol("linux_banner")) {
        try {
            banner = kernel_space().read_string(symbol->address, 256);
        } catch (const Error&) {
            // an unreadable banner keys the entry as an empty one
        }
    }
    if (std::optional<std::string> path = store_kernel_build(entry, banner))
        diag::note("kernel build cached in {}", *path);
}

const KernelBtf* LinuxKernel::btf()
{
    if (btf_looked_for_) return btf_.get();
    btf_looked_for_ = true;
    if (!btf_path_.empty()) {
        btf_ = std::make_unique<KernelBtf>(KernelBtf::load(btf_path_));
        diag::note("BTF: from the file {}", btf_->describe());
    } else if (memory_) {
        load_btf_from_memory();
    }
    return btf_.get();
}

// The .BTF section a kernel built with CONFIG_DEBUG_INFO_BTF keeps in its
// image, between __start_BTF and __stop_BTF, read through the kernel's own
// page tables and loaded like a BTF file.
void LinuxKernel::load_btf_from_memory()
{
    choose_symbols();
    if (source_ == SymbolSource::Profile) return; // profiles exist for kernels without BTF
    const Symbol* start = find_symbol("__start_BTF");
    const Symbol* stop = find_symbol("__stop_BTF");
    if (!start || !stop) {
        diag::note("BTF: none in guest memory (no __start_BTF/__stop_BTF: a kernel built without "
                   "CONFIG_DEBUG_INFO_BTF?)");
        return;
    }
    std::uint64_t start_va = start->address, stop_va = stop->address;
    if (stop_va <= start_va || stop_va - start_va > MAX_BTF_SECTION)
        fail("the kernel's .BTF section runs from {:#x} to {:#x}: not a BTF section", start_va, stop_va);
    std::vector<std::uint8_t> bytes(stop_va - start_va);
    kernel_space().read(start_va, bytes);
    btf_ = std::make_unique<KernelBtf>(KernelBtf::from_buffer(
        bytes, fmt::format("guest memory at {:#x} (__start_BTF..__stop_BTF, {} bytes)", start_va, bytes.size())));
    diag::note("BTF: from guest memory, {}", btf_->describe());
}

const LinuxLayout& LinuxKernel::layout()
{
    bool stale = false;
    if (!layout_ && cached_layout_ && layout_is_the_kernels_own()) {
        layout_ = LinuxLayout::deserialize(*cached_layout_, " (cached)");
        if (layout_) diag::note("structure offsets: from the kernel build cache");
        stale = !layout_;
    }
    // A BTF file given: its layout as a run with the same files resolved it.
    bool from_btf_file = !btf_path_.empty() && !config_sets_layout() && !profile_;
    if (!layout_ && from_btf_file) {
        if (GivenFilesEntry* cached = given_files(); cached && !cached->layout.empty()) {
            layout_ = LinuxLayout::deserialize(cached->layout, " (cached)");
            if (layout_) diag::note("structure offsets: from the cache of given files {}", cached->path);
        }
    }
    if (!layout_) {
        const KernelBtf* types = btf();
        layout_ = LinuxLayout::resolve(entry(), types, profile_ ? &profile_->offsets : nullptr,
                                       profile_ ? "profile " + profile_->release : std::string());
        // A cache entry written for other fields (an older vmitools) gets this layout.
        if (stale && types && source_ == SymbolSource::Kallsyms) write_kernel_build_cache();
        if (from_btf_file && types) {
            file_layout_ = layout_->serialize();
            given_files_changed_ = true;
        }
    }
    return *layout_;
}

std::optional<std::uint64_t> LinuxKernel::offset_known_before_locating(std::string_view key)
{
    if (entry()) {
        if (auto value = entry()->number(key)) return value;
    }
    if (profile_) {
        if (auto value = profile_->offsets.number(key)) return value;
    }
    if (!btf_path_.empty()) return layout().find(key);
    // A cached layout is known before the kernel is found: init_task's comm
    // then confirms the cached symbols too.
    if (cached_layout_ && layout_is_the_kernels_own()) {
        if (std::optional<LinuxLayout> cached = LinuxLayout::deserialize(*cached_layout_, {})) return cached->find(key);
    }
    return std::nullopt;
}

const SymbolTable& LinuxKernel::symbols()
{
    // With guest memory at hand, symbols are only right once the kernel (and
    // with it any KASLR slide) has been found.
    if (memory_ && !kernel_) locate_kernel();
    choose_symbols();
    if (!symbols_ && source_ == SymbolSource::File) load_symbol_file();
    if (!symbols_ && source_ == SymbolSource::Kallsyms) {
        symbols_ = kallsyms_reader().table(KALLSYMS_ORIGIN);
        if (slide_ != 0) symbols_->relocate(slide_);
        diag::note("symbols: {} decoded from {}", symbols_->size(), KALLSYMS_ORIGIN);
    }
    return *symbols_;
}

const Symbol* LinuxKernel::find_symbol(std::string_view name)
{
    if (memory_ && !kernel_) locate_kernel();
    choose_symbols();
    if (source_ == SymbolSource::File) return find_file_symbol(name);
    if (symbols_) return symbols_->find(name);
    if (const Symbol* symbol = kallsyms_essentials_->find(name)) return symbol;
    if (auto it = looked_up_.find(name); it != looked_up_.end()) return &it->second;
    std::optional<KallsymsSymbol> found = kallsyms_reader().lookup(name);
    if (!found) return nullptr;
    auto [it, inserted] = looked_up_.emplace(std::string(name), Symbol{});
    it->second = Symbol{found->address + static_cast<std::uint64_t>(slide_), found->type, it->first, {}};
    return &it->second;
}

const Symbol& LinuxKernel::require_symbol(std::string_view name)
{
    if (const Symbol* symbol = find_symbol(name)) return *symbol;
    fail("symbol '{}' not found in {}", name,
         source_ == SymbolSource::Kallsyms ? std::string(KALLSYMS_ORIGIN)
         : source_ == SymbolSource::File   ? sysmap_path_
                                           : symbols_->origin());
}

const Symbol* LinuxKernel::find_file_symbol(std::string_view name)
{
    if (!symbols_) {
        // The given-files cache: what it keeps, and what it knows is not there.
        if (const Symbol* symbol = kallsyms_essentials_->find(name)) return symbol;
        if (auto known = file_names_.find(name); known != file_names_.end() && !known->second) return nullptr;
        load_symbol_file();
    }
    const Symbol* symbol = symbols_->find(name);
    learn_file_symbol(name, symbol);
    return symbol;
}

void LinuxKernel::load_symbol_file()
{
    symbols_ = SymbolTable::load(sysmap_path_);
    diag::note("symbols: {} from {}", symbols_->size(), sysmap_path_);
    if (configured_slide_) {
        symbols_->relocate(*configured_slide_);
        diag::note("symbols relocated by linux_kaslr = {:#x}", static_cast<std::uint64_t>(*configured_slide_));
    }
    if (slide_ != 0) symbols_->relocate(slide_); // the kernel was found before the file was needed
}

void LinuxKernel::learn_file_symbol(std::string_view name, const Symbol* found)
{
    // Names the entry can hold: no spaces or control bytes (vmi-ksym asks for any).
    if (name.empty() || name.size() > SymbolTable::MAX_NAME_LENGTH || std::any_of(name.begin(), name.end(), [](char c) {
            return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
        }))
        return;
    if (file_names_.contains(name)) return;
    std::optional<Symbol> kept;
    if (found) {
        kept = *found;
        kept->address = found->address - static_cast<std::uint64_t>(configured_slide_.value_or(0) + slide_);
    }
    file_names_.emplace(std::string(name), kept);
    given_files_changed_ = true;
}

GivenFilesEntry* LinuxKernel::given_files()
{
    if (given_files_looked_for_) return given_files_.get();
    given_files_looked_for_ = true;
    if (sysmap_path_.empty() && btf_path_.empty()) return nullptr;
    std::optional<std::string> key = given_files_key(sysmap_path_, btf_path_);
    if (!key) return nullptr;
    given_files_key_ = *key;
    if (std::optional<GivenFilesEntry> entry = find_given_files_entry(*key))
        given_files_ = std::make_unique<GivenFilesEntry>(std::move(*entry));
    return given_files_.get();
}

// The symbol file's entry in the given-files cache, when it knows every
// essential symbol (found or absent): those, without parsing the file.
bool LinuxKernel::choose_given_files_cache()
{
    const GivenFilesEntry* cached = given_files();
    if (!cached || cached->symbols.empty()) return false;
    SymbolTableBuilder builder;
    std::map<std::string, std::optional<Symbol>, std::less<>> names;
    try {
        for (const CachedSymbol& symbol : cached->symbols) {
            builder.add(symbol.address, symbol.type, symbol.name);
            names[symbol.name] = Symbol{symbol.address, symbol.type, {}, {}};
        }
    } catch (const Error&) {
        return false; // not an entry we wrote
    }
    for (const std::string& name : cached->absent) names.try_emplace(name, std::nullopt);
    for (std::string_view name : ESSENTIAL_SYMBOLS)
        if (!names.contains(name)) return false; // written by a run that did not need them all
    kallsyms_essentials_ = builder.build(sysmap_path_);
    if (configured_slide_) kallsyms_essentials_->relocate(*configured_slide_);
    file_names_ = std::move(names);
    diag::note("symbols: {} of {} from the cache of given files {}", cached->symbols.size(), sysmap_path_,
               cached->path);
    return true;
}

// After a run with given files: what it learned of them, for the next run
// (GivenFilesCache.hpp). Never an error: a cache is not worth one.
void LinuxKernel::store_given_files() noexcept
{
    try {
        if (!given_files_changed_ || given_files_key_.empty()) return;
        // The entry answers the locator's and the tools' first questions.
        if (symbols_ && source_ == SymbolSource::File)
            for (std::string_view name : ESSENTIAL_SYMBOLS) learn_file_symbol(name, symbols_->find(name));
        GivenFilesEntry entry;
        for (const auto& [name, symbol] : file_names_) {
            if (symbol) entry.symbols.push_back({name, symbol->address, symbol->type});
            else entry.absent.push_back(name);
        }
        entry.layout = !file_layout_.empty() ? file_layout_ : given_files_ ? given_files_->layout : std::string();
        if (std::optional<std::string> path = store_given_files_entry(given_files_key_, entry, sysmap_path_, btf_path_))
            diag::note("given files cached in {}", *path);
    } catch (...) {
        // a full disk or a failed allocation: the next run parses the files again
    }
}

void LinuxKernel::choose_symbols()
{
    if (source_ != SymbolSource::None) return;
    if (!sysmap_path_.empty()) {
        source_ = SymbolSource::File;
        if (!choose_given_files_cache()) load_symbol_file();
        return;
    }
    if (!memory_)
        fail("no kernel symbols: give --sysmap FILE (System.map or a copy of the guest's /proc/kallsyms) "
             "or set sysmap in the config entry");
    if (choose_cached_kernel_build() || choose_kallsyms()) return;
    std::optional<KernelProfile> profile = match_kernel_profile(*memory_, linux_config_keys(), text_kallsyms_.get());
    bool unplaced = text_kallsyms_ && !text_kallsyms_->location().image_va_minus_pa;
    text_kallsyms_.reset();
    if (!profile && unplaced && !scan_all_ram_) {
        // The first tables found could not be placed in their image: a
        // kernel without KALLSYMS_ALL, or a decoy below the real tables.
        diag::note("symbols: no kernel profile matches those tables; scanning all guest RAM for others");
        scan_all_ram_ = true;
        choose_symbols();
        return;
    }
    if (!profile)
        fail("no kernel symbols: no kallsyms tables with data symbols in guest memory, and no kernel profile "
             "matches its kallsyms or banner; give --sysmap FILE (System.map or a copy of the guest's "
             "/proc/kallsyms) or set sysmap in the config entry");
    diag::note("symbols: {} from the kernel profile {} ({}): {}", profile->symbols.size(), profile->release,
               profile->directory, profile->how);
    symbols_ = std::move(profile->symbols);
    profile_ = KernelProfileOffsets{profile->release, profile->directory, std::move(profile->offsets)};
    source_ = SymbolSource::Profile;
}

// The guest's own kallsyms tables, when they hold what the tools need:
// kernels without KALLSYMS_ALL (Debian's i386 ones) list text symbols only,
// without init_task or modules.
bool LinuxKernel::choose_kallsyms()
{
    KallsymsSearch search;
    search.first_only = true;
    search.accept_unplaced = !scan_all_ram_;
    std::vector<KallsymsLocation> found = find_kallsyms(*memory_, search);
    if (found.empty()) {
        diag::note("symbols: no kallsyms tables found in guest memory");
        return false;
    }
    auto reader = std::make_unique<KallsymsReader>(*memory_, found.front());
    std::vector<std::optional<KallsymsSymbol>> hits = reader->lookup(ESSENTIAL_SYMBOLS);
    SymbolTableBuilder builder;
    bool has_init_task = false;
    for (std::size_t i = 0; i < hits.size(); ++i) {
        if (!hits[i]) continue;
        builder.add(hits[i]->address, hits[i]->type, ESSENTIAL_SYMBOLS[i]);
        has_init_task |= ESSENTIAL_SYMBOLS[i] == "init_task";
    }
    if (!has_init_task) {
        diag::note("symbols: {} lists no init_task (text symbols only: a kernel built without KALLSYMS_ALL)",
                   found.front().describe());
        text_kallsyms_ = std::move(reader); // still a witness for the profile
        return false;
    }
    diag::note("symbols: the kernel's own {}", found.front().describe());
    kallsyms_essentials_ = builder.build(KALLSYMS_ORIGIN);
    kallsyms_location_ = found.front();
    kallsyms_ = std::move(reader);
    source_ = SymbolSource::Kallsyms;
    return true;
}

// A kernel build seen before: its tables where the cache entry says (checked
// against this memory), its symbols and layout without a scan or a BTF load.
bool LinuxKernel::choose_cached_kernel_build()
{
    std::optional<CachedKernelBuild> cached = find_cached_kernel_build(*memory_);
    if (!cached) return false;
    SymbolTableBuilder builder;
    try {
        for (const CachedSymbol& symbol : cached->symbols) builder.add(symbol.address, symbol.type, symbol.name);
        kallsyms_essentials_ = builder.build(KALLSYMS_ORIGIN);
    } catch (const Error&) {
        return false; // not an entry we wrote
    }
    diag::note("symbols: the kernel's own {} (from the kernel build cache {})", cached->location.describe(),
               cached->path);
    kallsyms_location_ = cached->location;
    if (!cached->layout.empty()) cached_layout_ = std::move(cached->layout);
    from_cache_ = true;
    source_ = SymbolSource::Kallsyms;
    return true;
}

KallsymsReader& LinuxKernel::kallsyms_reader()
{
    if (!kallsyms_) kallsyms_ = std::make_unique<KallsymsReader>(memory(), kallsyms_location_);
    return *kallsyms_;
}

SymbolTable& LinuxKernel::locator_symbols()
{
    choose_symbols();
    bool essentials = source_ == SymbolSource::Kallsyms || (source_ == SymbolSource::File && kallsyms_essentials_);
    return essentials ? *kallsyms_essentials_ : *symbols_;
}

AddressSpace& LinuxKernel::kernel_space()
{
    if (!kernel_) locate_kernel();
    return *kernel_;
}

AddressSpace LinuxKernel::process_space(std::uint64_t dtb)
{
    return AddressSpace(memory(), kernel_space().mode(), dtb);
}

void LinuxKernel::locate_kernel()
{
    MemorySource& mem = memory();
    std::optional<CpuRegisters> regs = mem.registers();
    const ConfigEntry* entry = this->entry();

    // Paging mode: an explicit setting, else the registers, else the config;
    // otherwise the locator tries the modes the symbol addresses allow.
    KernelHints hints;
    std::string mode_how;
    if (settings_.paging_mode) {
        hints.mode = settings_.paging_mode;
        mode_how = "from --pagemode";
    } else if (regs && regs->paging_mode()) {
        hints.mode = regs->paging_mode();
        mode_how = fmt::format("from CR0/CR4/EFER in the {}", regs->source);
        if (!regs->efer_source.empty()) mode_how += fmt::format("; {}", regs->efer_source);
    } else if (entry && entry->text("pagemode")) {
        hints.mode = parse_paging_mode(*entry->text("pagemode"));
        mode_how = "from pagemode in the config";
    }

    // Symbols from a file, else from guest memory; without any, a root and
    // mode given by hand are taken as they are (nothing can check them).
    bool have_symbols = true;
    try {
        choose_symbols();
    } catch (const Error& e) {
        if (!hints.mode || !((entry && entry->number("kpgd")) || regs)) throw;
        diag::note("{}", e.what());
        have_symbols = false;
    }

    // Page-table root: the config's kpgd; else, when the kernel's own
    // kallsyms tables placed its image (VA = PA + offset, no page tables
    // needed), its top-level table's physical address; else CR3.
    const SymbolTable* table = have_symbols ? &locator_symbols() : nullptr;
    const Symbol* top = nullptr;
    for (const char* name : {"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"})
        if (!top && table) top = table->find(name);
    std::uint64_t image_offset = 0;
    bool image_placed = source_ == SymbolSource::Kallsyms && kallsyms_location_.image_va_minus_pa;
    if (image_placed) image_offset = *kallsyms_location_.image_va_minus_pa;
    if (entry && entry->number("kpgd")) {
        hints.dtb = *entry->number("kpgd");
        hints.dtb_source = "kpgd from the config";
    } else if (top && image_placed) {
        std::uint64_t mask = kallsyms_location_.pointer_size == 8 ? ~std::uint64_t{0} : 0xffffffffULL;
        hints.dtb = (top->address - image_offset) & mask;
        hints.dtb_source =
            fmt::format("{}'s physical address by the kallsyms tables' kernel image placement", top->name);
    } else if (regs && hints.mode) {
        hints.dtb = regs->dtb(*hints.mode);
        hints.dtb_source = fmt::format("CR3 from the {}", regs->source);
        hints.dtb_is_cr3 = true;
    }

    KernelLocation found;
    if (!have_symbols) {
        found = {*hints.mode, *hints.dtb, 0, hints.dtb_source + " (unchecked: no symbols)", {}};
    } else {
        found = locate_linux_kernel(mem, *table, hints, content_anchors());
        slide_ = found.slide;
        if (found.slide != 0) {
            locator_symbols().relocate(found.slide);
            // The symbol file, when it was parsed besides the given-files cache's essentials.
            if (source_ == SymbolSource::File && kallsyms_essentials_ && symbols_) symbols_->relocate(found.slide);
            diag::note("symbols relocated by the KASLR slide {:#x}", static_cast<std::uint64_t>(found.slide));
        }
    }
    diag::note("paging mode {} ({})", name(found.mode), hints.mode ? mode_how : "found with the page tables");
    diag::note("kernel page tables at {:#x} ({})", found.dtb, found.how);
    for (const KernelAnchor& anchor : found.anchors)
        diag::note("anchor {}: {} ({})", anchor.name, anchor.held ? "held" : "did not hold", anchor.detail);
    kernel_ = std::make_unique<AddressSpace>(mem, found.mode, found.dtb);
    // With kernel_ set, find_symbol looks up boot_params without locating again.
    if (have_symbols && !mem.inferred_layout().empty())
        check_inferred_ram_layout(mem, *kernel_, find_symbol("boot_params"));
}

std::vector<ContentAnchor> LinuxKernel::content_anchors()
{
    // init_task's comm, where the layout is known without the kernel (from the
    // config or a BTF file): "swapper/0" (Linux 2.6.39 and later) or "swapper".
    std::vector<ContentAnchor> anchors;
    const Symbol* init = locator_symbols().find("init_task");
    std::optional<std::uint64_t> comm = offset_known_before_locating("linux_name");
    std::optional<std::uint64_t> configured = entry() ? entry()->number("linux_init_task") : std::nullopt;
    if (!comm || (!init && !configured)) return anchors;
    std::uint64_t address = configured ? *configured : init->address;
    anchors.push_back(
        {"init_task",
         [address, offset = *comm](MemorySource& mem, const KernelLocation& at) -> std::optional<std::string> {
             std::uint64_t va = address + static_cast<std::uint64_t>(at.slide) + offset;
             std::optional<std::uint64_t> pa = kernel_physical(mem, at, va);
             if (!pa || !mem.is_ram(*pa, 16)) return std::nullopt;
             std::array<char, 16> name{};
             mem.read(*pa, {reinterpret_cast<std::uint8_t*>(name.data()), name.size()});
             std::string_view text(name.data(), strnlen(name.data(), name.size()));
             if (text != "swapper/0" && text != "swapper") return std::nullopt;
             return fmt::format("init_task's comm reads '{}'", text);
         }});
    return anchors;
}

std::uint64_t LinuxKernel::init_task()
{
    if (entry()) {
        if (auto address = entry()->number("linux_init_task")) {
            kernel_space(); // settles the slide
            return *address + static_cast<std::uint64_t>(slide_);
        }
    }
    return require_symbol("init_task").address;
}

LinuxTaskList& LinuxKernel::task_list()
{
    if (!task_list_) task_list_ = std::make_unique<LinuxTaskList>(kernel_space(), layout());
    return *task_list_;
}

LinuxModuleList& LinuxKernel::module_list()
{
    if (!module_list_) module_list_ = std::make_unique<LinuxModuleList>(kernel_space(), layout());
    return *module_list_;
}

TaskListing LinuxKernel::tasks(const TaskListOptions& options)
{
    std::uint64_t head = init_task();
    LinuxTaskList& list = task_list();
    if (diag::verbose())
        diag::note("walking the task list from init_task at {:#x} (tasks at +{:#x}, comm at +{:#x}; offsets from {})",
                   head, layout().get("linux_tasks"), layout().get("linux_name"), layout().source("linux_tasks"));
    return list.list(head, options);
}

std::uint64_t LinuxKernel::direct_map()
{
    AddressSpace& kernel = kernel_space();
    const Symbol* init = symbols().find("init_task");
    if (pointer_size(kernel.mode()) == 4) {
        // i386 maps its image inside the direct map: PAGE_OFFSET is what
        // separates init_task's virtual and physical addresses.
        if (!init) return 0;
        Translation t = kernel.try_translate(init->address);
        return t.ok ? init->address - t.physical : 0;
    }
    // x86-64: page_offset_base holds it with CONFIG_RANDOMIZE_MEMORY (KASLR);
    // without, it is the constant PAGE_OFFSET of the paging mode.
    std::uint64_t base = kernel.mode() == PagingMode::LA57 ? 0xff11000000000000ULL : 0xffff888000000000ULL;
    if (const Symbol* variable = symbols().find("page_offset_base")) {
        try {
            base = kernel.read_pointer(variable->address);
        } catch (const Error&) {
            return 0;
        }
    }
    // Physical 1 MiB (always RAM) must be where the direct map says.
    Translation t = kernel.try_translate(base + 0x100000);
    return t.ok && t.physical == 0x100000 ? base : 0;
}

TaskScanCandidates LinuxKernel::scan_for_tasks(std::size_t max_tasks)
{
    auto start = std::chrono::steady_clock::now();
    TaskScanCandidates found = task_scan_candidates(kernel_space(), layout(), direct_map(), max_tasks);
    if (found.available)
        diag::note("scan of guest RAM ahead of the pause: {} places look like tasks ({:.1f} ms)", found.tasks.size(),
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    return found;
}

TaskCrossView LinuxKernel::check_tasks(const std::optional<std::vector<GuestProcess>>& guest, bool scan_memory,
                                       std::size_t max_tasks, const TaskScanCandidates* scanned)
{
    std::uint64_t init = init_task();
    AddressSpace& kernel = kernel_space();
    const SymbolTable& table = symbols();
    auto address_of = [&](std::string_view name) -> std::uint64_t {
        const Symbol* symbol = table.find(name);
        return symbol ? symbol->address : 0;
    };
    std::vector<ObjectView> views;

    ObjectView list_view("tasks");
    TaskListing listing = task_list().list(init, {.threads = false, .max_tasks = max_tasks});
    for (const LinuxTask& task : listing.tasks) list_view.objects.insert(task.address);
    list_view.complete = listing.complete;
    // Only the walk's own problems: a field of one task that cannot be read
    // (a column of vmi-ps) does not make the list less whole, and the cross
    // view reads each task again and says so if it cannot.
    for (WalkProblem& problem : listing.problems)
        if (problem.concerns_walk()) list_view.problems.push_back(std::move(problem));
    views.push_back(std::move(list_view));

    if (std::uint64_t ns = address_of("init_pid_ns")) {
        views.push_back(pid_table_view(kernel, layout(), ns, max_tasks));
    } else {
        views.push_back(unavailable_view("pid_table", "no init_pid_ns symbol"));
    }
    views.push_back(children_view(kernel, layout(), init, max_tasks));
    std::unordered_set<std::uint64_t> idle;
    ObjectView runqueues = runqueue_view(
        kernel, layout(), {address_of("runqueues"), address_of("__per_cpu_offset"), address_of("nr_cpu_ids")},
        max_tasks, idle);
    idle.insert(init); // init_task is CPU 0's idle task

    ObjectView scan = scan_memory ? task_scan_view(kernel, layout(), direct_map(), max_tasks, scanned)
                                  : unavailable_view("scan", "not asked for");

    std::unordered_set<std::uint64_t> seeds{init};
    for (const ObjectView& view : views) seeds.insert(view.objects.begin(), view.objects.end());
    seeds.insert(runqueues.objects.begin(), runqueues.objects.end());
    seeds.insert(scan.objects.begin(), scan.objects.end());
    views.push_back(thread_group_view(kernel, layout(), seeds, max_tasks));
    views.push_back(std::move(runqueues));
    views.push_back(std::move(scan));
    for (const ObjectView& view : views) {
        if (view.available) diag::note("view {}: {} tasks", view.id, view.objects.size());
        else diag::note("view {} unavailable: {}", view.id, view.unavailable);
    }
    return cross_view_tasks(std::move(views), task_list(), idle, guest);
}

ModuleListing LinuxKernel::modules()
{
    std::uint64_t head = require_symbol("modules").address;
    LinuxModuleList& list = module_list();
    if (diag::verbose())
        diag::note("walking the module list from modules at {:#x} (module list at +{:#x}; offsets from {})", head,
                   layout().get("linux_module_list"), layout().source("linux_module_list"));
    return list.list(head);
}

ModuleCrossView LinuxKernel::check_modules(std::size_t max_modules)
{
    AddressSpace& kernel = kernel_space();
    const SymbolTable& table = symbols();
    auto address_of = [&](std::string_view name) -> std::uint64_t {
        const Symbol* symbol = table.find(name);
        return symbol ? symbol->address : 0;
    };
    std::vector<ObjectView> views;
    ObjectView list_view("modules");
    ModuleListing listing = module_list().list(table.require("modules").address, max_modules);
    for (const LinuxModule& module : listing.modules) list_view.objects.insert(module.address);
    list_view.complete = listing.complete;
    // As for tasks: the walk's problems, not unreadable fields of one module.
    for (WalkProblem& problem : listing.problems)
        if (problem.concerns_walk()) list_view.problems.push_back(std::move(problem));
    views.push_back(std::move(list_view));
    views.push_back(module_sysfs_view(kernel, layout(), address_of("module_kset"), max_modules));
    views.push_back(module_tree_view(kernel, layout(), address_of("mod_tree"), max_modules));
    views.push_back(module_area_scan_view(kernel, layout(), address_of("high_memory"), max_modules));
    for (const ObjectView& view : views) {
        if (view.available) diag::note("view {}: {} modules", view.id, view.objects.size());
        else diag::note("view {} unavailable: {}", view.id, view.unavailable);
    }
    return cross_view_modules(std::move(views), module_list());
}

std::vector<KernelThread> LinuxKernel::kernel_threads(KernelHookReport& report)
{
    std::vector<KernelThread> threads;
    TaskListing listing = tasks({});
    if (!listing.complete)
        report.problems.emplace_back(
            "the task list was not walked whole: kernel threads past its break are not checked");
    for (const LinuxTask& task : listing.tasks) {
        if (!task.kernel_thread.value_or(false) || task.pid == 0) continue;
        try {
            threads.push_back({task.address, task.pid, task.comm, task_list().thread_function(task)});
        } catch (const Error& e) {
            report.problems.push_back(fmt::format("kernel thread {} (pid {}): {}", task.comm, task.pid, e.what()));
        }
    }
    return threads;
}

KernelHookReport LinuxKernel::hooks()
{
    const SymbolTable& table = symbols();
    const Symbol* text = table.find("_stext");
    if (!text) text = table.find("_text");
    const Symbol* etext = table.find("_etext");
    if (!text || !etext || etext->address <= text->address)
        fail("the kernel's symbols do not give its text (_stext/_text and _etext): cannot tell its code from a "
             "module's");
    CodeOwners owners(text->address, etext->address);
    KernelHookReport report;
    ModuleCrossView modules = check_modules();
    for (WalkProblem& problem : modules.problems) report.problems.push_back(std::move(problem.message));
    // Listed modules first: a hidden copy found again by a scan does not take their code.
    for (bool hidden : {false, true})
        for (const CrossViewModule& entry : modules.entries)
            if (entry.hidden == hidden && !owners.add_module(entry.object, hidden))
                report.problems.push_back(fmt::format("module {} ({:#x}): where its code lies cannot be read",
                                                      entry.object.name, entry.object.address));
    owners.set_function_reader([this](std::uint64_t module) { return module_list().functions(module); });
    HookContext context{kernel_space(), table, owners, layout()};
    walk_system_calls(context, report);
    walk_ftrace(context, report);
    walk_kprobes(context, report);
    walk_tracepoints(context, report);
    walk_hook_point(HookKind::kthread, "kernel threads", report, [&] {
        std::vector<std::string_view> missing = layout().missing({"linux_kthread", "linux_kthread_threadfn"});
        if (!missing.empty())
            throw HookPointUnavailable{fmt::format("the layout has no {} (BTF task_struct.worker_private, "
                                                   "kthread.threadfn): their functions cannot be read",
                                                   fmt::join(missing, ", "))};
        std::vector<KernelThread> threads = kernel_threads(report);
        walk_kthreads(context, threads, report);
        return threads.size();
    });
    for (const HookPoint& point : report.points) {
        if (point.available) diag::note("hook point {}: {} entries", point.name, point.entries);
        else diag::note("hook point {} {}: {}", point.name, point.absent ? "absent" : "unavailable", point.unavailable);
    }
    return report;
}

std::optional<std::string> LinuxKernel::command_line(const LinuxTask& task) { return task_list().command_line(task); }

} // namespace vmi
