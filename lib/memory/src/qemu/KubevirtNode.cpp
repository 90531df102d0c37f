#include "vmi/memory/KubevirtNode.hpp"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <unistd.h>
#include <vector>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {
namespace {

constexpr std::string_view PODS = "/var/lib/kubelet/pods";
constexpr std::string_view RUNTIME = "volumes/kubernetes.io~empty-dir/libvirt-runtime";

// The socket names a virt-launcher's daemon listens on, and the URI path for each.
struct PodSocket {
    std::string_view file;
    std::string_view uri_path;
};
constexpr PodSocket POD_SOCKETS[] = {{"virtqemud-sock", "/session"}, {"libvirt-sock", "/system"}};

// NAMESPACE_VM -> NAMESPACE/VM: Kubernetes names have no '_', so the first one splits.
std::string display_name(const std::string& domain)
{
    std::size_t split = domain.find('_');
    if (split == std::string::npos || split == 0 || split + 1 == domain.size()) return domain;
    return domain.substr(0, split) + "/" + domain.substr(split + 1);
}

// A UNIX socket path must fit in sockaddr_un's 108 bytes, and a pod's is
// longer (/var/lib/kubelet/pods/UID/volumes/...). Its folder, opened here for
// the rest of the process, makes a short one: /proc/self/fd/N/NAME. It is
// not closed on exec: the virsh that resumes a guest from a signal handler
// or the pause guardian (LibvirtDomain) reaches the socket through it too.
std::string reachable_socket_path(const std::filesystem::path& path)
{
    constexpr std::size_t SUN_PATH_ROOM = 100;
    if (path.string().size() < SUN_PATH_ROOM) return path.string();
    static std::mutex mutex;
    static std::vector<int> folders; // open until the process ends: libvirt may connect again
    int fd = ::open(path.parent_path().c_str(), O_PATH | O_DIRECTORY); // NOLINT(android-cloexec-open): see above
    if (fd < 0) return path.string();                                  // libvirt says why the long path fails
    std::lock_guard lock(mutex);
    folders.push_back(fd);
    return fmt::format("/proc/self/fd/{}/{}", fd, path.filename().string());
}

} // namespace

bool is_kubevirt_node()
{
    std::error_code error;
    return std::filesystem::is_directory(host_path(PODS), error);
}

std::vector<KubevirtVm> running_kubevirt_vms()
{
    std::vector<KubevirtVm> vms;
    std::error_code error;
    std::filesystem::directory_iterator it(host_path(PODS), error), end;
    for (; !error && it != end; it.increment(error)) {
        std::string uid = it->path().filename().string();
        for (const PodSocket& socket : POD_SOCKETS) {
            std::filesystem::path path = it->path() / RUNTIME / socket.file;
            std::error_code missing;
            if (!std::filesystem::is_socket(path, missing)) continue;
            std::string uri = fmt::format("qemu+unix://{}?socket={}", socket.uri_path, reachable_socket_path(path));
            try {
                for (const LibvirtDomainId& domain : running_libvirt_domains(uri))
                    vms.push_back({uid, uri, domain.name, display_name(domain.name), domain.uuid});
            } catch (const Error& e) {
                diag::note("KubeVirt pod {}: {}", uid, e.what());
            }
            break; // one daemon a pod
        }
    }
    std::sort(vms.begin(), vms.end(), [](const KubevirtVm& a, const KubevirtVm& b) { return a.name < b.name; });
    return vms;
}

std::optional<KubevirtVm> find_kubevirt_vm(std::string_view name)
{
    for (KubevirtVm& vm : running_kubevirt_vms())
        if (vm.name == name || vm.domain == name) return std::move(vm);
    return std::nullopt;
}

} // namespace vmi
