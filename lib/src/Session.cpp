#include "vmi/Session.hpp"

#include "vmi/ConfigLocator.hpp"
#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/ImageFile.hpp"
#include "vmi/KernelBtf.hpp"
#include "vmi/LibvirtDomain.hpp"
#include "vmi/LinuxKernelLocator.hpp"
#include "vmi/QemuMemory.hpp"
#include "vmi/QmpSocket.hpp"

namespace vmi {
namespace {

// The config entry named options.vm. Without one, the name may still be a
// libvirt domain: then `missing` says why there is no entry and nullopt is
// returned.
std::optional<ConfigEntry> load_entry(const SessionOptions& options, std::string& missing)
{
    std::string path = options.config_path;
    if (path.empty()) {
        std::optional<std::string> found = find_config_file();
        if (!found) {
            std::string searched;
            for (const std::string& candidate : config_search_path()) searched += (searched.empty() ? "" : ", ") + candidate;
            missing = fmt::format("no config file found for VM '{}' (searched {})", options.vm, searched);
            return std::nullopt;
        }
        path = *found;
    }
    ConfigFile file = ConfigFile::load(path);
    for (const std::string& warning : file.warnings) diag::warn("{}", warning);
    const ConfigEntry* entry = file.find(options.vm);
    if (!entry) {
        missing = fmt::format("no entry for VM '{}' in config file '{}'", options.vm, path);
        return std::nullopt;
    }
    diag::note("config entry '{}' from {}:{}", entry->name, path, entry->line);
    return *entry;
}

std::string setting(const std::string& flag, const std::optional<ConfigEntry>& entry, const char* key)
{
    if (!flag.empty() || !entry) return flag;
    return entry->text(key).value_or("");
}

} // namespace

std::unique_ptr<PhysicalMemory> Session::open_memory(const SessionOptions& options, const std::optional<ConfigEntry>& entry,
                                                     const std::string& missing_entry, bool memory_optional)
{
    // Flags win over the entry's keys, as a whole: --image on the command
    // line means the dump, whatever source the entry names.
    bool flags_name_source = !options.image.empty() || !options.qmp.empty() || !options.backend.empty();
    const std::optional<ConfigEntry> none;
    const std::optional<ConfigEntry>& from = flags_name_source ? none : entry;
    std::string image = setting(options.image, from, "image");
    std::string qmp = setting(options.qmp, from, "qmp");
    std::string backend = setting(options.backend, from, "backend");
    std::string uri = setting(options.uri, entry, "uri");
    RamAccessPath access = parse_ram_access_path(setting(options.access, entry, "access"));
    if (!backend.empty() && backend != "kvm" && backend != "file" && backend != "qmp")
        fail("unknown backend '{}' (expected kvm, qmp or file)", backend);
    if (!image.empty() + !qmp.empty() + (backend == "kvm") > 1)
        fail("give one guest source: a memory image, a QMP socket or a libvirt domain (--backend kvm)");

    if (!qmp.empty()) return std::make_unique<QemuMemory>(std::make_unique<QmpSocket>(qmp), access, options.writes);
    if (!image.empty()) return open_image_file(image, options.writable_image);
    if (backend == "qmp") fail("backend qmp needs a socket: --qmp PATH or qmp = \"PATH\"");
    if (backend == "file") fail("backend file needs a memory image: --image FILE or image = \"FILE\"");
    if (backend == "kvm" || (!options.vm.empty() && !entry)) {
        // No entry: the name is taken as a libvirt domain's (LibVMI does the same).
        std::string domain = entry ? entry->name : options.vm;
        if (domain.empty()) fail("backend kvm needs a libvirt domain name");
        try {
            return std::make_unique<QemuMemory>(std::make_unique<LibvirtDomain>(uri, domain), access, options.writes);
        } catch (const Error& e) {
            if (backend == "kvm") throw;
            fail("{}, and it is not a running libvirt guest either: {}", missing_entry, e.what());
        }
    }
    if (entry) fail("config entry '{}' names no memory source (set image, qmp, or backend = \"kvm\")", entry->name);
    if (!memory_optional)
        fail("no guest given: name a VM (a config entry or a libvirt domain), or give --image FILE or --qmp SOCKET");
    return nullptr;
}

bool Session::config_names_entry(const SessionOptions& options)
{
    std::optional<std::string> path = options.config_path.empty() ? find_config_file() : options.config_path;
    return path && ConfigFile::load(*path).find(options.vm) != nullptr;
}

Session Session::open(const SessionOptions& options, bool memory_optional)
{
    diag::set_verbose(options.verbose);
    options.format(); // reject a bad --format before touching the guest
    Session session;
    std::string missing_entry;
    if (!options.vm.empty()) session.entry_ = load_entry(options, missing_entry);
    session.memory_ = open_memory(options, session.entry_, missing_entry, memory_optional);
    if (session.memory_) diag::note("memory: {}", session.memory_->describe());

    session.sysmap_path_ = options.sysmap;
    if (session.sysmap_path_.empty() && session.entry_) session.sysmap_path_ = session.entry_->text("sysmap").value_or("");
    if (session.entry_) {
        if (auto slide = session.entry_->number("linux_kaslr")) session.kaslr_slide_ = static_cast<std::int64_t>(*slide);
    }
    session.btf_path_ = options.btf;
    if (session.btf_path_.empty() && session.entry_) session.btf_path_ = session.entry_->text("btf").value_or("");
    session.pagemode_flag_ = options.pagemode;
    if (!session.pagemode_flag_.empty() && !parse_paging_mode(session.pagemode_flag_))
        fail("--pagemode: unknown paging mode '{}' (expected legacy, pae, ia32e or la57)", session.pagemode_flag_);
    return session;
}

const KernelBtf* Session::btf()
{
    if (!btf_ && !btf_path_.empty()) {
        btf_ = std::make_shared<KernelBtf>(KernelBtf::load(btf_path_));
        diag::note("{}", btf_->describe());
    }
    return btf_.get();
}

PhysicalMemory& Session::memory()
{
    if (!memory_) fail("no guest memory: name a VM from the config file or give --image FILE");
    return *memory_;
}

const SymbolTable& Session::symbols()
{
    // With guest memory at hand, symbols are only right once the kernel (and
    // with it any KASLR slide) has been found.
    if (memory_ && !kernel_) locate_kernel();
    return load_symbols();
}

SymbolTable& Session::load_symbols()
{
    if (!symbols_) {
        if (sysmap_path_.empty())
            fail("no kernel symbols: give --sysmap FILE (System.map or a copy of the guest's /proc/kallsyms) "
                 "or set sysmap in the config entry");
        symbols_ = SymbolTable::load(sysmap_path_);
        diag::note("symbols: {} from {}", symbols_->size(), sysmap_path_);
        if (kaslr_slide_) {
            symbols_->relocate(*kaslr_slide_);
            diag::note("symbols relocated by linux_kaslr = {:#x}", static_cast<std::uint64_t>(*kaslr_slide_));
        }
    }
    return *symbols_;
}

AddressSpace& Session::kernel()
{
    if (!kernel_) locate_kernel();
    return *kernel_;
}

AddressSpace Session::address_space(std::uint64_t dtb) { return AddressSpace(memory(), kernel().mode(), dtb); }

void Session::locate_kernel()
{
    PhysicalMemory& mem = memory();
    std::optional<CpuRegisters> regs = mem.registers();

    // Paging mode: an explicit flag, else the registers, else the config;
    // otherwise the locator tries the modes the symbol addresses allow.
    KernelHints hints;
    std::string mode_how;
    if (!pagemode_flag_.empty()) {
        hints.mode = parse_paging_mode(pagemode_flag_);
        mode_how = "from --pagemode";
    } else if (regs && regs->paging_mode()) {
        hints.mode = regs->paging_mode();
        mode_how = fmt::format("from CR0/CR4/EFER in the {}", regs->source);
        if (!regs->efer_source.empty()) mode_how += fmt::format("; {}", regs->efer_source);
    } else if (entry_ && entry_->text("pagemode")) {
        hints.mode = parse_paging_mode(*entry_->text("pagemode"));
        mode_how = "from pagemode in the config";
    }

    // Page-table root: the config's kpgd, else CR3.
    if (entry_ && entry_->number("kpgd")) {
        hints.dtb = *entry_->number("kpgd");
        hints.dtb_source = "kpgd from the config";
    } else if (regs && hints.mode) {
        hints.dtb = regs->page_table_root(*hints.mode);
        hints.dtb_source = fmt::format("CR3 from the {}", regs->source);
        hints.dtb_is_cr3 = true;
    }

    KernelLocation found;
    if (!has_symbols_configured()) {
        // Without symbols nothing can be checked: take the hints as they are.
        if (!hints.mode || !hints.dtb)
            fail("cannot find the kernel's page tables without symbols: give --sysmap FILE, or set pagemode and kpgd "
                 "in the config");
        found = {*hints.mode, *hints.dtb, 0, hints.dtb_source + " (unchecked: no symbols)"};
    } else {
        found = locate_linux_kernel(mem, load_symbols(), hints);
        slide_ = found.slide;
        if (found.slide != 0) {
            symbols_->relocate(found.slide);
            diag::note("symbols relocated by the KASLR slide {:#x}", static_cast<std::uint64_t>(found.slide));
        }
    }
    diag::note("paging mode {} ({})", name(found.mode), hints.mode ? mode_how : "found with the page tables");
    diag::note("kernel page tables at {:#x} ({})", found.dtb, found.how);
    kernel_ = std::make_unique<AddressSpace>(mem, found.mode, found.dtb);
}

} // namespace vmi
