#include "vmi/memory/QemuProcesses.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>

#include "qemu/GuestRamAccess.hpp"
#include "qemu/ProcessMaps.hpp"
#include "qemu/QemuMemory.hpp"
#include "qemu/QemuOptions.hpp"
#include "qemu/QmpSocket.hpp"
#include "qemu/StopSignalControl.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/memory/ProxmoxNode.hpp"
#include "vmi/memory/QemuCommandLineRam.hpp"

namespace vmi {
namespace {

// A command line longer than this is no QEMU's we can make sense of.
constexpr std::size_t MAX_CMDLINE = 1 << 20;
constexpr int BUSY_MS = 5000;
constexpr int ANSWER_MS = 10000;

std::vector<std::string> read_cmdline(int pid)
{
    std::ifstream in(host_path(fmt::format("/proc/{}/cmdline", pid)), std::ios::binary);
    if (!in) fail("no process {} (no {})", pid, host_path(fmt::format("/proc/{}/cmdline", pid)));
    std::string text;
    text.resize(MAX_CMDLINE);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\0', start);
        if (end == std::string::npos) end = text.size();
        argv.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

bool is_qemu_binary(const std::string& argv0)
{
    std::string base = std::filesystem::path(argv0).filename().string();
    return base.starts_with("qemu-system-") || base == "qemu-kvm" || base == "kvm";
}

// libvirt's QEMUs carry its paths (monitor socket, domain folder) on their command line.
bool started_by_libvirt(const std::vector<std::string>& argv)
{
    return std::any_of(argv.begin(), argv.end(),
                       [](const std::string& arg) { return arg.find("/libvirt/") != std::string::npos; });
}

// The domain a Xen device model serves (its -xen-domid), nullopt for a QEMU
// that runs a guest of its own.
std::optional<std::string> xen_domain_served(const std::vector<std::string>& argv)
{
    std::vector<std::string> domids = qemu_option_values(argv, "xen-domid");
    if (domids.empty()) return std::nullopt;
    return domids.front();
}

QemuProcess describe_process(int pid, const std::vector<std::string>& argv, const std::set<int>& proxmox_pids)
{
    QemuProcess qemu;
    qemu.pid = pid;
    qemu.argv = argv;
    qemu.name = guest_name_on_command_line(argv);
    if (qemu.name.empty()) qemu.name = fmt::format("qemu-{}", pid);
    qemu.qmp_socket = qmp_socket_on_command_line(argv).value_or("");
    if (!qemu.qmp_socket.empty() && !qemu.qmp_socket.starts_with('/'))
        qemu.qmp_socket = host_path(fmt::format("/proc/{}/cwd/{}", pid, qemu.qmp_socket));
    else if (!qemu.qmp_socket.empty()) qemu.qmp_socket = host_path(qemu.qmp_socket);
    if (proxmox_pids.contains(pid)) qemu.manager = "proxmox";
    else if (started_by_libvirt(argv)) qemu.manager = "libvirt";
    else if (std::optional<std::string> domid = xen_domain_served(argv)) {
        // Xen's device model: the guest's RAM is the domain's, not this process's.
        qemu.manager = "xen";
        qemu.name = fmt::format("device model of Xen domain {}", *domid);
    }
    return qemu;
}

std::set<int> proxmox_pids()
{
    std::set<int> pids;
    if (!is_proxmox_node()) return pids;
    for (const ProxmoxVm& vm : running_proxmox_vms())
        if (vm.pid > 0) pids.insert(vm.pid);
    return pids;
}

} // namespace

std::optional<std::string> qmp_socket_on_command_line(const std::vector<std::string>& argv)
{
    std::map<std::string, std::string> chardev_paths; // id -> path of a socket chardev
    std::vector<std::string> control_monitors;        // chardev ids of -mon ...,mode=control
    for (std::size_t i = 1; i < argv.size(); ++i) {
        if (std::optional<std::string> value = qemu_option_value(argv, i, "qmp")) {
            std::vector<std::string> parts = qemu_option_parts(*value);
            if (parts[0].starts_with("unix:")) return parts[0].substr(5);
            if (parts[0] == "unix")
                if (std::optional<std::string> path = qemu_part_value(parts, "path")) return path;
            continue;
        }
        if (std::optional<std::string> value = qemu_option_value(argv, i, "chardev")) {
            std::vector<std::string> parts = qemu_option_parts(*value);
            std::optional<std::string> id = qemu_part_value(parts, "id");
            std::optional<std::string> path = qemu_part_value(parts, "path");
            if (parts[0] == "socket" && id && path) chardev_paths[*id] = *path;
            continue;
        }
        if (std::optional<std::string> value = qemu_option_value(argv, i, "mon")) {
            std::vector<std::string> parts = qemu_option_parts(*value);
            std::optional<std::string> chardev = qemu_part_value(parts, "chardev");
            if (chardev && qemu_part_value(parts, "mode").value_or("readline") == "control")
                control_monitors.push_back(*chardev);
        }
    }
    for (const std::string& id : control_monitors)
        if (auto found = chardev_paths.find(id); found != chardev_paths.end()) return found->second;
    return std::nullopt;
}

std::string guest_name_on_command_line(const std::vector<std::string>& argv)
{
    for (const std::string& value : qemu_option_values(argv, "name")) {
        std::vector<std::string> parts = qemu_option_parts(value);
        if (std::optional<std::string> guest = qemu_part_value(parts, "guest")) return *guest;
        if (parts[0].find('=') == std::string::npos) return parts[0];
    }
    return {};
}

QemuProcess qemu_process(int pid)
{
    if (pid <= 0) fail("--qemu-pid {}: not a process id", pid);
    std::vector<std::string> argv = read_cmdline(pid);
    if (argv.empty() || !is_qemu_binary(argv[0]))
        fail("process {} is not QEMU ({})", pid, argv.empty() ? "no command line" : argv[0]);
    return describe_process(pid, argv, proxmox_pids());
}

namespace {

// Calls `each(pid, argv)` for every QEMU process in /proc (under the host root).
void for_each_qemu_process(const std::function<void(int, const std::vector<std::string>&)>& each)
{
    std::error_code error;
    std::filesystem::directory_iterator it(host_path("/proc"), error), end;
    for (; !error && it != end; it.increment(error)) {
        std::string name = it->path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            name.size() > 9)
            continue;
        int pid = std::stoi(name);
        std::vector<std::string> argv;
        try {
            argv = read_cmdline(pid);
        } catch (const Error&) {
            continue; // gone meanwhile
        }
        if (!argv.empty() && is_qemu_binary(argv[0])) each(pid, argv);
    }
}

} // namespace

std::vector<QemuProcess> unmanaged_qemu_processes()
{
    std::vector<QemuProcess> found;
    std::set<int> owned = proxmox_pids();
    for_each_qemu_process([&](int pid, const std::vector<std::string>& argv) {
        QemuProcess qemu = describe_process(pid, argv, owned);
        if (qemu.manager.empty()) found.push_back(std::move(qemu));
    });
    std::sort(found.begin(), found.end(), [](const QemuProcess& a, const QemuProcess& b) { return a.pid < b.pid; });
    return found;
}

std::vector<int> qemu_pids_with_uuid(std::string_view uuid)
{
    std::vector<int> found;
    if (uuid.empty()) return found;
    for_each_qemu_process([&](int pid, const std::vector<std::string>& argv) {
        for (const std::string& value : qemu_option_values(argv, "uuid")) {
            if (std::equal(value.begin(), value.end(), uuid.begin(), uuid.end(),
                           [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); })) {
                found.push_back(pid);
                return;
            }
        }
    });
    std::sort(found.begin(), found.end());
    return found;
}

namespace {

// The mapping of QEMU process `qemu` that holds its guest RAM: the one
// read-write mapping of exactly the RAM's size, anonymous for -m's own RAM
// and memory-backend-ram, a memfd for memory-backend-memfd, the mem-path's
// file for memory-backend-file.
HostMapping ram_mapping(const QemuProcess& qemu, const CommandLineRam& ram)
{
    constexpr std::uint64_t PAGE = 4096;
    std::uint64_t size = (ram.size + PAGE - 1) & ~(PAGE - 1);
    std::vector<HostMapping> found;
    for (HostMapping& m : read_process_maps(qemu.pid)) {
        if (!m.readable || !m.writable || m.size() != size) continue;
        bool backing = false;
        if (ram.backend_type == "memory-backend-memfd") backing = m.path.starts_with("/memfd:");
        else if (ram.backend_type == "memory-backend-file")
            backing = !ram.mem_path.empty() && (m.path.starts_with(ram.mem_path + "/") || m.path == ram.mem_path ||
                                                m.path.starts_with(ram.mem_path + " "));
        else backing = m.path.empty();
        if (backing) found.push_back(std::move(m));
    }
    if (found.size() != 1)
        fail(
            "QEMU process {} ('{}') has no QMP socket, and {} of its mappings have the size of its RAM ({} bytes, {}): "
            "cannot tell where it keeps guest RAM (give it a QMP socket)",
            qemu.pid, qemu.name, found.size(), ram.size, ram.how);
    return found.front();
}

std::unique_ptr<MemorySource> open_qemu_without_monitor(const QemuProcess& qemu, RamAccessPath path, bool writable)
{
    CommandLineRam ram = ram_layout_on_command_line(qemu.argv);
    HostMapping mapping = ram_mapping(qemu, ram);
    std::vector<LiveRamRegion> layout;
    for (const QemuRamRegion& region : ram.regions) layout.push_back({region, mapping.low + region.offset});
    std::string how = fmt::format("QEMU process {}'s command line: {}", qemu.pid, ram.how);
    diag::note("QEMU process {} ('{}'): no QMP socket; RAM layout from its command line ({}), at host address "
               "{:#x}{}; paused with SIGSTOP, no registers",
               qemu.pid, qemu.name, ram.how, mapping.low, mapping.path.empty() ? "" : " (" + mapping.path + ")");
    return std::make_unique<QemuMemory>(std::make_unique<StopSignalControl>(qemu.pid, qemu.name), std::move(layout),
                                        how, path, writable);
}

} // namespace

std::unique_ptr<MemorySource> open_qemu_process(const QemuProcess& qemu, RamAccessPath path, bool writable)
{
    // Its manager holds the monitor (libvirt for good): name the VM through it.
    if (qemu.manager == "libvirt")
        fail("QEMU process {} is a libvirt domain's ('{}'): name the domain instead", qemu.pid, qemu.name);
    if (qemu.manager == "proxmox")
        fail("QEMU process {} is a Proxmox VM's: name the VM (its name or vmid) instead", qemu.pid);
    if (qemu.manager == "xen")
        fail("QEMU process {} is the {}: name the domain instead (--backend xen)", qemu.pid, qemu.name);
    if (qemu.qmp_socket.empty()) return open_qemu_without_monitor(qemu, path, writable);
    diag::note("QEMU process {} ('{}'): QMP socket {}", qemu.pid, qemu.name, qemu.qmp_socket);
    auto monitor = std::make_unique<QmpSocket>(qemu.qmp_socket, ANSWER_MS, QmpHold::briefly, BUSY_MS);
    monitor->name_qemu_pid(qemu.pid);
    return std::make_unique<QemuMemory>(std::move(monitor), path, writable);
}

} // namespace vmi
