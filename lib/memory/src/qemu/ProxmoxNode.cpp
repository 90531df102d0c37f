#include "vmi/memory/ProxmoxNode.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "qemu/QemuMemory.hpp"
#include "qemu/QmpSocket.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/base/NumberParser.hpp"

namespace vmi {
namespace {

constexpr std::string_view RUN_DIR = "/var/run/qemu-server";
constexpr std::string_view CONF_DIR = "/etc/pve/qemu-server";
// Proxmox's vmids are 100 to 999999999.
constexpr std::uint64_t MAX_VMID = 999999999;
// A .conf line longer than this is no "name:" line of Proxmox's.
constexpr std::size_t MAX_LINE = 4096;
// How long to wait for a QMP socket another client holds, and for an answer.
constexpr int BUSY_MS = 5000;
constexpr int ANSWER_MS = 10000;

std::optional<std::uint32_t> parse_vmid(std::string_view text)
{
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    ParsedNumber number = try_parse_u64(std::string(text));
    if (!number.value || *number.value > MAX_VMID) return std::nullopt;
    return static_cast<std::uint32_t>(*number.value);
}

// "name: web01" in the VM's configuration, before its first [snapshot] section.
std::string conf_name(std::uint32_t vmid)
{
    std::ifstream in(host_path(fmt::format("{}/{}.conf", CONF_DIR, vmid)));
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > MAX_LINE) continue;
        if (line.starts_with('[')) break;
        if (!line.starts_with("name:")) continue;
        std::string name = line.substr(5);
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t\r") + 1);
        if (!name.empty()) return name;
    }
    return std::to_string(vmid);
}

int pid_of(std::uint32_t vmid)
{
    std::ifstream in(host_path(fmt::format("{}/{}.pid", RUN_DIR, vmid)));
    std::string text;
    if (!std::getline(in, text)) return 0;
    std::optional<std::uint32_t> pid = parse_vmid(text);
    return pid && *pid > 0 && *pid < (1u << 22) ? static_cast<int>(*pid) : 0;
}

} // namespace

bool is_proxmox_node()
{
    std::error_code error;
    return std::filesystem::is_directory(host_path(RUN_DIR), error);
}

std::vector<ProxmoxVm> running_proxmox_vms()
{
    std::vector<ProxmoxVm> vms;
    std::error_code error;
    std::filesystem::directory_iterator it(host_path(RUN_DIR), error), end;
    for (; !error && it != end; it.increment(error)) {
        const std::filesystem::path& path = it->path();
        if (path.extension() != ".qmp" || !it->is_socket(error)) continue;
        std::optional<std::uint32_t> vmid = parse_vmid(path.stem().string());
        if (!vmid) continue;
        ProxmoxVm vm;
        vm.vmid = *vmid;
        vm.qmp_socket = path.string();
        vm.agent_socket = host_path(fmt::format("{}/{}.qga", RUN_DIR, *vmid));
        vm.pid = pid_of(*vmid);
        // A socket left behind by a QEMU that is gone is no running VM.
        if (vm.pid > 0 && ::kill(vm.pid, 0) != 0 && errno == ESRCH) continue;
        vm.name = conf_name(*vmid);
        vms.push_back(std::move(vm));
    }
    std::sort(vms.begin(), vms.end(), [](const ProxmoxVm& a, const ProxmoxVm& b) { return a.vmid < b.vmid; });
    return vms;
}

std::optional<ProxmoxVm> find_proxmox_vm(std::string_view name_or_vmid)
{
    std::vector<ProxmoxVm> vms = running_proxmox_vms();
    if (std::optional<std::uint32_t> vmid = parse_vmid(name_or_vmid)) {
        for (ProxmoxVm& vm : vms)
            if (vm.vmid == *vmid) return std::move(vm);
    }
    std::vector<ProxmoxVm> named;
    std::copy_if(vms.begin(), vms.end(), std::back_inserter(named),
                 [&](const ProxmoxVm& vm) { return vm.name == name_or_vmid; });
    if (named.size() > 1) {
        std::string ids;
        for (const ProxmoxVm& vm : named) ids += (ids.empty() ? "" : ", ") + std::to_string(vm.vmid);
        fail("{} running Proxmox VMs are named '{}' (vmids {}): name one by its vmid", named.size(), name_or_vmid, ids);
    }
    if (named.empty()) return std::nullopt;
    return std::move(named.front());
}

std::unique_ptr<MemorySource> open_proxmox_guest(const ProxmoxVm& vm, RamAccessPath path, bool writable)
{
    diag::note("Proxmox VM {} ('{}'): QMP socket {}, QEMU pid {}", vm.vmid, vm.name, vm.qmp_socket, vm.pid);
    auto monitor = std::make_unique<QmpSocket>(vm.qmp_socket, ANSWER_MS, QmpHold::briefly, BUSY_MS);
    if (vm.pid > 0) monitor->name_qemu_pid(vm.pid);
    return std::make_unique<QemuMemory>(std::move(monitor), path, writable);
}

} // namespace vmi
