#include "vmi/session/Session.hpp"

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/base/NumberParser.hpp"
#include "vmi/config/ConfigLocator.hpp"
#include "vmi/memory/DumpFile.hpp"
#include "vmi/memory/KubevirtNode.hpp"
#include "vmi/memory/ProxmoxNode.hpp"
#include "vmi/memory/QemuGuest.hpp"
#include "vmi/memory/QemuProcesses.hpp"
#include "vmi/memory/XenGuest.hpp"

namespace vmi {
namespace {

// The config entry named settings.vm. Without one, the name may still be a
// libvirt domain: then `missing` says why there is no entry and nullopt is
// returned.
std::optional<ConfigEntry> load_entry(const SessionSettings& settings, std::string& missing)
{
    std::string path = settings.config_path;
    if (path.empty()) {
        std::optional<std::string> found = find_config_file();
        if (!found) {
            std::string searched;
            for (const std::string& candidate : config_search_path())
                searched += (searched.empty() ? "" : ", ") + candidate;
            missing = fmt::format("no config file found for VM '{}' (searched {})", settings.vm, searched);
            return std::nullopt;
        }
        path = *found;
    }
    ConfigFile file = ConfigFile::load(path, settings.config_keys);
    for (const std::string& warning : file.warnings) diag::warn("{}", warning);
    const ConfigEntry* entry = file.find(settings.vm);
    if (!entry) {
        missing = fmt::format("no entry for VM '{}' in config file '{}'", settings.vm, path);
        return std::nullopt;
    }
    diag::note("config entry '{}' from {}:{}", entry->name, path, entry->line);
    return *entry;
}

std::string setting(const std::string& given, const std::optional<ConfigEntry>& entry, const char* key)
{
    if (!given.empty() || !entry) return given;
    return entry->text(key).value_or("");
}

// A Xen domain: by --domid / domid, else by the entry's or the given name.
std::unique_ptr<MemorySource> open_xen(const SessionSettings& settings, const std::optional<ConfigEntry>& entry,
                                       const std::string& domid)
{
    std::string name = entry ? entry->name : settings.vm;
    std::optional<std::uint32_t> id;
    if (!domid.empty()) {
        ParsedNumber number = try_parse_u64(domid);
        // Ids from DOMID_FIRST_RESERVED (0x7ff0) up are Xen's own.
        if (!number.value || *number.value >= 0x7ff0)
            fail("domid '{}' is not a Xen domain id (a number below 32752)", domid);
        id = static_cast<std::uint32_t>(*number.value);
    } else if (name.empty()) {
        fail("backend xen needs a Xen domain: its name as VM, or --domid N");
    }
    return open_xen_guest(name, id, settings.writes);
}

// The guest's memory source from the settings and the entry: a dump, a QMP
// socket, a libvirt domain (also for a VM name with no config entry) or a Xen
// domain (backend xen only: a bare name is tried as a libvirt domain).
std::unique_ptr<MemorySource> open_memory(const SessionSettings& settings, const std::optional<ConfigEntry>& entry,
                                          const std::string& missing_entry,
                                          std::optional<GuestAgentEndpoint>& guest_agent)
{
    // Settings win over the entry's keys, as a whole: --image on the command
    // line means the dump, whatever source the entry names.
    bool settings_name_source = !settings.image.empty() || !settings.qmp.empty() || !settings.backend.empty() ||
                                !settings.domid.empty() || !settings.qemu_pid.empty();
    const std::optional<ConfigEntry> none;
    const std::optional<ConfigEntry>& from = settings_name_source ? none : entry;
    std::string image = setting(settings.image, from, "image");
    std::string qmp = setting(settings.qmp, from, "qmp");
    std::string backend = setting(settings.backend, from, "backend");
    std::string uri = setting(settings.uri, entry, "uri");
    RamAccessPath access = parse_ram_access_path(setting(settings.access, entry, "access"));
    std::string domid = settings.domid;
    if (domid.empty() && from && from->number("domid")) domid = std::to_string(*from->number("domid"));
    if (!backend.empty() && backend != "kvm" && backend != "xen" && backend != "file" && backend != "qmp" &&
        backend != "proxmox" && backend != "qemu" && backend != "kubevirt")
        fail("unknown backend '{}' (expected kvm, kubevirt, proxmox, qemu, xen, qmp or file)", backend);
    if (!settings.qemu_pid.empty() && backend.empty()) backend = "qemu";
    if (!settings.qemu_pid.empty() && backend != "qemu") fail("--qemu-pid names a QEMU process: it needs backend qemu");
    if (!domid.empty() && backend.empty()) backend = "xen";
    if (!image.empty() + !qmp.empty() +
            (backend == "kvm" || backend == "xen" || backend == "proxmox" || backend == "qemu" ||
             backend == "kubevirt") >
        1)
        fail("give one guest source: a memory image, a QMP socket, a libvirt domain (--backend kvm), a KubeVirt VM "
             "(--backend kubevirt), a Proxmox VM (--backend proxmox), a QEMU process (--qemu-pid) or a Xen domain "
             "(--backend xen)");
    if (!domid.empty() && backend != "xen") fail("a domain id (domid) names a Xen domain: it needs backend xen");
    if (backend == "xen") return open_xen(settings, entry, domid);

    if (!qmp.empty()) return open_qmp_guest(qmp, access, settings.writes);
    if (!image.empty()) return open_image_file(image, settings.writable_image);
    if (backend == "qmp") fail("backend qmp needs a socket: --qmp PATH or qmp = \"PATH\"");
    if (backend == "file") fail("backend file needs a memory image: --image FILE or image = \"FILE\"");
    if (backend == "qemu") {
        if (settings.qemu_pid.empty()) fail("backend qemu needs a QEMU process: --qemu-pid PID");
        ParsedNumber pid = try_parse_u64(settings.qemu_pid);
        if (!pid.value || *pid.value == 0 || *pid.value >= (1u << 22))
            fail("--qemu-pid '{}' is not a process id", settings.qemu_pid);
        return open_qemu_process(qemu_process(static_cast<int>(*pid.value)), access, settings.writes);
    }
    // On a KubeVirt node a VM is NAMESPACE/VM, reached through its pod's libvirt daemon.
    if (backend == "kubevirt" || (backend.empty() && !settings.vm.empty() && !entry && is_kubevirt_node() &&
                                  settings.vm.find('/') != std::string::npos)) {
        std::string name = entry ? entry->name : settings.vm;
        if (name.empty()) fail("backend kubevirt needs a VM: NAMESPACE/NAME");
        if (std::optional<KubevirtVm> vm = find_kubevirt_vm(name)) {
            diag::note("KubeVirt VM {}: domain {} in pod {} ({})", vm->name, vm->domain, vm->pod_uid, vm->uri);
            auto memory = open_libvirt_guest(vm->uri, vm->domain, access, settings.writes);
            guest_agent = GuestAgentEndpoint{vm->uri, vm->domain, {}, {}};
            return memory;
        }
        fail("no running KubeVirt VM '{}' (libvirt sockets of the pods in {})", name,
             host_path("/var/lib/kubelet/pods"));
    }
    // A Proxmox node has no libvirt: a name with no entry is looked for among its VMs first.
    if (backend == "proxmox" || (backend.empty() && !settings.vm.empty() && !entry && is_proxmox_node())) {
        std::string name = entry ? entry->name : settings.vm;
        if (name.empty()) fail("backend proxmox needs a VM: its name or vmid");
        if (std::optional<ProxmoxVm> vm = find_proxmox_vm(name)) {
            auto memory = open_proxmox_guest(*vm, access, settings.writes);
            guest_agent =
                GuestAgentEndpoint{{}, {}, vm->agent_socket, fmt::format("Proxmox VM {} ('{}')", vm->vmid, vm->name)};
            return memory;
        }
        if (backend == "proxmox")
            fail("no running Proxmox VM is named or numbered '{}' (QMP sockets in {})", name,
                 host_path("/var/run/qemu-server"));
    }
    if (backend == "kvm" || (!settings.vm.empty() && !entry)) {
        // No entry: the name is taken as a libvirt domain's (LibVMI does the same).
        std::string domain = entry ? entry->name : settings.vm;
        if (domain.empty()) fail("backend kvm needs a libvirt domain name");
        try {
            auto memory = open_libvirt_guest(uri, domain, access, settings.writes);
            guest_agent = GuestAgentEndpoint{uri, domain, {}, {}};
            return memory;
        } catch (const Error& e) {
            if (backend == "kvm") throw;
            fail("{}, and it is not a running libvirt guest either: {}", missing_entry, e.what());
        }
    }
    if (entry)
        fail(R"(config entry '{}' names no memory source (set image, qmp, or backend = "kvm" or "xen"))", entry->name);
    if (!settings.memory_optional)
        fail("no guest given: name a VM (a config entry or a libvirt domain), or give --image FILE or --qmp SOCKET");
    return nullptr;
}

} // namespace

const ConfigKeySet& session_config_keys()
{
    constexpr auto T = ConfigValueKind::Text;
    static const ConfigKeySet keys{
        {"image", T, true}, {"qmp", T, true},    {"backend", T, true},
        {"uri", T, true},   {"access", T, true}, {"domid", ConfigValueKind::Number, true},
    };
    return keys;
}

bool Session::config_names_entry(const SessionSettings& settings)
{
    std::optional<std::string> path = settings.config_path.empty() ? find_config_file() : settings.config_path;
    return path && ConfigFile::load(*path, settings.config_keys).find(settings.vm) != nullptr;
}

Session Session::open(const SessionSettings& settings)
{
    Session session;
    std::string missing_entry;
    if (!settings.vm.empty()) session.entry_ = load_entry(settings, missing_entry);
    session.memory_ = open_memory(settings, session.entry_, missing_entry, session.guest_agent_);
    if (session.memory_) diag::note("memory: {}", session.memory_->describe());
    return session;
}

MemorySource& Session::memory()
{
    if (!memory_) fail("no guest memory: name a VM from the config file or give --image FILE");
    return *memory_;
}

} // namespace vmi
